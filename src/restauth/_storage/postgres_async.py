"""PostgreSQL through psycopg's async pool: the ASGI adapter's reads on the event loop.

An :class:`AsyncPostgresDatabase` serves the :class:`~restauth._storage.postgres.PostgresDatabase`
it is made from: the same DSN and timeout, the same failures (a 503 naming the error's
type, never the DSN, which may hold a password) and that database's tables. The schema
logic stays there: before the first query, its :meth:`~PostgresDatabase.prepare` runs
once, in a thread, shared by every statement waiting for it. The pool belongs to the
event loop that first uses it, and opens then: building one does no I/O.

The async pool is smaller than the sync one (:data:`ASYNC_MAX_SIZE`): a process with
PostgreSQL users and tokens has four pools on the database, and the sync ones still serve
logins and the session endpoints.

psycopg cannot run on Windows' ``ProactorEventLoop`` (the default there): under it a store
offers no reader (:func:`loop_supported`) and its Token checks run in worker threads.
"""

from __future__ import annotations

import asyncio

import psycopg
import psycopg_pool
from psycopg.rows import TupleRow

from restauth._storage.postgres import (
    WHERE,
    Parameters,
    PostgresDatabase,
    Rows,
    connection_options,
    pool_unavailable,
    unavailable,
)
from restauth.errors import StoreUnavailable

ASYNC_MAX_SIZE = 4
"""The most connections an async pool opens (fewer if the sync pool's ``max_size`` is smaller).

A Token check borrows a connection for one statement's round trip (a second borrow when
a renewal is due), no thread holding it meanwhile, so by Little's law one event loop needs
about (checks per second) x (round trip): a loop's few thousand checks a second over a
sub-millisecond round trip keep one or two busy, and four leave room for a burst (the
others wait their turn, up to the store's ``timeout``). The sync pools' ``max_size``
(10 each by default) is sized for worker threads that hold a connection across a whole
transaction; copying it would double a process's connections (two sync pools and two
async ones with PostgreSQL users and tokens), per worker process, against the server's
``max_connections``."""

AsyncConnection = psycopg.AsyncConnection[TupleRow]
AsyncPool = psycopg_pool.AsyncConnectionPool[AsyncConnection]


def loop_supported() -> bool:
    """Whether psycopg's async connections can run on the running event loop: not on a
    ``ProactorEventLoop`` (Windows' default), which psycopg refuses. With no running loop
    there is nothing to refuse yet."""
    proactor = getattr(asyncio, "ProactorEventLoop", None)
    if proactor is None:
        return True
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return True
    return not isinstance(loop, proactor)


class AsyncPostgresDatabase:
    """``database`` reached through an async pool of ``min_size`` to ``max_size``
    connections (default :data:`ASYNC_MAX_SIZE`, and never more than ``database.max_size``:
    a statement holds one only for its round trip)."""

    def __init__(
        self, database: PostgresDatabase, *, min_size: int = 1, max_size: int = ASYNC_MAX_SIZE
    ) -> None:
        self.database = database
        self._max_size = max(1, min(max_size, database.max_size))
        self._min_size = min(min_size, self._max_size)
        self._pool: AsyncPool | None = None
        self._opening: asyncio.Task[AsyncPool] | None = None  # the one open in flight
        self._closed = False

    @property
    def max_size(self) -> int:
        """The most connections the pool opens."""
        return self._max_size

    async def execute(self, sql: str, parameters: Parameters = ()) -> Rows:
        """One autocommitted statement; its rows (as ``PostgresDatabase.execute``)."""
        pool = self._pool or await self._open()
        timeout = self.database.timeout
        try:
            connection = await pool.getconn(timeout)
        except psycopg.Error as error:
            raise pool_unavailable(error, timeout) from None
        try:
            cursor = await connection.execute(sql, parameters)
            return await cursor.fetchall()
        except psycopg.IntegrityError:
            raise  # the caller knows what a unique key means
        except psycopg.Error as error:
            raise unavailable(error) from None
        finally:
            await pool.putconn(connection)

    async def aclose(self) -> None:
        """Close the pool; safe to call more than once. Later statements are 503s (an
        open still in flight closes the pool it made)."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def __repr__(self) -> str:
        return "AsyncPostgresDatabase(<dsn hidden>)"  # a DSN may hold a password

    async def _open(self) -> AsyncPool:
        """The pool, once the tables are in place. Statements that find no pool share one
        attempt to make it (:meth:`_make_pool`): with the database down, they all get
        their 503 together, after one ``timeout``, not one ``timeout`` after another. A
        failed attempt is forgotten, so the next statement tries again. A statement
        cancelled while it waits (its client gone) leaves the attempt to the others."""
        if self._closed:
            raise StoreUnavailable(f"{WHERE}: the pool is closed")
        opening = self._opening
        if opening is None:
            opening = self._opening = asyncio.get_running_loop().create_task(self._make_pool())
            opening.add_done_callback(self._opened)
        return await asyncio.shield(opening)

    def _opened(self, opening: asyncio.Task[AsyncPool]) -> None:
        """An attempt is over: a failed one is forgotten (and its error retrieved, should
        every statement waiting on it have been cancelled)."""
        failed = opening.cancelled() or opening.exception() is not None
        if failed and self._opening is opening:
            self._opening = None

    async def _make_pool(self) -> AsyncPool:
        """Prepare the tables (in a thread: the sync database's schema logic blocks) and
        open the pool; a failure is the 503 every waiting statement gets."""
        database = self.database
        await asyncio.to_thread(database.prepare)
        pool: AsyncPool = psycopg_pool.AsyncConnectionPool(
            database.dsn,
            open=False,
            kwargs=connection_options(database.timeout),
            min_size=self._min_size,
            max_size=self._max_size,
        )
        await pool.open(wait=False)
        if self._closed:  # closed while this attempt ran: nobody would close this pool
            await pool.close()
            raise StoreUnavailable(f"{WHERE}: the pool is closed")
        self._pool = pool
        return pool
