"""Revocation records: every backend, the cache's staleness bound, and failure as 503."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from restauth import StoreUnavailable
from restauth.tokens.revocation import (
    CachedRevocation,
    MemoryRevocation,
    RedisRevocation,
    RevocationStore,
    SQLiteRevocation,
)
from tests.conftest import FakeClock
from tests.services import free_port

T = 1_800_000_000.0


def test_records_are_shared_and_only_move_forward(
    make_revocation: Callable[[], RevocationStore],
) -> None:
    one, two = make_revocation(), make_revocation()
    assert isinstance(one, RevocationStore)
    assert one.not_before("alice") is None
    one.revoke("alice", T, T - 3600)
    assert two.not_before("alice") == T
    two.revoke("alice", T - 10, T - 3600)  # an older instant never replaces a newer one
    assert one.not_before("alice") == T
    two.revoke("alice", T + 5, T - 3600)
    assert one.not_before("alice") == T + 5
    assert one.not_before("bob") is None


def test_old_records_are_forgotten_and_snapshot_reads_a_window(
    make_revocation: Callable[[], RevocationStore],
) -> None:
    store = make_revocation()
    store.revoke("old", T - 5000, T - 6000)
    store.revoke("recent", T - 100, T - 6000)
    assert store.snapshot(T - 3600) == {"recent": T - 100}
    store.revoke("new", T, T - 3600)  # "old" is now before the horizon: dropped
    assert store.not_before("old") is None
    assert store.snapshot(0) == {"recent": T - 100, "new": T}


def test_cached_revocation_staleness_bound(clock: FakeClock) -> None:
    backing = MemoryRevocation()
    monotonic = FakeClock(100.0)
    reads: list[float] = []
    original = backing.snapshot
    backing.snapshot = lambda since: reads.append(since) or original(since)  # type: ignore[method-assign]
    here = CachedRevocation(
        backing, max_staleness=5, horizon=3600, clock=clock, monotonic=monotonic
    )
    elsewhere = CachedRevocation(backing, max_staleness=5, clock=clock, monotonic=monotonic)
    assert here.not_before("alice") is None
    assert here.not_before("bob") is None
    assert reads == [clock.now - 3600]  # one round trip for both checks
    elsewhere.revoke("alice", T, T - 3600)
    assert elsewhere.not_before("alice") == T  # the node that revoked knows at once
    monotonic.advance(4.9)
    assert here.not_before("alice") is None  # stale, within the bound
    monotonic.advance(0.1)
    assert here.not_before("alice") == T  # never staler than max_staleness
    assert len(reads) == 3


def test_cached_revocation_fails_closed_when_the_store_is_down(clock: FakeClock) -> None:
    backing = MemoryRevocation()
    monotonic = FakeClock(0.0)
    cache = CachedRevocation(backing, max_staleness=5, clock=clock, monotonic=monotonic)
    assert cache.not_before("alice") is None

    def down(since: float) -> dict[str, float]:
        raise StoreUnavailable("down")

    backing.snapshot = down  # type: ignore[method-assign]
    monotonic.advance(5)
    with pytest.raises(StoreUnavailable):
        cache.not_before("alice")
    with pytest.raises(StoreUnavailable):  # and again: a failed refresh is never "fresh"
        cache.not_before("alice")


def test_sqlite_unreachable_is_store_unavailable(tmp_path: Path) -> None:
    (tmp_path / "r.db").mkdir()  # the path is a directory: cannot be opened
    store = SQLiteRevocation(tmp_path / "r.db", timeout=0.1)  # building it opens nothing
    with pytest.raises(StoreUnavailable):
        store.not_before("alice")
    with pytest.raises(StoreUnavailable):  # tried again, not remembered
        store.not_before("alice")


def test_redis_down_is_store_unavailable() -> None:
    pytest.importorskip("redis")
    store = RedisRevocation(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(StoreUnavailable):
        store.not_before("alice")
    with pytest.raises(StoreUnavailable):
        store.revoke("alice", T, T - 3600)
    store.close()
