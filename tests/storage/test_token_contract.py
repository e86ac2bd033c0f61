"""The TokenManager contract of the managers that keep their tokens (memory, SQLite,
Redis, PostgreSQL): expiry, coarse renewal, forgery, the basic session. Sessions are in
test_session_contract.py (every manager, JWT included)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from restauth.tokens.base import TokenGrant
from tests.conftest import FakeClock
from tests.storage.conftest import SECRET_KEY, STORED_TOKEN_BACKENDS, TokenFactory

pytestmark = pytest.mark.parametrize("token_backend", STORED_TOKEN_BACKENDS, indirect=True)


def refused(tokens: Any, token: str) -> bool:
    """The token does not let anybody in (unknown, or known but its session is over)."""
    return not isinstance(tokens.authenticate(token), TokenGrant)


def basic(tokens: Any, userid: str = "alice", stamp: str = "s") -> Any:
    """The user's basic session: the one token a manager hands out again."""
    return tokens.issue(userid, stamp, kind="basic")


def stored_valid_until(tokens: Any, userid: str = "alice") -> float:
    (session,) = tokens.sessions(userid)
    return float(session.valid_until)


def test_issue_then_authenticate(make_tokens: TokenFactory, clock: FakeClock) -> None:
    tokens = make_tokens()
    grant = tokens.issue("alice", "stamp-1")
    assert len(grant.token) >= 40
    assert (grant.userid, grant.stamp, grant.created) == ("alice", "stamp-1", clock.now)
    assert grant.valid_until == pytest.approx(clock.now + 900)
    checked = tokens.authenticate(grant.token)
    assert checked is not None
    assert (checked.token, checked.userid, checked.stamp) == (grant.token, "alice", "stamp-1")


def test_the_basic_session_token_is_reused_while_valid(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    first = basic(tokens)
    assert basic(tokens).token == first.token
    assert basic(tokens, "bob").token != first.token
    assert tokens.issue("alice", "s").token != first.token  # a login: a session of its own


def test_new_stamp_replaces_the_token(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    old = basic(tokens, "alice", "before")
    new = basic(tokens, "alice", "after")
    assert new.token != old.token
    assert refused(tokens, old.token)
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
    assert refused(tokens, token)


def test_expired_token_is_not_reissued(make_tokens: TokenFactory, clock: FakeClock) -> None:
    tokens = make_tokens(ttl=100)
    old = basic(tokens).token
    clock.advance(101)
    assert tokens.sessions("alice") == []
    assert basic(tokens).token != old
    assert refused(tokens, old)


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
    assert refused(tokens, grant.token)
    assert basic(tokens).token != grant.token


def test_listing_sessions_does_not_renew(make_tokens: TokenFactory, clock: FakeClock) -> None:
    tokens = make_tokens(ttl=100)
    grant = tokens.issue("alice", "s")
    clock.advance(60)
    (listed,) = tokens.sessions("alice")
    assert listed.id == grant.session
    assert listed.valid_until == pytest.approx(grant.valid_until)
    clock.advance(41)
    assert refused(tokens, grant.token)
    assert tokens.sessions("nobody") == []


def test_revoke(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    grant = tokens.issue("alice", "s")
    other = tokens.issue("bob", "s")
    assert tokens.revoke("alice") == 1
    assert tokens.revoke("alice") == 0
    assert refused(tokens, grant.token)
    assert tokens.sessions("alice") == []
    assert isinstance(tokens.authenticate(other.token), TokenGrant)


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
    token = basic(node_a).token
    assert node_b.authenticate(token) is not None
    assert basic(node_b).token == token
    clock.advance(90)
    assert node_b.authenticate(token) is not None  # renewal on B...
    clock.advance(90)
    assert node_a.authenticate(token) is not None  # ...extends it for A
    assert node_a.revoke("alice")
    assert refused(node_b, token)


def test_userids_with_unicode_and_spaces(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    for userid in ["zoë", "J. Random User", "用户"]:
        grant = tokens.issue(userid, "s")
        checked = tokens.authenticate(grant.token)
        assert checked is not None
        assert checked.userid == userid
        assert [s.id for s in tokens.sessions(userid)] == [grant.session]
        assert tokens.revoke(userid) == 1


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
        if token_backend == "postgres":
            return _postgres_probe(manager, token)
        before = stored_valid_until(manager)  # memory: the record itself
        return lambda: stored_valid_until(manager) != before

    return probe


def _postgres_probe(manager: Any, token: str) -> Callable[[], bool]:
    """The row's ``xmin``: any UPDATE of it (even to the same values) makes a new version."""
    import psycopg

    token_id = token.partition(".")[0]

    def version() -> object:
        with psycopg.connect(manager.dsn) as connection:
            row = connection.execute(
                "SELECT xmin::text FROM restauth_tokens WHERE token_id = %s", (token_id,)
            ).fetchone()
        assert row is not None
        return row[0]

    before = version()
    return lambda: version() != before


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
    issued = basic(tokens)
    stored = issued.valid_until
    wrote = write_probe(tokens, issued.token)
    for _ in range(3):
        clock.advance(2.5)  # 7.5 s in all: the deadline would move by 7.5 s < 9 s
        grant = tokens.authenticate(issued.token)
        assert grant is not None
        assert grant.valid_until == stored  # what is stored, not now + ttl
    again = basic(tokens)  # a Basic request reusing the token renews by the same rule
    assert (again.token, again.valid_until) == (issued.token, stored)
    assert not wrote()
    assert stored_valid_until(tokens) == stored


def test_a_use_past_the_renewal_step_renews(
    make_tokens: TokenFactory, clock: FakeClock, write_probe: Any
) -> None:
    tokens = make_tokens(ttl=900, max_lifetime=10_000)
    issued = basic(tokens)
    wrote = write_probe(tokens, issued.token)
    clock.advance(9.5)
    grant = tokens.authenticate(issued.token)
    assert grant is not None
    assert grant.valid_until == pytest.approx(clock.now + 900)
    assert wrote()
    assert stored_valid_until(tokens) == pytest.approx(grant.valid_until)  # reported = stored
    clock.advance(9.5)
    again = basic(tokens)
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
    assert refused(tokens, token)


def test_revocation_is_immediate_when_no_renewal_is_due(
    make_tokens: TokenFactory, clock: FakeClock
) -> None:
    node_a, node_b = make_tokens(ttl=900), make_tokens(ttl=900)
    token = node_a.issue("alice", "s").token
    clock.advance(1)
    assert node_b.authenticate(token) is not None  # a read only
    assert node_a.revoke("alice")
    assert refused(node_b, token)
    assert refused(node_a, token)


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
    assert refused(tokens, issued.token)
