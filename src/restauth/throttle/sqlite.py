"""Counters in a SQLite file, so every process on one machine throttles a guesser together.

``SQLiteTokenManager.throttle_store()`` puts them in the tokens' file, through the same
connections; the middleware then uses them by default, as it does for Redis.
"""

# ruff: noqa: S608 - the table name is a module constant; every value is a bound parameter

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence

from restauth._storage.sqlite import DEFAULT_TIMEOUT, SQLiteDatabase, errors_as_unavailable
from restauth.throttle.policy import (
    Admission,
    Counted,
    Counter,
    Rule,
    ThrottlePolicy,
    admission,
    counted,
    undone,
)

SCHEMA_VERSION = 1
TABLE = "restauth_throttle"
PURGE_BATCH = 200  # stale counters deleted per attempt: the write lock is held briefly
SCHEMA = [
    f"CREATE TABLE {TABLE} ("
    " key TEXT PRIMARY KEY NOT NULL,"
    " count INTEGER NOT NULL,"
    " last REAL NOT NULL"
    ") WITHOUT ROWID",
]


class SQLiteThrottleStore:
    """The :class:`restauth.throttle.policy.ThrottleStore` protocol in the ``restauth_throttle``
    table (created on first use) of a SQLite file in WAL mode.

    A password attempt is judged and counted in one ``BEGIN IMMEDIATE`` transaction:
    the write lock is taken before the counters are read, so attempts from every
    thread and process are admitted one at a time (``busy_timeout`` makes the others
    wait, up to ``timeout`` seconds, then 503). Rows of counters older than the window
    are deleted at most every ``purge_interval`` seconds, :data:`PURGE_BATCH` per
    attempt, so invented userids neither pile up nor make one attempt hold the lock.
    """

    def __init__(
        self,
        database: SQLiteDatabase | str | os.PathLike[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        purge_interval: float = 600.0,
    ) -> None:
        if not isinstance(database, SQLiteDatabase):
            database = SQLiteDatabase(database, timeout)
        self.database = database
        self.database.require("throttle", SCHEMA_VERSION, SCHEMA)
        self.purge_interval = purge_interval
        self._next_purge = 0.0
        self._longest_window = 0.0  # counters of every policy seen live this long

    def admit(self, rules: Sequence[Rule], now: float, policy: ThrottlePolicy) -> Admission:
        keys = [rule.key for rule in rules]
        with self.database.transaction() as connection:
            counters = _read(connection, keys)
            verdict = admission(counters, rules, now, policy)
            if verdict.wait <= 0:
                connection.executemany(
                    f"INSERT OR REPLACE INTO {TABLE} (key, count, last) VALUES (?, ?, ?)",
                    [
                        (key, counted(old, now).count, now)
                        for key, old in zip(keys, verdict.previous, strict=True)
                    ],
                )
            self._longest_window = max(self._longest_window, policy.window)
            if now >= self._next_purge:  # never a counter another policy still needs
                self._purge(connection, now - self._longest_window, now)
        return verdict

    def _purge(self, connection: sqlite3.Connection, before: float, now: float) -> None:
        """Delete at most :data:`PURGE_BATCH` stale counters, inside the attempt's own
        transaction (a short one however many invented userids piled up); when a full
        batch went, the next attempt deletes the next one."""
        deleted = connection.execute(
            f"DELETE FROM {TABLE} WHERE key IN "
            f"(SELECT key FROM {TABLE} WHERE last < ? LIMIT {PURGE_BATCH})",
            (before,),
        ).rowcount
        self._next_purge = now if deleted >= PURGE_BATCH else now + self.purge_interval

    def release(self, counted: Sequence[Counted], at: float, reset: str | None = None) -> None:
        with self.database.transaction() as connection:
            currents = _read(connection, [key for key, _ in counted])
            for (key, previous), current in zip(counted, currents, strict=True):
                counter = undone(current, previous, at)
                if counter is None:
                    connection.execute(f"DELETE FROM {TABLE} WHERE key = ?", (key,))
                else:
                    connection.execute(
                        f"UPDATE {TABLE} SET count = ?, last = ? WHERE key = ?",
                        (counter.count, counter.last, key),
                    )
            if reset is not None:
                connection.execute(f"DELETE FROM {TABLE} WHERE key = ?", (reset,))

    def get_many(self, keys: list[str]) -> list[Counter | None]:
        # a plain read: no write lock
        with errors_as_unavailable(self.database.path), self.database.using() as connection:
            return _read(connection, keys)

    def reset(self, key: str) -> None:
        self.database.execute(f"DELETE FROM {TABLE} WHERE key = ?", (key,))

    def __repr__(self) -> str:
        return f"SQLiteThrottleStore({str(self.database.path)!r})"


def _read(connection: sqlite3.Connection, keys: Sequence[str]) -> list[Counter | None]:
    """The counters of ``keys``, in order (``None`` where there is no row)."""
    if not keys:
        return []
    marks = ", ".join("?" * len(keys))
    rows = connection.execute(
        f"SELECT key, count, last FROM {TABLE} WHERE key IN ({marks})", list(keys)
    ).fetchall()
    found = {key: Counter(count, last) for key, count, last in rows}
    return [found.get(key) for key in keys]
