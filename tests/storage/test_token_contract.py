"""The TokenManager contract, run against every manager (memory, SQLite, Redis)."""

from __future__ import annotations

from datetime import timedelta

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


def test_grant_repr_hides_the_token(make_tokens: TokenFactory) -> None:
    tokens = make_tokens()
    grant = tokens.issue("alice", "s")
    assert grant.token not in repr(grant)
    assert SECRET_KEY not in repr(tokens)
