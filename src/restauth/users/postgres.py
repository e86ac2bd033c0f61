"""Users in PostgreSQL (extra ``restauth[postgres]``): one user table for many machines.

psycopg 3 with a connection pool. The pool opens lazily, in the process that first
uses it, so a server that forks workers after loading the app (gunicorn ``--preload``)
never shares a socket between processes, and a database that is down at start-up only
makes requests answer 503 until it is back.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import psycopg
import psycopg_pool

from restauth._storage.schema import CREATE_SCHEMA_TABLE, SCHEMA_TABLE, needs_creation
from restauth.errors import StoreUnavailable, UserExists
from restauth.passwords.hasher import PasswordHasher
from restauth.users.sql import SCHEMA_VERSION, TABLE, SQLUserStore

SCHEMA = [
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    " userid TEXT PRIMARY KEY,"
    " password_hash TEXT NOT NULL,"
    " roles TEXT NOT NULL DEFAULT '',"
    " stamp TEXT NOT NULL)",
]
_MIGRATION_LOCK = 0x72657374  # pg_advisory_xact_lock key: one migrating process at a time


class PostgresUserStore(SQLUserStore):
    """Users in the ``restauth_users`` table of a PostgreSQL database.

    ``dsn`` is a libpq connection string or URL. ``timeout`` bounds how long a request
    waits for a connection before it is answered 503.
    """

    placeholder = "%s"

    def __init__(
        self,
        dsn: str,
        *,
        hasher: PasswordHasher | None = None,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 5.0,
    ) -> None:
        super().__init__(hasher)
        self.dsn = dsn
        self.timeout = timeout
        self._pool_args: dict[str, Any] = {"min_size": min_size, "max_size": max_size}
        self._pool: psycopg_pool.ConnectionPool | None = None
        self._pid = 0
        self._ready = False
        self._lock = threading.Lock()

    def _query(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[object, ...]]:
        try:
            with self._connection() as connection:
                rows: list[tuple[object, ...]] = connection.execute(sql, parameters).fetchall()
                return rows
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as error:
            raise StoreUnavailable(f"PostgreSQL: {type(error).__name__}") from None

    def _modify(self, sql: str, parameters: Sequence[object] = ()) -> int:
        try:
            with self._connection() as connection:
                count: int = connection.execute(sql, parameters).rowcount
                return count
        except psycopg.errors.UniqueViolation:
            raise UserExists(f"user {parameters[0]!r} already exists") from None
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as error:
            raise StoreUnavailable(f"PostgreSQL: {type(error).__name__}") from None

    def _connection(self) -> Any:
        """A pooled connection (committed on success, rolled back on error)."""
        pool = self._pool
        if pool is None or self._pid != os.getpid():
            pool = self._open_pool()
        if not self._ready:
            self._migrate(pool)
        return pool.connection(timeout=self.timeout)

    def _open_pool(self) -> psycopg_pool.ConnectionPool:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                self._pool = psycopg_pool.ConnectionPool(
                    self.dsn,
                    open=False,
                    kwargs={"connect_timeout": max(1, round(self.timeout))},
                    **self._pool_args,
                )
                self._pool.open(wait=False)
                self._pid = os.getpid()
            return self._pool

    def _migrate(self, pool: psycopg_pool.ConnectionPool) -> None:
        """Create the table on first use, once per process; a failure (the database down,
        another process migrating for longer than ``timeout``) is a 503 and the next
        request tries again."""
        with self._lock:
            if self._ready:
                return
            try:
                self._create_table(pool)
            except psycopg.errors.LockNotAvailable:
                raise StoreUnavailable(
                    "PostgreSQL: another process holds the schema lock"
                ) from None
            except psycopg.Error as error:  # not OperationalError only: a missing privilege too
                raise StoreUnavailable(f"PostgreSQL: {type(error).__name__}") from None
            self._ready = True

    def _create_table(self, pool: psycopg_pool.ConnectionPool) -> None:
        with pool.connection(timeout=self.timeout) as connection:
            # Bounded: a process stuck holding the lock makes this a 503, not a hung worker.
            connection.execute(f"SET LOCAL lock_timeout = {int(self.timeout * 1000)}")
            connection.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            connection.execute(CREATE_SCHEMA_TABLE)
            row = connection.execute(
                f"SELECT version FROM {SCHEMA_TABLE} WHERE component = 'users'"
            ).fetchone()
            if needs_creation(
                None if row is None else row[0], "users", SCHEMA_VERSION, "PostgreSQL"
            ):
                for statement in SCHEMA:
                    connection.execute(statement)
                connection.execute(
                    f"INSERT INTO {SCHEMA_TABLE} (component, version) VALUES ('users', %s)",
                    (SCHEMA_VERSION,),
                )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __repr__(self) -> str:
        return "PostgresUserStore(<dsn hidden>)"  # a DSN may hold a password
