"""Users in PostgreSQL (extra ``restauth[postgres]``): one user table for many machines.

The connection pool, its per-process opening and the tables' creation (or upgrade) on
first use are :class:`restauth._storage.postgres.PostgresDatabase`'s, shared with the
token manager. ``restauth_users`` is at schema version 2 (``created``, ``email``,
``verified``, ``disabled``), beside ``restauth_one_time`` (reset and verification
tokens); a database of the previous release (version 1) is upgraded in place on first
use, its users kept verified and enabled, ``created`` unknown.

A lookup, a flag change (:meth:`~restauth.users.sql.SQLUserStore.update`) or an ended
one-time token is one autocommitted statement: one round trip. A password change, a
removal and a new one-time token, which touch both tables, are one transaction.
Userids are listed and paged by code point (``COLLATE "C"``, with an index of its own),
as the other stores order them, whatever the database's collation.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from restauth._storage.overrides import keeps
from restauth._storage.postgres import MIGRATION_LOCK, Connection, PostgresDatabase
from restauth._storage.postgres_async import AsyncPostgresDatabase, loop_supported
from restauth._time import Clock
from restauth.errors import UserExists
from restauth.passwords.hasher import PasswordHasher
from restauth.passwords.policy import DEFAULT_POLICY, PasswordPolicy
from restauth.users.base import User
from restauth.users.sql import (
    SCHEMA_VERSION,
    TABLE,
    SQLUserStore,
    one_time_schema,
    upgrade_from_v1,
    user_of,
)

# Version 2's columns beyond version 1's: what the upgrade adds, with the defaults old rows take.
ADDED_COLUMNS = [
    "created DOUBLE PRECISION",  # epoch seconds; NULL for users older than the column
    "email TEXT",
    "verified BOOLEAN NOT NULL DEFAULT TRUE",
    "disabled BOOLEAN NOT NULL DEFAULT FALSE",
]
ADDED_TABLES = [
    *one_time_schema("TEXT", "DOUBLE PRECISION"),
    # Pages of users in code-point order, whatever the database's collation.
    f'CREATE INDEX {TABLE}_by_code_point ON {TABLE} (userid COLLATE "C")',
]
SCHEMA = [
    f"CREATE TABLE {TABLE} ("
    " userid TEXT PRIMARY KEY,"
    " password_hash TEXT NOT NULL,"
    " roles TEXT NOT NULL DEFAULT '',"
    " stamp TEXT NOT NULL,"
    f" {', '.join(ADDED_COLUMNS)})",
    *ADDED_TABLES,
]
_MIGRATION_LOCK = MIGRATION_LOCK  # its old name: tests hold it to simulate a slow migration


class PostgresUserStore(SQLUserStore):
    """Users in the ``restauth_users`` table of a PostgreSQL database.

    ``dsn`` is a libpq connection string or URL. ``timeout`` bounds how long a request
    waits for a connection before it is answered 503. ``policy`` judges passwords set
    through ``add`` and ``set_password`` (``None``: the hasher's hard limits only);
    ``clock`` dates new users and expires one-time tokens.
    """

    placeholder = "%s"
    order = 'userid COLLATE "C"'
    # Two new one-time tokens for one user (READ COMMITTED) would each delete the
    # earlier one and both stay: the user's row, locked, puts them one after the other.
    lock_user = f"SELECT 1 FROM {TABLE} WHERE userid = %s FOR UPDATE"

    def __init__(
        self,
        dsn: str,
        *,
        hasher: PasswordHasher | None = None,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 5.0,
        policy: PasswordPolicy | None = DEFAULT_POLICY,
        clock: Clock = time.time,
    ) -> None:
        super().__init__(hasher, policy=policy, clock=clock)
        self.database = PostgresDatabase(dsn, min_size=min_size, max_size=max_size, timeout=timeout)
        upgrades = {1: upgrade_from_v1(ADDED_COLUMNS, ADDED_TABLES)}
        self.database.require("users", SCHEMA_VERSION, SCHEMA, upgrades)  # no I/O until first use

    @property
    def dsn(self) -> str:
        return self.database.dsn

    @property
    def timeout(self) -> float:
        return self.database.timeout

    def async_user_reader(self) -> PostgresUserReader | None:
        """A reader of this store's users through psycopg's async pool, for the running
        event loop (see :mod:`restauth.lookups`). No I/O here: it connects on first use.

        ``None`` on an event loop psycopg cannot use (Windows' ``ProactorEventLoop``), or
        for a subclass with a ``get`` (or a ``_query``, which ``get`` reads through) of
        its own: the reader runs this class's SQL, which would bypass it."""
        if not keeps(self, PostgresUserStore, "get", "_query") or not loop_supported():
            return None
        return PostgresUserReader(AsyncPostgresDatabase(self.database), self._get)

    def _query(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self.database.execute(sql, parameters)

    def _modify(self, sql: str, parameters: Sequence[object] = ()) -> int:
        try:
            return self.database.modify(sql, parameters)
        except psycopg.errors.UniqueViolation:
            raise UserExists(f"user {parameters[0]!r} already exists") from None

    def _write(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self.database.execute(sql, parameters)  # autocommitted: one round trip

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self.database.transaction() as connection:
            yield connection

    def close(self) -> None:
        self.database.close()

    def __repr__(self) -> str:
        return "PostgresUserStore(<dsn hidden>)"  # a DSN may hold a password


class PostgresUserReader:
    """A :class:`PostgresUserStore`'s ``get`` for one event loop, through an async pool:
    the store's own ``SELECT`` and row reader, so both answer alike."""

    __slots__ = ("_database", "_get")

    def __init__(self, database: AsyncPostgresDatabase, get: str) -> None:
        self._database = database
        self._get = get

    async def get(self, userid: str) -> User | None:
        """What the store's ``get`` answers."""
        rows = await self._database.execute(self._get, (userid,))
        return user_of(rows[0]) if rows else None

    async def aclose(self) -> None:
        """Close the pool; safe to call more than once."""
        await self._database.aclose()
