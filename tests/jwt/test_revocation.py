"""Revocation stores: user records and session records on every backend, two instances
sharing them (two nodes), the cache's staleness bound, and failure as 503."""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from restauth import StoreUnavailable
from restauth.tokens.revocation import (
    ENDED,
    CachedRevocation,
    MemoryRevocation,
    RedisRevocation,
    RevocationStore,
    SessionCheck,
    SessionRecord,
    Snapshot,
    SQLiteRevocation,
)
from tests.conftest import FakeClock
from tests.services import free_port

T = 1_800_000_000.0
TTL = 100.0


def session(
    sid: str, userid: str = "alice", kind: str = "login", **fields: object
) -> SessionRecord:
    record = SessionRecord(sid, userid, kind, "client", "s", T, T, T + TTL, T + 1000)  # type: ignore[arg-type]
    return replace(record, **fields)  # type: ignore[arg-type]


def test_records_are_shared_and_only_move_forward(
    make_revocation: Callable[[], RevocationStore],
) -> None:
    one, two = make_revocation(), make_revocation()
    assert isinstance(one, RevocationStore)
    assert one.not_before("alice") is None
    assert one.revoke("alice", T, T - 3600, T) == 0
    assert two.not_before("alice") == T
    two.revoke("alice", T - 10, T - 3600, T)  # an older instant never replaces a newer one
    assert one.not_before("alice") == T
    two.revoke("alice", T + 5, T - 3600, T)
    assert one.not_before("alice") == T + 5
    assert one.not_before("bob") is None
    assert one.check("alice", "any") == SessionCheck(T + 5, 0, None)


def test_old_records_are_forgotten_and_snapshot_reads_a_window(
    make_revocation: Callable[[], RevocationStore],
) -> None:
    store = make_revocation()
    store.revoke("old", T - 5000, T - 6000, T)
    store.revoke("recent", T - 100, T - 6000, T)
    assert store.snapshot(T - 3600, T).not_before == {"recent": T - 100}
    store.revoke("new", T, T - 3600, T)  # "old" is now before the horizon: dropped
    assert store.not_before("old") is None
    assert store.snapshot(0, T).not_before == {"recent": T - 100, "new": T}


def test_sessions_are_shared_listed_in_start_order_and_checked(
    make_revocation: Callable[[], RevocationStore],
) -> None:
    one, two = make_revocation(), make_revocation()
    first = one.start(session("s1", client="laptop"), cap=20, ttl=TTL, now=T)
    assert first == session("s1", client="laptop")
    two.start(session("s2"), cap=20, ttl=TTL, now=T)  # the same instant: still after s1
    one.start(session("b1", userid="bob"), cap=20, ttl=TTL, now=T)
    assert [r.id for r in two.sessions("alice", T)] == ["s1", "s2"]
    assert two.sessions("alice", T)[0].client == "laptop"
    assert one.check("alice", "s1") == SessionCheck(None, 0, T + TTL)
    assert one.check("bob", "s1") == SessionCheck(None, 0, None)  # not bob's session
    assert one.sessions("alice", T + TTL) == []  # idle too long


def test_end_rotate_and_revoke_across_instances(
    make_revocation: Callable[[], RevocationStore],
) -> None:
    one, two = make_revocation(), make_revocation()
    for sid in ("s1", "s2", "s3"):
        one.start(session(sid), cap=20, ttl=TTL, now=T)
    assert two.end("bob", "s1", T) is False  # only its own user ends it
    assert two.end("alice", "s1", T) is True
    assert two.end("alice", "s1", T) is False
    assert one.check("alice", "s1").floor == ENDED
    later = session("s2", valid_until=T + 150, last_used=T + 50)
    assert two.rotate(later, 0, T + 50) is True
    assert two.rotate(later, 0, T + 50) is False  # the same generation cannot rotate twice
    assert one.check("alice", "s2") == SessionCheck(None, 1, T + 150)
    assert one.rotate(later, 1, T + 60) is True
    (s2, s3) = one.sessions("alice", T + 60)
    assert (s2.id, s2.floor, s2.last_used, s3.id) == ("s2", 2, T + 60, "s3")
    assert two.revoke("alice", T + 61, T - 1000, T + 60) == 2
    assert one.sessions("alice", T + 60) == []
    assert one.check("alice", "s3") == SessionCheck(T + 61, ENDED, T + TTL)
    assert one.rotate(session("s3"), 0, T + 60) is False
    floors = one.snapshot(T - 1000, T + 60).floors
    assert floors == {"s1": ENDED, "s2": ENDED, "s3": ENDED}
    assert one.snapshot(T - 1000, T + 1000).floors == {}  # past their absolute expiry


def test_the_cap_the_basic_session_and_a_new_stamp(
    make_revocation: Callable[[], RevocationStore],
) -> None:
    store = make_revocation()
    store.start(session("svc", kind="service"), cap=2, ttl=TTL, now=T)
    store.start(session("s1"), cap=2, ttl=TTL, now=T)
    basic = store.start(session("b1", kind="basic"), cap=2, ttl=TTL, now=T)
    assert basic.id == "b1"
    again = store.start(session("b2", kind="basic"), cap=2, ttl=TTL, now=T + 10)
    assert (again.id, again.valid_until) == ("b1", T + TTL)  # reused; more than half left
    slid = store.start(session("b3", kind="basic"), cap=2, ttl=TTL, now=T + 60)
    assert (slid.id, slid.valid_until, slid.last_used) == ("b1", T + 160, T + 60)
    store.start(session("s2"), cap=2, ttl=TTL, now=T + 60)  # s1 is the oldest counted
    assert [r.id for r in store.sessions("alice", T + 60)] == ["svc", "b1", "s2"]
    assert store.check("alice", "s1").floor == ENDED
    store.start(session("s3", stamp="new"), cap=2, ttl=TTL, now=T + 60)
    assert [r.id for r in store.sessions("alice", T + 60)] == ["s3"]  # a password change


def test_a_login_right_after_a_revocation_starts_just_past_it(
    make_revocation: Callable[[], RevocationStore],
) -> None:
    store = make_revocation()
    store.revoke("alice", T + 1, T - 1000, T)
    record = store.start(session("s1"), cap=20, ttl=TTL, now=T)
    assert record.created == math.nextafter(T + 1, math.inf)
    assert [r.created for r in store.sessions("alice", T)] == [record.created]


def test_touch_records_a_session_without_a_record_unless_revoked(
    make_revocation: Callable[[], RevocationStore],
) -> None:
    store = make_revocation()
    assert store.touch(session("legacy"), T) is True  # the previous release's token
    assert [r.id for r in store.sessions("alice", T)] == ["legacy"]
    assert store.touch(session("legacy", valid_until=T + 150, last_used=T + 50), T + 50)
    assert store.check("alice", "legacy").valid_until == T + 150
    assert store.touch(session("legacy", valid_until=T + 120), T + 50)  # never moves back
    assert store.check("alice", "legacy").valid_until == T + 150
    store.revoke("bob", T + 1, T - 1000, T)
    assert store.touch(session("other", userid="bob"), T) is False  # covered: stays dead
    store.end("alice", "legacy", T)
    assert store.touch(session("legacy"), T) is False


def test_cached_revocation_staleness_bound(clock: FakeClock) -> None:
    backing = MemoryRevocation()
    monotonic = FakeClock(100.0)
    reads: list[float] = []
    original = backing.snapshot

    def counted(since: float, now: float) -> Snapshot:
        reads.append(since)
        return original(since, now)

    backing.snapshot = counted  # type: ignore[method-assign]
    here = CachedRevocation(
        backing, max_staleness=5, horizon=3600, clock=clock, monotonic=monotonic
    )
    elsewhere = CachedRevocation(backing, max_staleness=5, clock=clock, monotonic=monotonic)
    assert here.not_before("alice") is None
    assert here.check("bob", "s1") == SessionCheck(None, 0, None)
    assert reads == [clock.now - 3600]  # one round trip for both checks
    elsewhere.revoke("alice", T, T - 3600, T)
    assert elsewhere.not_before("alice") == T  # the node that revoked knows at once
    elsewhere.start(session("s1", userid="bob"), cap=20, ttl=TTL, now=T)
    assert elsewhere.end("bob", "s1", T) is True
    assert elsewhere.check("bob", "s1").floor == ENDED  # at once, on the node that ended it
    monotonic.advance(4.9)
    assert here.not_before("alice") is None  # stale, within the bound
    assert here.check("bob", "s1").floor == 0
    monotonic.advance(0.1)
    assert here.not_before("alice") == T  # never staler than max_staleness
    assert here.check("bob", "s1").floor == ENDED
    assert len(reads) == 3


def test_cached_revocation_remembers_the_deadlines_it_wrote(clock: FakeClock) -> None:
    cache = CachedRevocation(MemoryRevocation(), clock=clock, monotonic=FakeClock(0.0))
    record = cache.start(session("s1"), cap=20, ttl=TTL, now=T)
    assert cache.check("alice", "s1") == SessionCheck(None, 0, record.valid_until)
    assert cache.rotate(session("s1", valid_until=T + 150), 0, T + 50)
    assert cache.check("alice", "s1") == SessionCheck(None, 1, T + 150)


def test_cached_revocation_fails_closed_when_the_store_is_down(clock: FakeClock) -> None:
    backing = MemoryRevocation()
    monotonic = FakeClock(0.0)
    cache = CachedRevocation(backing, max_staleness=5, clock=clock, monotonic=monotonic)
    assert cache.not_before("alice") is None

    def down(since: float, now: float) -> Snapshot:
        raise StoreUnavailable("down")

    backing.snapshot = down  # type: ignore[method-assign]
    monotonic.advance(5)
    with pytest.raises(StoreUnavailable):
        cache.check("alice", "s1")
    with pytest.raises(StoreUnavailable):  # and again: a failed refresh is never "fresh"
        cache.not_before("alice")


def test_sqlite_unreachable_is_store_unavailable(tmp_path: Path) -> None:
    (tmp_path / "r.db").mkdir()  # the path is a directory: cannot be opened
    store = SQLiteRevocation(tmp_path / "r.db", timeout=0.1)  # building it opens nothing
    with pytest.raises(StoreUnavailable):
        store.check("alice", "s1")
    with pytest.raises(StoreUnavailable):  # tried again, not remembered
        store.not_before("alice")


def test_sqlite_check_is_one_statement(tmp_path: Path) -> None:
    store = SQLiteRevocation(tmp_path / "r.db")
    store.start(session("s1"), cap=20, ttl=TTL, now=T)
    statements: list[str] = []
    store.database.connection().set_trace_callback(statements.append)
    assert store.check("alice", "s1") == SessionCheck(None, 0, T + TTL)
    assert len(statements) == 1
    store.close()


def test_redis_down_is_store_unavailable() -> None:
    pytest.importorskip("redis")
    store = RedisRevocation(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(StoreUnavailable):
        store.check("alice", "s1")
    with pytest.raises(StoreUnavailable):
        store.revoke("alice", T, T - 3600, T)
    with pytest.raises(StoreUnavailable):
        store.start(session("s1"), cap=20, ttl=TTL, now=T)
    store.close()


def test_sqlite_basic_reuse_is_a_read(tmp_path: Path) -> None:
    """Every Basic request asks for the basic session: while its deadline needs no
    write, that takes no write lock (answered while another process holds one)."""
    path = tmp_path / "r.db"
    store = SQLiteRevocation(path, timeout=0.1)
    store.start(session("b1", kind="basic"), cap=20, ttl=TTL, now=T)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        assert store.start(session("b2", kind="basic"), cap=20, ttl=TTL, now=T + 10).id == "b1"
        with pytest.raises(StoreUnavailable):  # sliding its deadline is a write
            store.start(session("b3", kind="basic"), cap=20, ttl=TTL, now=T + 60)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.start(session("b3", kind="basic"), cap=20, ttl=TTL, now=T + 60).id == "b1"
    store.close()
