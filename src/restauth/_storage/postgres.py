"""One PostgreSQL database shared by many processes and machines (extra ``restauth[postgres]``).

psycopg 3 with a connection pool, shared by the user store and the token manager. The
pool opens lazily, in the process that first uses it, so a server that forks workers
after loading the app (gunicorn ``--preload``) never shares a socket between
processes, and a database that is down at start-up only makes requests answer 503
until it is back. Building a :class:`PostgresDatabase` does no I/O.

Connections are in autocommit mode: a single statement is one round trip (psycopg
would otherwise send ``BEGIN`` before it and the pool a ``COMMIT`` after it), which is
what a Token check runs. Work that needs several statements asks for
:meth:`PostgresDatabase.transaction`.

Every restauth table is registered in ``restauth_schema`` under its component name
(``users``, ``tokens``), as in SQLite. Tables are created on first use, under an
advisory lock taken with a ``lock_timeout``, so processes starting together create
them once and a process stuck holding the lock makes requests 503, never hang.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import psycopg
import psycopg_pool
from psycopg.rows import TupleRow

from restauth._storage.schema import (
    CREATE_SCHEMA_TABLE,
    SCHEMA_TABLE,
    Schema,
    create_or_upgrade,
    is_current,
)
from restauth.errors import StoreUnavailable

MIGRATION_LOCK = 0x72657374  # pg_advisory_xact_lock key: one migrating process at a time
_VERSION = f"SELECT version FROM {SCHEMA_TABLE} WHERE component = %s"
WHERE = "PostgreSQL"  # how errors name the database: never its DSN, which may hold a password

Connection = psycopg.Connection[TupleRow]
Rows = list[tuple[Any, ...]]
Parameters = Sequence[object] | Mapping[str, object]  # %s or %(name)s placeholders
Upgrade = Callable[[Connection], None]
"""One upgrade step: given the connection inside the transaction that runs it (the
advisory lock held), bring a component's tables from one version to the next."""


class PostgresDatabase:
    """A DSN, a pool opened per process on first use, and the tables it must hold.

    ``timeout`` bounds how long a request waits for a connection (and a first use for
    the schema lock) before it is answered 503. Every failure of the server or the pool
    is a :class:`StoreUnavailable` naming the error's type only; a unique-key violation
    (:class:`psycopg.IntegrityError`) is left to the caller, which knows what it means.
    """

    def __init__(
        self, dsn: str, *, min_size: int = 1, max_size: int = 10, timeout: float = 5.0
    ) -> None:
        self.dsn = dsn
        self.timeout = timeout
        self._min_size, self._max_size = min_size, max_size
        self._pool: psycopg_pool.ConnectionPool[Connection] | None = None
        self._pid = 0
        self._lock = threading.Lock()
        self._pending: list[Schema] = []  # required, not yet found or created

    def require(
        self,
        component: str,
        version: int,
        statements: Sequence[str],
        upgrades: Mapping[int, Upgrade] | None = None,
    ) -> None:
        """Have ``component``'s tables created, or upgraded by ``upgrades`` (step ``n``
        from version ``n``), on first use; no I/O here, so building a store never fails."""
        schema = Schema(component, version, tuple(statements), dict(upgrades or {}))
        with self._lock:
            self._pending.append(schema)

    @property
    def max_size(self) -> int:
        """The most connections the pool opens (an async pool for this database opens no
        more, and by default fewer: see :data:`restauth._storage.postgres_async.ASYNC_MAX_SIZE`)."""
        return self._max_size

    def prepare(self) -> None:
        """Create or upgrade the required tables now, as a first use would (a 503 if the
        database cannot answer): for a caller that queries through a pool of its own."""
        if self._pending:
            self._ready_pool()

    def execute(self, sql: str, parameters: Parameters = ()) -> Rows:
        """One autocommitted statement that returns rows; its rows. One round trip.

        A plain ``try``, not a generator context manager: a Token check runs this."""
        pool = self._ready_pool()
        connection = _get(pool, self.timeout)
        try:
            return connection.execute(sql, parameters).fetchall()
        except psycopg.IntegrityError:
            raise
        except psycopg.Error as error:
            raise unavailable(error) from None
        finally:
            pool.putconn(connection)

    def modify(self, sql: str, parameters: Parameters = ()) -> int:
        """One autocommitted statement that writes; how many rows it touched."""
        pool = self._ready_pool()
        connection = _get(pool, self.timeout)
        try:
            return connection.execute(sql, parameters).rowcount
        except psycopg.IntegrityError:
            raise
        except psycopg.Error as error:
            raise unavailable(error) from None
        finally:
            pool.putconn(connection)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection inside ``BEGIN`` ... ``COMMIT`` (rolled back on any error)."""
        pool = self._ready_pool()
        connection = _get(pool, self.timeout)
        try:
            with connection.transaction():
                yield connection
        except psycopg.IntegrityError:
            raise
        except psycopg.Error as error:
            raise unavailable(error) from None
        finally:
            pool.putconn(connection)

    def close(self) -> None:
        """Close this process's pool; safe to call more than once. A pool inherited
        across a ``fork()`` is dropped, not closed: its connections are the parent's."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.close()

    def __repr__(self) -> str:
        return "PostgresDatabase(<dsn hidden>)"  # a DSN may hold a password

    # -- first use --------------------------------------------------------------------

    def _ready_pool(self) -> psycopg_pool.ConnectionPool[Connection]:
        """This process's pool, the required tables in place (one test once they are)."""
        pool = self._pool
        if pool is None or self._pid != os.getpid():
            pool = self._open_pool()
        if self._pending:
            self._create_pending(pool)
        return pool

    def _open_pool(self) -> psycopg_pool.ConnectionPool[Connection]:
        with self._lock:
            if self._pool is None or self._pid != os.getpid():
                pool: psycopg_pool.ConnectionPool[Connection] = psycopg_pool.ConnectionPool(
                    self.dsn,
                    open=False,
                    kwargs=connection_options(self.timeout),
                    min_size=self._min_size,
                    max_size=self._max_size,
                )
                pool.open(wait=False)
                self._pool, self._pid = pool, os.getpid()
            return self._pool

    def _create_pending(self, pool: psycopg_pool.ConnectionPool[Connection]) -> None:
        """Create what is required, once per process; a failure (the database down,
        another process migrating for longer than ``timeout``) is a 503 and the next
        use tries again."""
        with self._lock:
            for schema in list(self._pending):
                try:
                    self._migrate(pool, schema)
                except psycopg.errors.LockNotAvailable:
                    raise StoreUnavailable(
                        f"{WHERE}: another process holds the schema lock"
                    ) from None
                except psycopg.Error as error:  # not OperationalError only: a missing privilege too
                    raise unavailable(error) from None
                self._pending.remove(schema)

    def _migrate(self, pool: psycopg_pool.ConnectionPool[Connection], schema: Schema) -> None:
        """Create ``schema``'s tables unless they are there, upgrade them if older;
        refuse newer ones. Current tables cost one read and no lock, so a worker starting
        while another process migrates, or a role without CREATE, needs nothing more.
        Otherwise the version is read again under the advisory lock, so of several
        processes starting at once one does the work and the others find it done."""
        component, version = schema.component, schema.version
        connection = _get(pool, self.timeout)
        try:
            if is_current(_version(connection, component), component, version, WHERE):
                return
            with connection.transaction():
                # Bounded: a process stuck holding the lock makes this a 503, not a hung worker.
                connection.execute(f"SET LOCAL lock_timeout = {int(self.timeout * 1000)}")
                connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                connection.execute(CREATE_SCHEMA_TABLE)
                found = _version(connection, component)
                create_or_upgrade(connection, schema, found, "%s", WHERE)
        finally:
            pool.putconn(connection)


def _version(connection: Connection, component: str) -> int | None:
    """The version of ``component`` recorded in the database; ``None`` when there is none.

    Outside a transaction a missing ``restauth_schema`` (a new database) is an error
    that costs nothing; inside one it is created first, so it is never missing there."""
    try:
        row = connection.execute(_VERSION, (component,)).fetchone()
    except psycopg.errors.UndefinedTable:
        return None
    return None if row is None else int(row[0])


def _get(pool: psycopg_pool.ConnectionPool[Connection], timeout: float) -> Connection:
    """A connection from ``pool``, or a 503 once ``timeout`` has passed (all busy, or
    the server down: the pool keeps trying to connect in the background)."""
    try:
        return pool.getconn(timeout)
    except psycopg.Error as error:
        raise pool_unavailable(error, timeout) from None


def connection_options(timeout: float) -> dict[str, Any]:
    """What every pooled connection is opened with: connecting gives up within about
    ``timeout``, and each statement commits itself (one round trip)."""
    return {"connect_timeout": max(1, round(timeout)), "autocommit": True}


def pool_unavailable(error: psycopg.Error, timeout: float) -> StoreUnavailable:
    """What a pool's failure to lend a connection within ``timeout`` becomes: a 503."""
    if isinstance(error, psycopg_pool.PoolTimeout):
        return StoreUnavailable(f"{WHERE}: no connection within {timeout:g} s")
    if isinstance(error, psycopg_pool.PoolClosed):
        return StoreUnavailable(f"{WHERE}: the pool is closed")
    return unavailable(error)


def unavailable(error: psycopg.Error) -> StoreUnavailable:
    """What a PostgreSQL failure becomes: a 503 naming the error's type (and SQLSTATE),
    never its text, which may quote the connection string."""
    state = f" ({error.sqlstate})" if error.sqlstate else ""
    return StoreUnavailable(f"{WHERE}: {type(error).__name__}{state}")
