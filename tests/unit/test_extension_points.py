"""The optional members of the store protocols are declared (one Protocol each), found by
``isinstance``, and no longer looked up by ``getattr``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import restauth
from restauth import MemoryTokenManager, MemoryUserStore, PasswordHasher
from restauth._storage import Closeable
from restauth.cli import _close
from restauth.throttle import MemoryThrottleStore, SharesThrottleCounters, shared_store
from restauth.tokens import LimitsTokenLength
from restauth.tokens.revocation import CachedRevocation, HasHorizon, MemoryRevocation
from restauth.tokens.sqlite import SQLiteTokenManager
from restauth.users import HasPasswordHasher
from restauth.users.sqlite import SQLiteUserStore

SECRET = "extension-points-secret-0123456789"
SRC = Path(restauth.__file__).resolve().parent
HOOKS = ("throttle_store", "hasher", "max_token_length", "horizon", "close")
# Being rewritten to use the protocols (issue 15, items 1, 2 and 4): empty this set then.
PENDING: set[str] = set()


class Counters:
    """A third-party store offering shared counters."""

    def __init__(self, store: MemoryThrottleStore | None) -> None:
        self.store = store

    def throttle_store(self) -> MemoryThrottleStore | None:
        return self.store


class Plain:
    """A third-party store with none of the optional members."""


def test_no_hook_is_found_by_getattr() -> None:
    pattern = re.compile(r"(?:getattr|hasattr)\([^)]*[\"'](" + "|".join(HOOKS) + r")[\"']")
    found = [
        f"{path.relative_to(SRC)}: {match.group(0)}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name not in PENDING
        for match in pattern.finditer(path.read_text("utf-8"))
    ]
    assert found == []


def test_the_built_in_stores_declare_what_they_offer(tmp_path: Path) -> None:
    hasher = PasswordHasher(rounds=4)
    sqlite_users = SQLiteUserStore(tmp_path / "auth.db", hasher=hasher)
    sqlite_tokens = SQLiteTokenManager(tmp_path / "auth.db", secret_key=SECRET)
    try:
        for store in (sqlite_users, sqlite_tokens):
            assert isinstance(store, SharesThrottleCounters)
            assert isinstance(store, Closeable)
        assert isinstance(sqlite_users, HasPasswordHasher)
        assert sqlite_users.hasher is hasher
    finally:
        sqlite_users.close()
        sqlite_tokens.close()
    memory_users = MemoryUserStore(hasher=hasher)
    assert isinstance(memory_users, HasPasswordHasher)
    assert not isinstance(memory_users, SharesThrottleCounters)
    assert not isinstance(MemoryTokenManager(), LimitsTokenLength)  # 256 is enough for id.mac
    assert isinstance(CachedRevocation(MemoryRevocation()), HasHorizon)
    assert not isinstance(MemoryRevocation(), HasHorizon)


def test_shared_store_takes_the_first_store_offered() -> None:
    first, second = MemoryThrottleStore(), MemoryThrottleStore()
    assert shared_store(Plain(), Counters(first), Counters(second)) is first
    assert shared_store(Counters(None), Counters(second)) is second  # None: look further
    assert shared_store(Plain(), Counters(None)) is None
    assert shared_store() is None


def test_close_closes_only_what_can_be_closed() -> None:
    closed: list[str] = []

    class Resource:
        def close(self) -> None:
            closed.append("closed")

    _close(Resource())
    _close(Plain())
    assert closed == ["closed"]


def test_a_third_party_revocation_horizon_is_checked() -> None:
    pytest.importorskip("jwt")
    from restauth.tokens.jwt import JWTKey, JWTTokenManager

    class ShortMemory(MemoryRevocation):
        horizon = 60.0

    key = JWTKey("a-jwt-secret-of-at-least-32-bytes-long")
    with pytest.raises(ValueError, match="horizon"):
        JWTTokenManager(key, max_lifetime=3600, revocation=ShortMemory())
    manager = JWTTokenManager(key, max_lifetime=60, revocation=ShortMemory())
    assert isinstance(manager, LimitsTokenLength)
    assert manager.max_token_length > 256
