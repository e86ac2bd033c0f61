"""JWT sessions across nodes: ending one session by id, rotation, re-signing within a
session, the cost of keeping the session records, and CachedRevocation's bound."""

from __future__ import annotations

import json
import threading
import uuid
from base64 import urlsafe_b64decode
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest

from restauth.tokens.base import DeadToken, TokenGrant
from restauth.tokens.jwt import TOKEN_TYPE, JWTKey, JWTTokenManager
from restauth.tokens.revocation import (
    ENDED,
    CachedRevocation,
    MemoryRevocation,
    RedisRevocation,
    RevocationStore,
    SessionRecord,
    SQLiteRevocation,
)
from tests.conftest import FakeClock
from tests.jwt.conftest import HS_SECRET
from tests.services import redis_url

TTL, MAX_LIFETIME = 100.0, 1000.0
Nodes = tuple[JWTTokenManager, JWTTokenManager]


def manager(clock: FakeClock, revocation: RevocationStore, **options: Any) -> JWTTokenManager:
    return JWTTokenManager(
        JWTKey(HS_SECRET), ttl=TTL, max_lifetime=MAX_LIFETIME, clock=clock,
        revocation=revocation, **options,
    )  # fmt: skip


@pytest.fixture
def nodes(clock: FakeClock, make_revocation: Callable[[], RevocationStore]) -> Nodes:
    """Two managers sharing one store of each backend (memory, SQLite, Redis)."""
    return manager(clock, make_revocation()), manager(clock, make_revocation())


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def live(verdict: TokenGrant | DeadToken | None) -> TokenGrant:
    assert isinstance(verdict, TokenGrant), verdict
    return verdict


def dead(verdict: TokenGrant | DeadToken | None, reason: str) -> DeadToken:
    assert isinstance(verdict, DeadToken), verdict
    assert verdict.reason == reason
    return verdict


def test_ending_one_session_on_one_node_ends_it_on_the_other_at_once(nodes: Nodes) -> None:
    a, b = nodes
    laptop, phone = a.issue("alice", "s", client="laptop"), b.issue("alice", "s", client="phone")
    assert b.end("alice", laptop.session) is True
    verdict = dead(a.authenticate(laptop.token), "ended")
    assert (verdict.userid, verdict.session) == ("alice", laptop.session)
    assert live(a.authenticate(phone.token)).session == phone.session
    assert [s.client for s in a.sessions("alice")] == ["phone"]
    assert a.renew(laptop.token) is None


def test_a_rotation_on_one_node_ends_the_old_token_on_the_other(
    nodes: Nodes, clock: FakeClock
) -> None:
    a, b = nodes
    grant = a.issue("alice", "s")
    clock.advance(10)
    renewed = b.renew(grant.token)
    assert renewed is not None
    assert (claims_of(renewed.token)["sid"], claims_of(renewed.token)["gen"]) == (
        grant.session,
        1,
    )
    dead(a.authenticate(grant.token), "ended")
    assert live(a.authenticate(renewed.token)).session == grant.session
    clock.advance(TTL / 2)  # re-signed past half its idle life: same session, same generation
    slid = live(a.authenticate(renewed.token))
    assert slid.token != renewed.token
    assert (claims_of(slid.token)["sid"], claims_of(slid.token)["gen"]) == (grant.session, 1)
    live(b.authenticate(slid.token))
    assert b.renew(renewed.token) is not None  # generation 1 may still rotate once
    dead(b.authenticate(slid.token), "ended")  # which ends every token of generation 1


def test_of_two_renewals_of_one_token_one_wins(nodes: Nodes) -> None:
    a, b = nodes
    grant = a.issue("alice", "s")
    results: list[TokenGrant | None] = []
    barrier = threading.Barrier(8)

    def renew(node: JWTTokenManager) -> None:
        barrier.wait()
        results.append(node.renew(grant.token))

    threads = [threading.Thread(target=renew, args=(a if n % 2 else b,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    assert live(b.authenticate(winners[0].token)).session == grant.session


def test_log_out_everywhere_reaches_every_node(nodes: Nodes) -> None:
    a, b = nodes
    grants = [a.issue("alice", "s"), b.issue("alice", "s", kind="basic")]
    grants.append(a.issue("alice", "s", kind="service", lifetime=5 * MAX_LIFETIME))
    bob = b.issue("bob", "s")
    assert b.revoke("alice") == 3
    for grant in grants:
        dead(a.authenticate(grant.token), "ended")
    live(a.authenticate(bob.token))
    assert a.sessions("alice") == []


def test_the_basic_session_and_the_cap_hold_across_nodes(nodes: Nodes) -> None:
    a, b = nodes
    basic = a.issue("alice", "s", kind="basic")
    again = b.issue("alice", "s", kind="basic")
    assert again.session == basic.session
    assert again.token != basic.token  # a fresh JWT of the same session
    live(a.authenticate(again.token))
    capped = manager(a.clock, a.revocation, max_sessions=2)  # type: ignore[arg-type]
    first = capped.issue("alice", "s")
    live(b.authenticate(basic.token))  # two sessions: within the cap
    second = capped.issue("alice", "s")
    dead(b.authenticate(basic.token), "ended")  # the oldest counted session
    dead(b.authenticate(again.token), "ended")
    assert [s.id for s in b.sessions("alice")] == [first.session, second.session]


def test_a_service_token_keeps_its_lifetime_through_key_rotation(
    clock: FakeClock, make_revocation: Callable[[], RevocationStore]
) -> None:
    old_key, new_key = JWTKey(HS_SECRET), JWTKey(HS_SECRET + "-next-one")
    store = make_revocation()
    old = JWTTokenManager(
        old_key, ttl=TTL, max_lifetime=MAX_LIFETIME, clock=clock, revocation=store
    )
    service = old.issue("ci", "s", kind="service", client="ci", lifetime=30 * 86400)
    assert service.valid_until == clock.now + 30 * 86400
    new = JWTTokenManager(
        new_key, old_keys=[old_key], ttl=TTL, max_lifetime=MAX_LIFETIME, clock=clock,
        revocation=store,
    )  # fmt: skip
    clock.advance(86400)
    moved = live(new.authenticate(service.token))
    assert moved.token != service.token  # re-signed under the new key...
    assert moved.valid_until == service.valid_until  # ...never shortened
    assert claims_of(moved.token)["exp"] == claims_of(service.token)["max_exp"]


def test_a_bad_signature_is_never_a_dead_token(nodes: Nodes) -> None:
    """A DeadToken names a user and a session: only a token we signed may do that."""
    a, _ = nodes
    grant = a.issue("alice", "s")
    a.end("alice", grant.session)
    dead(a.authenticate(grant.token), "ended")
    claims = claims_of(grant.token)
    forged = jwt.encode(
        claims, "another-secret-0123456789abcdef-xyz", headers={"kid": a.key.kid, "typ": TOKEN_TYPE}
    )
    assert a.authenticate(forged) is None
    assert a.authenticate(grant.token[:-3] + "AAA") is None


class CountingStore(MemoryRevocation):
    """A memory store that counts the writes a re-sign makes."""

    def __init__(self) -> None:
        super().__init__()
        self.touches = 0

    def touch(self, session: SessionRecord, now: float) -> bool:
        self.touches += 1
        return super().touch(session, now)


def test_re_signing_writes_the_record_at_most_once_per_half_ttl(clock: FakeClock) -> None:
    """A client that keeps presenting an old token is re-signed every time (as before);
    the session's record is written at most once per ttl / 2 all the same."""
    store = CountingStore()
    tokens = manager(clock, store)
    first = tokens.issue("alice", "s")
    clock.advance(TTL / 2)
    deadlines = set()
    for _ in range(40):  # 40 requests over 40 s with the same, aging token
        grant = live(tokens.authenticate(first.token))
        assert grant.token != first.token
        deadlines.add(grant.valid_until)
        clock.advance(1)
    assert store.touches == 1
    assert deadlines == {first.valid_until + TTL / 2}  # all share the one recorded deadline
    (session,) = tokens.sessions("alice")
    assert session.valid_until == first.valid_until + TTL / 2


def test_session_records_are_kept_until_their_absolute_expiry(
    tmp_path: Path, clock: FakeClock
) -> None:
    store = SQLiteRevocation(tmp_path / "r.db")
    tokens = manager(clock, store)
    grant = tokens.issue("alice", "s")
    tokens.end("alice", grant.session)
    clock.advance(MAX_LIFETIME - 1)
    tokens.issue("bob", "s")  # a login purges what has expired: not this one yet
    assert store.check("alice", grant.session).floor == ENDED
    clock.advance(1)
    tokens.issue("bob", "s")
    assert store.check("alice", grant.session).floor == 0  # forgotten, and no token can live
    dead(tokens.authenticate(grant.token), "expired")
    store.close()


def test_redis_session_records_expire_with_the_session(clock: FakeClock) -> None:
    pytest.importorskip("redis")
    store = RedisRevocation(redis_url(), prefix=f"restauth-test:{uuid.uuid4().hex}:")
    tokens = manager(clock, store)
    grant = tokens.issue("alice", "s", kind="service", lifetime=5000)
    keys = [key.decode() for key in store.client.scan_iter(match=store.prefix + "*")]
    assert sorted(k.removeprefix(store.prefix) for k in keys) == [
        "jwt:seq",
        "jwt:session:" + grant.session,
        "jwt:user:alice",
    ]
    for key in keys[:]:
        if key != store.prefix + "jwt:seq":  # one counter per prefix, kept
            assert 5000_000 < store.client.pttl(key) <= 5060_000  # lifetime and a minute
    store.client.delete(*keys)
    store.close()


# -- CachedRevocation: no round trip per check, a bounded delay for other nodes ------------


@pytest.fixture
def cached_nodes(clock: FakeClock) -> tuple[JWTTokenManager, JWTTokenManager, FakeClock]:
    """Node A caches (refreshed every 5 s of ``monotonic``); node B reads the store."""
    shared = MemoryRevocation()
    monotonic = FakeClock(0.0)
    cached = CachedRevocation(
        shared, max_staleness=5, horizon=MAX_LIFETIME, clock=clock, monotonic=monotonic
    )
    return manager(clock, cached), manager(clock, shared), monotonic


def test_cached_node_sees_another_node_end_a_session_within_its_bound(
    cached_nodes: tuple[JWTTokenManager, JWTTokenManager, FakeClock],
) -> None:
    a, b, monotonic = cached_nodes
    laptop, phone = b.issue("alice", "s"), b.issue("alice", "s")
    live(a.authenticate(laptop.token))
    assert b.end("alice", laptop.session)
    live(a.authenticate(laptop.token))  # within the documented staleness
    monotonic.advance(5)
    dead(a.authenticate(laptop.token), "ended")
    live(a.authenticate(phone.token))
    assert a.end("alice", phone.session)  # through the cache: at once on this node
    dead(a.authenticate(phone.token), "ended")
    dead(b.authenticate(phone.token), "ended")


def test_cached_node_sees_another_node_rotate_within_its_bound(
    cached_nodes: tuple[JWTTokenManager, JWTTokenManager, FakeClock],
) -> None:
    a, b, monotonic = cached_nodes
    grant = a.issue("alice", "s")
    live(a.authenticate(grant.token))
    renewed = b.renew(grant.token)
    assert renewed is not None
    live(a.authenticate(grant.token))  # the old token, for at most max_staleness
    assert a.renew(grant.token) is None  # but it cannot rotate again: that asks the store
    monotonic.advance(5)
    dead(a.authenticate(grant.token), "ended")
    live(a.authenticate(renewed.token))


def test_cached_snapshot_holds_only_the_sessions_with_a_floor(
    cached_nodes: tuple[JWTTokenManager, JWTTokenManager, FakeClock],
) -> None:
    a, b, monotonic = cached_nodes
    grants = [b.issue(f"user{n}", "s") for n in range(50)]
    b.end("user0", grants[0].session)
    b.renew(grants[1].token)
    monotonic.advance(5)
    live(a.authenticate(grants[2].token))
    cache = a.revocation
    assert isinstance(cache, CachedRevocation)
    assert cache._floors == {grants[0].session: ENDED, grants[1].session: 1}
