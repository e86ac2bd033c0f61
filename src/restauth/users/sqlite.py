"""Users in a SQLite file: the embedded default for one machine (any number of processes)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence

from restauth._storage.sqlite import DEFAULT_TIMEOUT, SQLiteDatabase
from restauth.errors import UserExists
from restauth.passwords.hasher import PasswordHasher
from restauth.throttle.sqlite import SQLiteThrottleStore
from restauth.users.sql import SCHEMA_VERSION, TABLE, SQLUserStore

SCHEMA = [
    f"CREATE TABLE {TABLE} ("
    " userid TEXT PRIMARY KEY NOT NULL,"
    " password_hash TEXT NOT NULL,"
    " roles TEXT NOT NULL DEFAULT '',"
    " stamp TEXT NOT NULL"
    ") WITHOUT ROWID",
]


class SQLiteUserStore(SQLUserStore):
    """Users in the ``restauth_users`` table of a SQLite file (created on first use).

    The file may also hold the tokens (:class:`restauth.tokens.sqlite.SQLiteTokenManager`);
    several processes may share it; ``timeout`` bounds the wait for another process's
    write lock before a request is answered 503. Every lookup reads the file, so a removed user or a
    changed password or role takes effect at once in every process.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        hasher: PasswordHasher | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        super().__init__(hasher)
        self.database = SQLiteDatabase(path, timeout)
        self.database.require("users", SCHEMA_VERSION, SCHEMA)

    def throttle_store(self) -> SQLiteThrottleStore:
        """Failure counters in the same file, for ``tokens=None`` (Basic only): every
        process that shares the users throttles together."""
        return SQLiteThrottleStore(self.database)

    def _query(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[object, ...]]:
        return self.database.execute(sql, parameters)

    def _modify(self, sql: str, parameters: Sequence[object] = ()) -> int:
        try:
            with self.database.transaction() as connection:
                return connection.execute(sql, parameters).rowcount
        except sqlite3.IntegrityError:
            raise UserExists(f"user {parameters[0]!r} already exists") from None

    def close(self) -> None:
        self.database.close()

    def __repr__(self) -> str:
        return f"SQLiteUserStore({str(self.database.path)!r})"
