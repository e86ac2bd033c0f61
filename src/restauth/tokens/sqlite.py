"""Tokens in a SQLite file: shared by every process on one machine, kept across restarts."""

from __future__ import annotations

import os
import time

from restauth._storage.sqlite import DEFAULT_TIMEOUT, SQLiteDatabase
from restauth._time import Clock, Duration, as_seconds
from restauth.throttle.sqlite import SQLiteThrottleStore
from restauth.tokens.base import (
    DEFAULT_MAX_LIFETIME,
    DEFAULT_TTL,
    TokenCodec,
    TokenGrant,
    persistent_secret_key,
    renewed_deadline,
)

SCHEMA_VERSION = 1
TABLE = "restauth_tokens"
SCHEMA = [
    f"CREATE TABLE {TABLE} ("
    " token_id TEXT PRIMARY KEY NOT NULL,"
    " userid TEXT NOT NULL UNIQUE,"  # one current token per user
    " stamp TEXT NOT NULL,"
    " created REAL NOT NULL,"
    " idle_deadline REAL NOT NULL"
    ") WITHOUT ROWID",
]
_ALIVE = "idle_deadline > :now AND created + :max_lifetime > :now"
_CHECK = (
    f"SELECT userid, stamp, created, idle_deadline FROM {TABLE} WHERE token_id = :id AND {_ALIVE}"
)
_RENEW = (
    f"UPDATE {TABLE} SET idle_deadline = max(idle_deadline, :deadline) "
    f"WHERE token_id = :id AND {_ALIVE} RETURNING idle_deadline"
)
_CURRENT = (
    f"SELECT token_id, created, idle_deadline FROM {TABLE} "
    f"WHERE userid = :userid AND stamp = :stamp AND {_ALIVE}"
)
_EXPIRED = (
    f"SELECT token_id FROM {TABLE} WHERE token_id > :after AND NOT ({_ALIVE}) "
    "ORDER BY token_id LIMIT :batch"
)
PURGE_BATCH = 200  # rows per delete: each holds the write lock for about a millisecond
LOGIN_PURGE_BATCHES = 25  # a login deletes at most this many batches; the next one goes on


class SQLiteTokenManager:
    """Tokens in the ``restauth_tokens`` table of a SQLite file (created on first use).

    The table holds token ids only; a token is ``id.HMAC(secret_key, id)``, so the file
    alone authenticates nobody. A check is one ``SELECT`` (no write lock); the idle
    deadline is written only when it would move by more than
    :func:`~restauth.tokens.base.renewal_step` (1 % of ``ttl``, at least 1 s), by an
    ``UPDATE`` that renews the token only if it is still there and alive: a renewal can
    never bring back a token a concurrent revoke deleted. Expiry is judged by
    ``clock()``. Expired rows are deleted by a login at most every ``purge_interval``
    seconds, in batches of :data:`PURGE_BATCH` rows (each its own short transaction), so
    no cron job is needed and no login holds the write lock for long.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        ttl: Duration = DEFAULT_TTL,
        *,
        max_lifetime: Duration = DEFAULT_MAX_LIFETIME,
        clock: Clock = time.time,
        secret_key: bytes | str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        purge_interval: float = 600.0,
    ) -> None:
        self.ttl = as_seconds(ttl, "ttl")
        self.max_lifetime = as_seconds(max_lifetime, "max_lifetime")
        self.clock = clock
        self._codec = TokenCodec(persistent_secret_key(secret_key, "SQLiteTokenManager"))
        self.purge_interval = purge_interval
        self.database = SQLiteDatabase(path, timeout)
        self.database.require("tokens", SCHEMA_VERSION, SCHEMA)  # no I/O until first use
        self._next_purge = clock() + purge_interval

    def issue(self, userid: str, stamp: str) -> TokenGrant:
        now = self.clock()
        row = self._current(userid, stamp, now)  # a read: no write lock when nothing changes
        if row is None or renewed_deadline(row[2], now, self.ttl) is not None:
            row = self._renew_or_create(userid, stamp, now)
        if now >= self._next_purge:
            self._next_purge = now + self.purge_interval
            if self._purge(now, LOGIN_PURGE_BATCHES)[1]:  # more left: the next login goes on
                self._next_purge = now
        token_id, created, idle_deadline = row
        return self._grant(self._codec.token_for(token_id), userid, stamp, created, idle_deadline)

    def authenticate(self, token: str) -> TokenGrant | None:
        token_id = self._codec.id_of(token)
        if token_id is None:
            return None
        now = self.clock()
        times = {"id": token_id, "now": now, "max_lifetime": self.max_lifetime}
        rows = self.database.execute(_CHECK, times)
        if not rows:
            return None
        userid, stamp, created, idle_deadline = rows[0]
        deadline = renewed_deadline(idle_deadline, now, self.ttl)
        if deadline is not None:  # due: one write, only if the token is still alive
            renewed = self.database.execute(_RENEW, {**times, "deadline": deadline})
            if not renewed:
                return None  # revoked or expired between the two statements
            idle_deadline = renewed[0][0]
        return self._grant(token, userid, stamp, created, idle_deadline)

    def lookup(self, userid: str) -> TokenGrant | None:
        rows = self.database.execute(
            f"SELECT token_id, stamp, created, idle_deadline FROM {TABLE} "
            f"WHERE userid = :userid AND {_ALIVE}",
            {"userid": userid, "now": self.clock(), "max_lifetime": self.max_lifetime},
        )
        if not rows:
            return None
        token_id, stamp, created, idle_deadline = rows[0]
        return self._grant(self._codec.token_for(token_id), userid, stamp, created, idle_deadline)

    def _current(self, userid: str, stamp: str, now: float) -> tuple[str, float, float] | None:
        """The user's live token under ``stamp``: ``(id, created, idle_deadline)``."""
        times = {"userid": userid, "stamp": stamp, "now": now, "max_lifetime": self.max_lifetime}
        rows = self.database.execute(_CURRENT, times)
        return (rows[0][0], rows[0][1], rows[0][2]) if rows else None

    def _renew_or_create(self, userid: str, stamp: str, now: float) -> tuple[str, float, float]:
        """Under the write lock: renew the user's token if it is due, or replace it."""
        times = {"userid": userid, "stamp": stamp, "now": now, "max_lifetime": self.max_lifetime}
        with self.database.transaction() as connection:
            row = connection.execute(_CURRENT, times).fetchone()
            if row is None:
                row = (self._codec.new_id(), now, now + self.ttl)
                connection.execute(f"DELETE FROM {TABLE} WHERE userid = ?", (userid,))
                connection.execute(
                    f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?)", (row[0], userid, stamp, *row[1:])
                )
                return row
            deadline = renewed_deadline(row[2], now, self.ttl)
            if deadline is None:  # another process renewed it meanwhile
                return (row[0], row[1], row[2])
            connection.execute(
                f"UPDATE {TABLE} SET idle_deadline = ? WHERE token_id = ?", (deadline, row[0])
            )
            return (row[0], row[1], deadline)

    def revoke(self, userid: str) -> bool:
        with self.database.transaction() as connection:
            return (
                connection.execute(f"DELETE FROM {TABLE} WHERE userid = ?", (userid,)).rowcount > 0
            )

    def purge_expired(self) -> int:
        """Delete every expired token; returns how many (run it now and then, e.g. from cron)."""
        return self._purge(self.clock(), None)[0]

    def _purge(self, now: float, max_batches: int | None) -> tuple[int, bool]:
        """Delete expired tokens, :data:`PURGE_BATCH` at a time, each batch its own short
        transaction; the ids are found by a read first, so no scan runs under the write
        lock. How many went, and whether ``max_batches`` ran out before they did."""
        times = {"now": now, "max_lifetime": self.max_lifetime, "batch": PURGE_BATCH}
        after, deleted, batches = "", 0, 0
        while max_batches is None or batches < max_batches:
            rows = self.database.execute(_EXPIRED, {**times, "after": after})
            if rows:
                deleted += self._delete_expired([row[0] for row in rows], now)
                after, batches = rows[-1][0], batches + 1
            if len(rows) < PURGE_BATCH:
                return deleted, False
        return deleted, True

    def _delete_expired(self, ids: list[str], now: float) -> int:
        """Delete those of ``ids`` still expired (one renewed meanwhile stays)."""
        marks = ", ".join("?" * len(ids))
        with self.database.transaction() as connection:
            cursor = connection.execute(
                f"DELETE FROM {TABLE} WHERE token_id IN ({marks}) "
                "AND NOT (idle_deadline > ? AND created + ? > ?)",
                [*ids, now, self.max_lifetime, now],
            )
            return cursor.rowcount

    def __len__(self) -> int:
        rows = self.database.execute(f"SELECT count(*) FROM {TABLE}")
        return int(rows[0][0])

    def throttle_store(self) -> SQLiteThrottleStore:
        """Failure counters in the same file and connections, so every process using it
        throttles together (the middleware uses this when it builds its default throttle)."""
        return SQLiteThrottleStore(self.database)

    def close(self) -> None:
        self.database.close()

    def __repr__(self) -> str:
        return f"SQLiteTokenManager({str(self.database.path)!r}, ttl={self.ttl})"

    def _grant(
        self, token: str, userid: str, stamp: str, created: float, idle_deadline: float
    ) -> TokenGrant:
        valid_until = min(idle_deadline, created + self.max_lifetime)
        return TokenGrant(token, userid, stamp, created, valid_until)
