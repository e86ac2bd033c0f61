"""Per-user "not before" records: how a stateless (JWT) token is revoked on every node.

``DELETE /tokens/<userid>`` cannot delete a signed token that lives only in the client,
so it records the instant instead: every token of that user whose login time
(``auth_time``) is not later than the recorded instant is dead, on every node that
reads the same record. A record is useless once every token it could kill has passed
its absolute lifetime, so the stores forget records older than the horizon the caller
gives (the token manager's ``max_lifetime``).

Backends: :class:`MemoryRevocation` (one process), :class:`SQLiteRevocation` (one
machine), :class:`RedisRevocation` (many machines); each answers a check in one round
trip. :class:`CachedRevocation` wraps any of them for zero round trips per request, at
the price of a documented staleness bound.
"""

from __future__ import annotations

import os
import threading
import time
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from restauth._storage.sqlite import DEFAULT_TIMEOUT, SQLiteDatabase
from restauth._time import Clock, Duration, as_seconds
from restauth.tokens.base import DEFAULT_MAX_LIFETIME

if TYPE_CHECKING:
    import redis

    from restauth.throttle.policy import ThrottleStore
    from restauth.throttle.redis import RedisThrottleStore
    from restauth.throttle.sqlite import SQLiteThrottleStore


@runtime_checkable
class RevocationStore(Protocol):
    """Where "not before" instants are kept. Every method may raise ``StoreUnavailable``.

    Optional members, each a protocol of its own, read once when the token manager or
    the middleware is built (never per request):

    - ``horizon`` (:class:`HasHorizon`): how far back the store remembers; the token
      manager refuses one shorter than its ``max_lifetime``.
    - ``throttle_store()`` (:class:`restauth.throttle.policy.SharesThrottleCounters`):
      failure counters beside the records, so every node sharing them throttles together
      (the JWT token manager offers them as its own).
    """

    def revoke(self, userid: str, not_before: float, forget_before: float) -> None:
        """Record that the user's tokens from ``not_before`` or earlier are dead.

        A later instant replaces an earlier one, never the reverse. Records whose
        instant is before ``forget_before`` may be dropped (they can no longer matter).
        """
        ...

    def not_before(self, userid: str) -> float | None:
        """The user's recorded instant, or ``None``: one round trip at most."""
        ...

    def snapshot(self, since: float) -> dict[str, float]:
        """Every record whose instant is at or after ``since`` (for :class:`CachedRevocation`)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class HasHorizon(Protocol):
    """An optional member of a :class:`RevocationStore`: it remembers records of the last
    ``horizon`` seconds only (a cache such as :class:`CachedRevocation`).

    A token manager whose ``max_lifetime`` is longer refuses the store at construction:
    a revocation would be forgotten while tokens it must kill are still alive.
    """

    @property
    def horizon(self) -> float: ...


class MemoryRevocation:
    """Records in a dict: one process (tests, a single worker)."""

    def __init__(self) -> None:
        self._records: dict[str, float] = {}
        self._lock = threading.Lock()

    def revoke(self, userid: str, not_before: float, forget_before: float) -> None:
        with self._lock:
            self._records[userid] = max(not_before, self._records.get(userid, not_before))
            for old in [u for u, instant in self._records.items() if instant < forget_before]:
                del self._records[old]

    def not_before(self, userid: str) -> float | None:
        return self._records.get(userid)

    def snapshot(self, since: float) -> dict[str, float]:
        return {u: instant for u, instant in list(self._records.items()) if instant >= since}

    def close(self) -> None:
        """Nothing to release."""


SCHEMA_VERSION = 1
TABLE = "restauth_revocations"
SCHEMA = [
    f"CREATE TABLE {TABLE} (userid TEXT PRIMARY KEY NOT NULL, not_before REAL NOT NULL) "
    "WITHOUT ROWID",
]


class SQLiteRevocation:
    """Records in the ``restauth_revocations`` table of a SQLite file (created on first use).

    The file may be the one that holds the users (each component has its own schema
    version); a check is one ``SELECT`` by primary key.
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.database = SQLiteDatabase(path, timeout)
        self.database.require("revocations", SCHEMA_VERSION, SCHEMA)

    def throttle_store(self) -> SQLiteThrottleStore:
        """Failure counters in the same file: every process that shares the records
        throttles together (picked through :meth:`JWTTokenManager.throttle_store`)."""
        from restauth.throttle.sqlite import SQLiteThrottleStore

        return SQLiteThrottleStore(self.database)

    def revoke(self, userid: str, not_before: float, forget_before: float) -> None:
        with self.database.transaction() as connection:
            connection.execute(
                f"INSERT INTO {TABLE} (userid, not_before) VALUES (?, ?) "
                "ON CONFLICT (userid) DO UPDATE "
                "SET not_before = max(not_before, excluded.not_before)",
                (userid, not_before),
            )
            connection.execute(f"DELETE FROM {TABLE} WHERE not_before < ?", (forget_before,))

    def not_before(self, userid: str) -> float | None:
        rows = self.database.execute(f"SELECT not_before FROM {TABLE} WHERE userid = ?", (userid,))
        return float(rows[0][0]) if rows else None

    def snapshot(self, since: float) -> dict[str, float]:
        rows = self.database.execute(
            f"SELECT userid, not_before FROM {TABLE} WHERE not_before >= ?", (since,)
        )
        return {userid: float(instant) for userid, instant in rows}

    def close(self) -> None:
        self.database.close()

    def __repr__(self) -> str:
        return f"SQLiteRevocation({str(self.database.path)!r})"


class RedisRevocation:
    """Records in one Redis sorted set ``<prefix>revoked`` (member userid, score the instant).

    A check is one ``ZSCORE``; a revocation is one ``MULTI`` (``ZADD GT``, which never
    moves an instant back, and a trim of records older than the horizon). Needs Redis 6.2+.
    """

    def __init__(self, url_or_client: str | redis.Redis, *, prefix: str = "restauth:") -> None:
        from restauth._storage import redis as storage  # the redis extra, only when used

        self._storage = storage
        self.client = storage.redis_client(url_or_client)
        self.prefix = prefix
        self.key = prefix + "revoked"

    def throttle_store(self) -> RedisThrottleStore:
        """Failure counters in the same Redis: every node throttles together."""
        from restauth.throttle.redis import RedisThrottleStore

        return RedisThrottleStore(self.client, self.prefix)

    def revoke(self, userid: str, not_before: float, forget_before: float) -> None:
        with self._storage.errors_as_unavailable():
            pipeline = self.client.pipeline(transaction=True)
            pipeline.zadd(self.key, {userid: not_before}, gt=True)
            pipeline.zremrangebyscore(self.key, "-inf", f"({forget_before!r}")
            pipeline.execute()

    def not_before(self, userid: str) -> float | None:
        with self._storage.errors_as_unavailable():
            score: Any = self.client.zscore(self.key, userid)
        return None if score is None else float(score)

    def snapshot(self, since: float) -> dict[str, float]:
        with self._storage.errors_as_unavailable():
            rows: Any = self.client.zrangebyscore(self.key, repr(since), "+inf", withscores=True)
        return {self._storage.text(member): float(score) for member, score in rows}

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        return f"RedisRevocation(prefix={self.prefix!r})"


DEFAULT_STALENESS = 5.0


class CachedRevocation:
    """Zero round trips per request: a per-process copy of the records, refreshed when stale.

    **Staleness bound:** a revocation made on another node takes effect here at most
    ``max_staleness`` seconds later (default 5 s); one made through this object takes
    effect here at once. Each refresh is one round trip that reads every record of the
    last ``horizon`` seconds (set it to at least the token manager's ``max_lifetime``),
    so memory grows with the number of users who logged out within that window: fine for
    thousands, not for millions. A refresh that fails raises ``StoreUnavailable`` (503):
    the copy is never used past its bound.
    """

    def __init__(
        self,
        store: RevocationStore,
        *,
        max_staleness: Duration = DEFAULT_STALENESS,
        horizon: Duration = DEFAULT_MAX_LIFETIME,
        clock: Clock = time.time,
        monotonic: Clock = time.monotonic,
    ) -> None:
        self.store = store
        self.max_staleness = as_seconds(max_staleness, "max_staleness")
        self.horizon = as_seconds(horizon, "horizon")
        self.clock = clock
        self.monotonic = monotonic
        self._records: dict[str, float] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def throttle_store(self) -> ThrottleStore | None:
        """The wrapped store's shared counters (a copy of the counters would not be shared)."""
        from restauth.throttle.policy import shared_store

        return shared_store(self.store)

    def revoke(self, userid: str, not_before: float, forget_before: float) -> None:
        self.store.revoke(userid, not_before, forget_before)
        with self._lock:
            self._records[userid] = max(not_before, self._records.get(userid, not_before))

    def not_before(self, userid: str) -> float | None:
        fetched = self._fetched_at
        if fetched is None or self.monotonic() - fetched >= self.max_staleness:
            self.refresh()
        return self._records.get(userid)

    def refresh(self) -> None:
        """Read every record of the horizon now (one round trip); raises on failure."""
        with self._lock:
            fetched = self._fetched_at
            if fetched is not None and self.monotonic() - fetched < self.max_staleness:
                return  # another thread refreshed while this one waited
            started = self.monotonic()
            self._records = self.store.snapshot(self.clock() - self.horizon)
            self._fetched_at = started

    def snapshot(self, since: float) -> dict[str, float]:
        return self.store.snapshot(since)

    def close(self) -> None:
        self.store.close()
