"""PostgreSQL through psycopg's async pool: the ASGI adapter's reads on the event loop.

An :class:`AsyncPostgresDatabase` serves the :class:`~restauth._storage.postgres.PostgresDatabase`
it is made from: the same DSN and timeout, the same failures (a 503 naming the error's
type, never the DSN, which may hold a password) and that database's tables. The schema
logic stays there: before the first query, its :meth:`~PostgresDatabase.prepare` runs
once, in a thread. The pool belongs to the event loop that first uses it, and opens then:
building one does no I/O.
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

AsyncConnection = psycopg.AsyncConnection[TupleRow]
AsyncPool = psycopg_pool.AsyncConnectionPool[AsyncConnection]


class AsyncPostgresDatabase:
    """``database`` reached through an async pool of ``min_size`` to ``database.max_size``
    connections (few: a statement holds one only for its round trip)."""

    def __init__(self, database: PostgresDatabase, *, min_size: int = 1) -> None:
        self.database = database
        self._min_size = min(min_size, database.max_size)
        self._pool: AsyncPool | None = None
        self._opening = asyncio.Lock()  # bound to the loop on first use (Python >= 3.10)
        self._closed = False

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
        """Close the pool; safe to call more than once. Later statements are 503s."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    def __repr__(self) -> str:
        return "AsyncPostgresDatabase(<dsn hidden>)"  # a DSN may hold a password

    async def _open(self) -> AsyncPool:
        """The pool, once the tables are in place: the first caller prepares them (in a
        thread: the sync database's schema logic blocks) and opens it; a failure is a 503
        and the next statement tries again."""
        async with self._opening:
            if self._closed:
                raise StoreUnavailable(f"{WHERE}: the pool is closed")
            if self._pool is None:
                database = self.database
                await asyncio.to_thread(database.prepare)
                pool: AsyncPool = psycopg_pool.AsyncConnectionPool(
                    database.dsn,
                    open=False,
                    kwargs=connection_options(database.timeout),
                    min_size=self._min_size,
                    max_size=database.max_size,
                )
                await pool.open(wait=False)
                self._pool = pool
            return self._pool
