"""Users in a SQLite file: the embedded default for one machine (any number of processes).

The ``restauth_users`` table (schema version 2: with ``created``, ``email``,
``verified`` and ``disabled``) and the ``restauth_one_time`` table of reset and
verification tokens; a file of the previous release (version 1) is upgraded in place on
first use, its users kept verified and enabled, ``created`` unknown.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from typing import Any

from restauth._storage.sqlite import DEFAULT_TIMEOUT, SQLiteDatabase
from restauth._time import Clock
from restauth.errors import UserExists
from restauth.passwords.hasher import PasswordHasher
from restauth.passwords.policy import DEFAULT_POLICY, PasswordPolicy
from restauth.throttle.sqlite import SQLiteThrottleStore
from restauth.users.sql import (
    SCHEMA_VERSION,
    TABLE,
    SQLUserStore,
    one_time_schema,
    upgrade_from_v1,
)

# Version 2's columns beyond version 1's: what the upgrade adds, with the defaults old rows take.
ADDED_COLUMNS = [
    "created REAL",  # epoch seconds; NULL for users older than the column
    "email TEXT",
    "verified INTEGER NOT NULL DEFAULT 1",
    "disabled INTEGER NOT NULL DEFAULT 0",
]
ONE_TIME_SCHEMA = one_time_schema("TEXT", "REAL", " WITHOUT ROWID")
SCHEMA = [
    f"CREATE TABLE {TABLE} ("
    " userid TEXT PRIMARY KEY NOT NULL,"
    " password_hash TEXT NOT NULL,"
    " roles TEXT NOT NULL DEFAULT '',"
    " stamp TEXT NOT NULL,"
    f" {', '.join(ADDED_COLUMNS)}"
    ") WITHOUT ROWID",
    *ONE_TIME_SCHEMA,
]


class SQLiteUserStore(SQLUserStore):
    """Users in the ``restauth_users`` table of a SQLite file (created on first use).

    The file may also hold the tokens (:class:`restauth.tokens.sqlite.SQLiteTokenManager`);
    several processes may share it; ``timeout`` bounds the wait for another process's
    write lock before a request is answered 503. Every lookup reads the file, so a removed
    user or a changed password, role or flag takes effect at once in every process.
    ``policy`` judges passwords set through ``add`` and ``set_password`` (``None``: the
    hasher's hard limits only); ``clock`` dates new users and expires one-time tokens.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        hasher: PasswordHasher | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        policy: PasswordPolicy | None = DEFAULT_POLICY,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(hasher, policy=policy, clock=clock)
        self.database = SQLiteDatabase(path, timeout)
        upgrades = {1: upgrade_from_v1(ADDED_COLUMNS, ONE_TIME_SCHEMA)}
        self.database.require("users", SCHEMA_VERSION, SCHEMA, upgrades)  # no I/O yet

    def throttle_store(self) -> SQLiteThrottleStore:
        """Failure counters in the same file, for ``tokens=None`` (Basic only): every
        process that shares the users throttles together."""
        return SQLiteThrottleStore(self.database)

    def _query(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self.database.execute(sql, parameters)

    def _modify(self, sql: str, parameters: Sequence[object] = ()) -> int:
        try:
            with self.database.transaction() as connection:
                return connection.execute(sql, parameters).rowcount
        except sqlite3.IntegrityError:
            raise UserExists(f"user {parameters[0]!r} already exists") from None

    def _write(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self.database.transaction() as connection:
            return connection.execute(sql, parameters).fetchall()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self.database.transaction() as connection:  # BEGIN IMMEDIATE: one writer
            yield connection

    def close(self) -> None:
        self.database.close()

    def __repr__(self) -> str:
        return f"SQLiteUserStore({str(self.database.path)!r})"
