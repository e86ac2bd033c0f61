"""The TokenManager contract, run against every manager (memory, SQLite, Redis)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import FakeClock
from tests.storage.conftest import SECRET_KEY, TokenFactory


def test_issue_then_authenticate(make_tokens: TokenFactory, clock: FakeClock) -> None:
    tokens = make_tokens()
    grant = tokens.issue("alice", "stamp-1")
    assert len(grant.token) >= 40
    assert (grant.userid, grant.stamp, grant.created) == ("alice", "stamp-1", clock.now)
    assert grant.valid_until == pytest.approx(clock.now + 900)
    checked = tokens.authenticate(grant.token)
    assert checked is not None
    assert (checked.token, checked.userid, checked.stamp) == (grant.token, "alice", "stamp-1")


def test_one_current_token_per_user_reused_while_valid(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    first = tokens.issue("alice", "s")
    assert tokens.issue("alice", "s").token == first.token
    assert tokens.issue("bob", "s").token != first.token


def test_new_stamp_replaces_the_token(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    old = tokens.issue("alice", "before")
    new = tokens.issue("alice", "after")
    assert new.token != old.token
    assert tokens.authenticate(old.token) is None
    assert tokens.authenticate(new.token) is not None


def test_sliding_ttl_renews_on_use(make_tokens: TokenFactory, clock: FakeClock) -> None:
    tokens = make_tokens(ttl=100, max_lifetime=10_000)
    token = tokens.issue("alice", "s").token
    for _ in range(5):
        clock.advance(90)
        grant = tokens.authenticate(token)
        assert grant is not None
        assert grant.valid_until == pytest.approx(clock.now + 100)
    clock.advance(100)
    assert tokens.authenticate(token) is None


def test_expired_token_is_not_reissued(make_tokens: TokenFactory, clock: FakeClock) -> None:
    tokens = make_tokens(ttl=100)
    old = tokens.issue("alice", "s").token
    clock.advance(101)
    assert tokens.lookup("alice") is None
    assert tokens.issue("alice", "s").token != old
    assert tokens.authenticate(old) is None


def test_absolute_lifetime_caps_renewal(make_tokens: TokenFactory, clock: FakeClock) -> None:
    tokens = make_tokens(ttl=100, max_lifetime=250)
    grant = tokens.issue("alice", "s")
    clock.advance(90)
    assert tokens.authenticate(grant.token) is not None
    clock.advance(90)
    renewed = tokens.authenticate(grant.token)
    assert renewed is not None
    assert renewed.valid_until == pytest.approx(grant.created + 250)  # not now + ttl
    clock.advance(71)
    assert tokens.authenticate(grant.token) is None
    assert tokens.issue("alice", "s").token != grant.token


def test_lookup_does_not_renew(make_tokens: TokenFactory, clock: FakeClock) -> None:
    tokens = make_tokens(ttl=100)
    grant = tokens.issue("alice", "s")
    clock.advance(60)
    looked = tokens.lookup("alice")
    assert looked is not None
    assert looked.token == grant.token
    assert looked.valid_until == pytest.approx(grant.valid_until)
    clock.advance(41)
    assert tokens.authenticate(grant.token) is None
    assert tokens.lookup("nobody") is None


def test_revoke(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    grant = tokens.issue("alice", "s")
    other = tokens.issue("bob", "s")
    assert tokens.revoke("alice") is True
    assert tokens.revoke("alice") is False
    assert tokens.authenticate(grant.token) is None
    assert tokens.lookup("alice") is None
    assert tokens.authenticate(other.token) is not None


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # MAC altered
        lambda t: "x" + t[1:] if t[0] != "x" else "y" + t[1:],  # id altered
        lambda t: t.split(".")[0],  # id alone (what a store dump shows)
        lambda t: t + ".extra",
        lambda t: "",
        lambda t: "é" + t,
        lambda t: "." + t.split(".")[1],
    ],
)
def test_forged_tokens_are_refused(make_tokens: TokenFactory, mangle: object) -> None:
    tokens = make_tokens()
    token = tokens.issue("alice", "s").token
    assert callable(mangle)
    assert tokens.authenticate(mangle(token)) is None


def test_timedelta_durations(make_tokens: TokenFactory, clock: FakeClock) -> None:
    tokens = make_tokens(ttl=timedelta(minutes=2), max_lifetime=timedelta(hours=1))
    assert (tokens.ttl, tokens.max_lifetime) == (120.0, 3600.0)
    token = tokens.issue("alice", "s").token
    clock.advance(119)
    assert tokens.authenticate(token) is not None


@pytest.mark.parametrize("ttl", [0, -1, "900", None, 1e300, 11 * 366 * 86400])
def test_bad_ttl_is_refused(make_tokens: TokenFactory, ttl: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        make_tokens(ttl=ttl)


def test_nodes_share_tokens(make_tokens: TokenFactory, clock: FakeClock) -> None:
    node_a, node_b = make_tokens(ttl=100), make_tokens(ttl=100)
    token = node_a.issue("alice", "s").token
    assert node_b.authenticate(token) is not None
    assert node_b.issue("alice", "s").token == token
    clock.advance(90)
    assert node_b.authenticate(token) is not None  # renewal on B...
    clock.advance(90)
    assert node_a.authenticate(token) is not None  # ...extends it for A
    assert node_a.revoke("alice")
    assert node_b.authenticate(token) is None


def test_userids_with_unicode_and_spaces(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    for userid in ["zoë", "J. Random User", "用户"]:
        grant = tokens.issue(userid, "s")
        checked = tokens.authenticate(grant.token)
        assert checked is not None
        assert checked.userid == userid
        assert tokens.lookup(userid) is not None
        assert tokens.revoke(userid)


def test_stamps_and_userids_come_back_exactly(make_tokens: TokenFactory) -> None:
    """Spaces, digits and non-ASCII in either, as a custom user store may produce them."""
    tokens = make_tokens()
    for userid, stamp in [("J. Random 2", "a b ü 3"), ("用户 ", " 1.5 "), ("x", "")]:
        grant = tokens.issue(userid, stamp)
        checked = tokens.authenticate(grant.token)
        assert checked is not None
        assert (checked.userid, checked.stamp) == (userid, stamp)


def test_grant_repr_hides_the_token(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    grant = tokens.issue("alice", "s")
    assert grant.token not in repr(grant)
    assert SECRET_KEY not in repr(tokens)


# Coarse renewal (issue 16 item 7): a use writes a new idle deadline only when it would move
# by more than renewal_step(ttl) = max(1 % of ttl, 1 s); the grant reports what is stored.


@pytest.fixture
def write_probe(token_backend: str) -> Callable[[Any, str], Callable[[], bool]]:
    """``probe(manager, token)`` starts watching the token's record in its store; the
    function it returns says whether anything wrote to that record since."""

    def probe(manager: Any, token: str) -> Callable[[], bool]:
        if token_backend == "redis":
            return _redis_probe(manager, token)
        if token_backend == "sqlite":
            connection = manager.database.connection()
            before = connection.total_changes  # rows inserted, updated or deleted
            return lambda: bool(manager.database.connection().total_changes - before)
        grant = manager.lookup(manager.authenticate(token).userid)  # memory: the record itself
        return lambda: bool(manager.lookup(grant.userid).valid_until != grant.valid_until)

    return probe


def _redis_probe(manager: Any, token: str) -> Callable[[], bool]:
    """WATCH the token's key: any command that writes it (HSET, PEXPIRE, even of the same
    value) makes the transaction fail. Its TTL must not grow either."""
    import redis

    key = manager.prefix + "token:" + token.partition(".")[0]
    watcher = manager.client.pipeline()
    watcher.watch(key)
    stored = manager.client.hget(key, "deadline")
    pttl = manager.client.pttl(key)

    def wrote() -> bool:
        try:
            watcher.multi()
            watcher.exists(key)
            watcher.execute()
        except redis.WatchError:
            return True
        finally:
            watcher.reset()
        assert manager.client.hget(key, "deadline") == stored
        assert 0 < manager.client.pttl(key) <= pttl
        return False

    return wrote


def test_a_use_within_the_renewal_step_writes_nothing(
    make_tokens: TokenFactory, clock: FakeClock, write_probe: Any
) -> None:
    tokens = make_tokens(ttl=900, max_lifetime=10_000)  # step: 9 s
    issued = tokens.issue("alice", "s")
    stored = issued.valid_until
    wrote = write_probe(tokens, issued.token)
    for _ in range(3):
        clock.advance(2.5)  # 7.5 s in all: the deadline would move by 7.5 s < 9 s
        grant = tokens.authenticate(issued.token)
        assert grant is not None
        assert grant.valid_until == stored  # what is stored, not now + ttl
    again = tokens.issue("alice", "s")  # a login reusing the token renews by the same rule
    assert (again.token, again.valid_until) == (issued.token, stored)
    assert not wrote()
    looked = tokens.lookup("alice")
    assert looked is not None
    assert looked.valid_until == stored


def test_a_use_past_the_renewal_step_renews(
    make_tokens: TokenFactory, clock: FakeClock, write_probe: Any
) -> None:
    tokens = make_tokens(ttl=900, max_lifetime=10_000)
    issued = tokens.issue("alice", "s")
    wrote = write_probe(tokens, issued.token)
    clock.advance(9.5)
    grant = tokens.authenticate(issued.token)
    assert grant is not None
    assert grant.valid_until == pytest.approx(clock.now + 900)
    assert wrote()
    looked = tokens.lookup("alice")
    assert looked is not None
    assert looked.valid_until == grant.valid_until  # reported = stored
    clock.advance(9.5)
    again = tokens.issue("alice", "s")
    assert again.token == issued.token
    assert again.valid_until == pytest.approx(clock.now + 900)


def test_the_renewal_step_is_at_least_one_second(
    make_tokens: TokenFactory, clock: FakeClock
) -> None:
    tokens = make_tokens(ttl=50, max_lifetime=10_000)  # 1 % would be 0.5 s
    issued = tokens.issue("alice", "s")
    clock.advance(0.9)
    kept = tokens.authenticate(issued.token)
    assert kept is not None
    assert kept.valid_until == issued.valid_until
    clock.advance(0.2)
    renewed = tokens.authenticate(issued.token)
    assert renewed is not None
    assert renewed.valid_until == pytest.approx(clock.now + 50)


def test_frequent_uses_keep_a_token_alive_within_a_step_of_the_ttl(
    make_tokens: TokenFactory, clock: FakeClock
) -> None:
    tokens = make_tokens(ttl=100, max_lifetime=10_000)  # step: 1 s
    token = tokens.issue("alice", "s").token
    for _ in range(300):  # 150 s of uses every 0.5 s: longer than the ttl
        clock.advance(0.5)
        grant = tokens.authenticate(token)
        assert grant is not None
        assert clock.now + 99 <= grant.valid_until <= clock.now + 100
    clock.advance(100)
    assert tokens.authenticate(token) is None


def test_revocation_is_immediate_when_no_renewal_is_due(
    make_tokens: TokenFactory, clock: FakeClock
) -> None:
    node_a, node_b = make_tokens(ttl=900), make_tokens(ttl=900)
    token = node_a.issue("alice", "s").token
    clock.advance(1)
    assert node_b.authenticate(token) is not None  # a read only
    assert node_a.revoke("alice")
    assert node_b.authenticate(token) is None
    assert node_a.authenticate(token) is None


def test_max_lifetime_holds_when_renewals_are_skipped(
    make_tokens: TokenFactory, clock: FakeClock
) -> None:
    tokens = make_tokens(ttl=1000, max_lifetime=1005)  # step: 10 s
    issued = tokens.issue("alice", "s")
    hard = issued.created + 1005
    clock.advance(5)
    kept = tokens.authenticate(issued.token)
    assert kept is not None
    assert kept.valid_until == issued.valid_until == issued.created + 1000
    clock.advance(990)  # renewed: its idle deadline passes the cap, which is reported
    capped = tokens.authenticate(issued.token)
    assert capped is not None
    assert capped.valid_until == pytest.approx(hard)
    clock.advance(9.9)  # within the step: no write, still capped
    kept = tokens.authenticate(issued.token)
    assert kept is not None
    assert kept.valid_until == pytest.approx(hard)
    clock.advance(0.2)
    assert tokens.authenticate(issued.token) is None
