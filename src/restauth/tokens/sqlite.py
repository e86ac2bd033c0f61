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


class SQLiteTokenManager:
    """Tokens in the ``restauth_tokens`` table of a SQLite file (created on first use).

    The table holds token ids only; a token is ``id.HMAC(secret_key, id)``, so the file
    alone authenticates nobody. A check is one ``UPDATE ... RETURNING`` that renews the
    token only if it is still there and alive: a renewal can never bring back a token a
    concurrent revoke deleted. Expiry is judged by ``clock()``. Expired rows are
    deleted by a login at most every ``purge_interval`` seconds, so no cron job is needed.
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
        self.database.migrate("tokens", SCHEMA_VERSION, SCHEMA)
        self._next_purge = clock() + purge_interval

    def issue(self, userid: str, stamp: str) -> TokenGrant:
        now = self.clock()
        times = {"now": now, "max_lifetime": self.max_lifetime, "deadline": now + self.ttl}
        with self.database.transaction() as connection:
            row = connection.execute(
                f"UPDATE {TABLE} SET idle_deadline = :deadline "
                f"WHERE userid = :userid AND stamp = :stamp AND {_ALIVE} "
                "RETURNING token_id, created, idle_deadline",
                {**times, "userid": userid, "stamp": stamp},
            ).fetchone()
            if row is None:
                row = (self._codec.new_id(), now, now + self.ttl)
                connection.execute(f"DELETE FROM {TABLE} WHERE userid = ?", (userid,))
                connection.execute(
                    f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?)", (row[0], userid, stamp, *row[1:])
                )
        if now >= self._next_purge:
            self._next_purge = now + self.purge_interval
            self.purge_expired()
        token_id, created, idle_deadline = row
        return self._grant(self._codec.token_for(token_id), userid, stamp, created, idle_deadline)

    def authenticate(self, token: str) -> TokenGrant | None:
        token_id = self._codec.id_of(token)
        if token_id is None:
            return None
        now = self.clock()
        rows = self.database.execute(
            f"UPDATE {TABLE} SET idle_deadline = :deadline WHERE token_id = :id AND {_ALIVE} "
            "RETURNING userid, stamp, created, idle_deadline",
            {
                "id": token_id,
                "now": now,
                "deadline": now + self.ttl,
                "max_lifetime": self.max_lifetime,
            },
        )
        if not rows:
            return None
        userid, stamp, created, idle_deadline = rows[0]
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

    def revoke(self, userid: str) -> bool:
        with self.database.transaction() as connection:
            return (
                connection.execute(f"DELETE FROM {TABLE} WHERE userid = ?", (userid,)).rowcount > 0
            )

    def purge_expired(self) -> int:
        """Delete every expired token; returns how many (run it now and then, e.g. from cron)."""
        with self.database.transaction() as connection:
            cursor = connection.execute(
                f"DELETE FROM {TABLE} WHERE NOT ({_ALIVE})",
                {"now": self.clock(), "max_lifetime": self.max_lifetime},
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
