"""Sessions (issue 17): a token per login, listed, ended one by one or all at once,
rotated, capped, service tokens; run against every token manager, two "nodes" sharing a
store where the store can be shared."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from restauth.tokens.base import DeadToken, Session, TokenGrant
from tests.conftest import FakeClock
from tests.storage.conftest import TOKEN_BACKENDS, TokenFactory


def live(tokens: Any, token: str) -> TokenGrant:
    grant = tokens.authenticate(token)
    assert isinstance(grant, TokenGrant), grant
    return grant


def dead(tokens: Any, token: str, reason: str) -> DeadToken:
    verdict = tokens.authenticate(token)
    assert isinstance(verdict, DeadToken), verdict
    assert verdict.reason == reason
    return verdict


def ids(sessions: list[Session]) -> list[str]:
    return [session.id for session in sessions]


def test_two_logins_are_two_sessions_with_two_tokens(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    laptop = tokens.issue("alice", "s", client="laptop")
    phone = tokens.issue("alice", "s", client="phone")
    assert laptop.token != phone.token
    assert laptop.session != phone.session
    assert laptop.session not in laptop.token
    assert laptop.token not in laptop.session
    assert live(tokens, laptop.token).session == laptop.session
    assert live(tokens, phone.token).session == phone.session
    listed = tokens.sessions("alice")
    assert ids(listed) == [laptop.session, phone.session]  # oldest first
    assert [s.client for s in listed] == ["laptop", "phone"]
    assert {s.kind for s in listed} == {"login"}
    assert tokens.sessions("bob") == []


def test_ending_one_session_leaves_the_other(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    laptop = tokens.issue("alice", "s")
    phone = tokens.issue("alice", "s")
    assert tokens.end("alice", laptop.session) is True
    assert tokens.end("alice", laptop.session) is False
    verdict = dead(tokens, laptop.token, "ended")
    assert (verdict.userid, verdict.session) == ("alice", laptop.session)
    assert live(tokens, phone.token).session == phone.session
    assert ids(tokens.sessions("alice")) == [phone.session]  # gone from the list at once


def test_a_session_is_ended_only_by_its_own_user(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    grant = tokens.issue("alice", "s")
    assert tokens.end("bob", grant.session) is False
    assert tokens.end("alice", "no-such-session") is False
    live(tokens, grant.token)


def test_log_out_everywhere_ends_every_session(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    laptop = tokens.issue("alice", "s")
    phone = tokens.issue("alice", "s")
    basic = tokens.issue("alice", "s", kind="basic")
    service = tokens.issue("alice", "s", kind="service", client="ci", lifetime=86400)
    bob = tokens.issue("bob", "s")
    assert tokens.revoke("alice") == 4
    for grant in (laptop, phone, basic, service):
        assert not isinstance(tokens.authenticate(grant.token), TokenGrant)
    assert tokens.sessions("alice") == []
    assert tokens.revoke("alice") == 0
    live(tokens, bob.token)
    again = tokens.issue("alice", "s")  # a login after it works
    live(tokens, again.token)


def test_the_cap_ends_the_oldest_session(make_tokens: TokenFactory, clock: FakeClock) -> None:
    tokens = make_tokens(max_sessions=3)
    assert tokens.max_sessions == 3
    service = tokens.issue("alice", "s", kind="service", lifetime=86400)
    grants = []
    for _ in range(4):
        clock.advance(1)
        grants.append(tokens.issue("alice", "s"))
    assert not isinstance(tokens.authenticate(grants[0].token), TokenGrant)
    for grant in grants[1:]:
        live(tokens, grant.token)
    live(tokens, service.token)  # service tokens are not counted
    listed = tokens.sessions("alice")
    assert ids(listed) == [service.session] + [g.session for g in grants[1:]]


def test_the_basic_session_is_reused(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    first = tokens.issue("alice", "s", kind="basic")
    again = tokens.issue("alice", "s", kind="basic")
    assert again.session == first.session
    login = tokens.issue("alice", "s")
    assert login.session != first.session
    assert live(tokens, again.token).session == first.session
    kinds = {s.id: s.kind for s in tokens.sessions("alice")}
    assert kinds == {first.session: "basic", login.session: "login"}
    assert tokens.issue("bob", "s", kind="basic").session != first.session


def test_a_new_stamp_starts_a_new_basic_session(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    old = tokens.issue("alice", "before", kind="basic")
    new = tokens.issue("alice", "after", kind="basic")
    assert new.session != old.session
    assert live(tokens, new.token).stamp == "after"


def test_an_expired_basic_session_is_replaced(make_tokens: TokenFactory, clock: FakeClock) -> None:
    tokens = make_tokens(ttl=100)
    old = tokens.issue("alice", "s", kind="basic")
    clock.advance(101)
    new = tokens.issue("alice", "s", kind="basic")
    assert new.session != old.session
    verdict = dead(tokens, old.token, "expired")
    assert verdict.userid == "alice"


def test_renew_rotates_the_token_of_the_same_session(
    make_tokens: TokenFactory, clock: FakeClock
) -> None:
    tokens = make_tokens(ttl=100, max_lifetime=1000)
    grant = tokens.issue("alice", "s", client="phone")
    other = tokens.issue("alice", "s")
    clock.advance(50)
    renewed = tokens.renew(grant.token)
    assert isinstance(renewed, TokenGrant)
    assert renewed.token != grant.token
    assert (renewed.session, renewed.userid, renewed.stamp) == (grant.session, "alice", "s")
    assert renewed.created == pytest.approx(grant.created)
    assert renewed.valid_until == pytest.approx(clock.now + 100)
    dead(tokens, grant.token, "ended")
    assert live(tokens, renewed.token).session == grant.session
    live(tokens, other.token)
    listed = {s.id: s for s in tokens.sessions("alice")}
    assert set(listed) == {grant.session, other.session}  # still one session, not two
    assert listed[grant.session].client == "phone"
    assert tokens.renew(grant.token) is None  # the old token cannot rotate again
    clock.advance(950)  # past the session's absolute lifetime: rotation never extends it
    assert not isinstance(tokens.authenticate(renewed.token), TokenGrant)
    assert tokens.renew(renewed.token) is None


def test_renew_refuses_what_is_not_live(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    grant = tokens.issue("alice", "s")
    assert tokens.renew(grant.token[:-2] + "xx") is None
    assert tokens.renew("nonsense") is None
    tokens.end("alice", grant.session)
    assert tokens.renew(grant.token) is None


def test_a_service_token_has_its_own_lifetime(make_tokens: TokenFactory, clock: FakeClock) -> None:
    tokens = make_tokens(ttl=100, max_lifetime=1000)
    service = tokens.issue("ci-bot", "s", kind="service", client="ci", lifetime=30 * 86400)
    assert service.valid_until == pytest.approx(clock.now + 30 * 86400)
    clock.advance(20 * 86400)  # long past the managers' own ttl and max_lifetime
    assert live(tokens, service.token).userid == "ci-bot"
    (listed,) = tokens.sessions("ci-bot")
    assert (listed.kind, listed.client) == ("service", "ci")
    clock.advance(10 * 86400)
    assert not isinstance(tokens.authenticate(service.token), TokenGrant)
    assert tokens.sessions("ci-bot") == []


def test_a_service_token_is_ended_like_any_session(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    service = tokens.issue("alice", "s", kind="service", lifetime=86400)
    assert tokens.end("alice", service.session) is True
    dead(tokens, service.token, "ended")


def test_the_session_list_describes_each_session(
    make_tokens: TokenFactory, clock: FakeClock
) -> None:
    tokens = make_tokens(ttl=100, max_lifetime=1000)
    start = clock.now
    grant = tokens.issue("alice", "s", client="curl/8.5.0\x00\x1b[31m\n" + "x" * 500)
    clock.advance(60)
    live(tokens, grant.token)  # renewed: past the 1 s step, and past a JWT's half-life
    (session,) = tokens.sessions("alice")
    assert session.id == grant.session
    assert session.userid == "alice"
    assert session.created == pytest.approx(start)
    assert session.last_used == pytest.approx(start + 60, abs=1.0)
    assert session.valid_until == pytest.approx(start + 160, abs=1.0)
    assert session.client.startswith("curl/8.5.0[31m")
    assert not any(ch < " " for ch in session.client)
    assert 100 <= len(session.client) <= 120
    assert grant.token not in repr(session)


def test_expired_sessions_leave_the_list(make_tokens: TokenFactory, clock: FakeClock) -> None:
    tokens = make_tokens(ttl=100)
    old = tokens.issue("alice", "s")
    clock.advance(60)
    young = tokens.issue("alice", "s")
    clock.advance(50)
    assert ids(tokens.sessions("alice")) == [young.session]
    dead(tokens, old.token, "expired")


def test_nodes_see_each_others_sessions(make_tokens: TokenFactory, clock: FakeClock) -> None:
    node_a, node_b = make_tokens(), make_tokens()
    laptop = node_a.issue("alice", "s")
    phone = node_b.issue("alice", "s")
    assert live(node_b, laptop.token).session == laptop.session
    assert set(ids(node_a.sessions("alice"))) == {laptop.session, phone.session}
    assert node_b.end("alice", laptop.session)
    assert not isinstance(node_a.authenticate(laptop.token), TokenGrant)
    live(node_a, phone.token)
    renewed = node_a.renew(phone.token)
    assert renewed is not None
    assert not isinstance(node_b.authenticate(phone.token), TokenGrant)
    live(node_b, renewed.token)
    basic = node_a.issue("alice", "s", kind="basic")
    assert node_b.issue("alice", "s", kind="basic").session == basic.session
    assert node_b.revoke("alice") == 2
    for grant in (renewed, basic):
        assert not isinstance(node_a.authenticate(grant.token), TokenGrant)


def test_eight_threads_lose_and_resurrect_no_session(make_tokens: TokenFactory) -> None:
    """8 threads log in and out at once: every session kept is listed and works, every
    session ended stays ended, whatever the interleaving."""
    node_a, node_b = make_tokens(max_sessions=1000), make_tokens(max_sessions=1000)
    kept: list[TokenGrant] = []
    ended: list[TokenGrant] = []
    failures: list[BaseException] = []
    guard = threading.Lock()

    def work(number: int) -> None:
        tokens = node_a if number % 2 else node_b
        try:
            for round_ in range(12):
                grant = tokens.issue("alice", "s", client=f"thread {number}")
                assert isinstance(tokens.authenticate(grant.token), TokenGrant)
                if round_ % 3 == 0:
                    with guard:
                        kept.append(grant)
                    continue
                assert tokens.end("alice", grant.session) is True
                with guard:
                    ended.append(grant)
                assert not isinstance(tokens.authenticate(grant.token), TokenGrant)
        except BaseException as error:  # reported below, with the thread's number
            failures.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert len(kept) == 32
    assert len(ended) == 64
    assert set(ids(node_a.sessions("alice"))) == {g.session for g in kept}
    for grant in kept:
        live(node_b, grant.token)
    for grant in ended:
        assert not isinstance(node_a.authenticate(grant.token), TokenGrant)
    assert node_a.revoke("alice") == 32
    assert node_b.sessions("alice") == []


@pytest.mark.parametrize(
    "token_backend", [b for b in TOKEN_BACKENDS if b != "memory"], indirect=True
)
def test_a_node_whose_clock_runs_behind_revives_no_session_out_of_reach(
    make_tokens: TokenFactory, clock: FakeClock
) -> None:
    """Node A, whose clock is 2 s ahead of B's, sees the laptop's session expire and starts
    another; B still sees the laptop's token alive and renews it. Whatever B answers, the
    token must stay within reach of a logout: log out everywhere ends it."""
    node_a = make_tokens(ttl=100)
    node_b = make_tokens(ttl=100, clock=lambda: clock.now - 2)
    laptop = node_a.issue("alice", "s")
    clock.advance(101)  # A: expired 1 s ago; B: 1 s left
    node_a.issue("alice", "s")  # the login that finds the laptop's session expired
    verdict = node_b.authenticate(laptop.token)
    if isinstance(verdict, TokenGrant):  # alive for B: then listed, and ended by a logout
        assert laptop.session in ids(node_b.sessions("alice"))
    node_a.revoke("alice")
    assert not isinstance(node_b.authenticate(laptop.token), TokenGrant)
    assert not isinstance(node_a.authenticate(laptop.token), TokenGrant)


def test_eight_threads_at_the_cap_leave_only_listed_sessions_alive(
    make_tokens: TokenFactory,
) -> None:
    """8 threads on two nodes log in and rotate under a cap of 3: at most 3 sessions stay,
    and exactly the listed ones still work (none evicted yet alive, none alive unlisted)."""
    node_a, node_b = make_tokens(max_sessions=3), make_tokens(max_sessions=3)
    issued: list[TokenGrant] = []
    failures: list[BaseException] = []
    guard = threading.Lock()

    def work(number: int) -> None:
        tokens = node_a if number % 2 else node_b
        try:
            for round_ in range(8):
                grant = tokens.issue("alice", "s", client=f"thread {number}")
                if round_ % 2:
                    renewed = tokens.renew(grant.token)  # None if the cap ended it meanwhile
                    grant = renewed if renewed is not None else grant
                with guard:
                    issued.append(grant)
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    listed = set(ids(node_a.sessions("alice")))
    assert 1 <= len(listed) <= 3
    alive = {g.session for g in issued if isinstance(node_b.authenticate(g.token), TokenGrant)}
    assert alive == listed
