"""One SQLite file shared by threads and processes: connections, pragmas, schema versions.

Every restauth table in a file is registered in ``restauth_schema`` under its own
component name (``users``, ``tokens``, ...), so users and tokens can share one file and
a later release knows which version of each table it finds. WAL mode lets readers run
beside one writer; ``busy_timeout`` makes a writer wait for another process instead of
failing with ``database is locked``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from restauth._storage.schema import CREATE_SCHEMA_TABLE, SCHEMA_TABLE, needs_creation
from restauth.errors import StoreUnavailable

DEFAULT_TIMEOUT = 10.0  # seconds a writer waits for another process's write lock


class SQLiteDatabase:
    """A path and one connection per thread (and per process, after a fork).

    ``sqlite3`` connections must not cross threads or a ``fork()``; keeping one per
    thread avoids both, and a pool would add nothing since SQLite opens in microseconds.
    """

    def __init__(self, path: str | os.PathLike[str], timeout: float = DEFAULT_TIMEOUT) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None or self._local.pid != os.getpid():
            connection = self._connect()
            self._local.connection, self._local.pid = connection, os.getpid()
        return connection

    def _connect(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(
                self.path,
                timeout=self.timeout,
                isolation_level=None,  # autocommit; transactions are explicit (BEGIN IMMEDIATE)
                check_same_thread=False,  # closed from close() on another thread
            )
            connection.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints in WAL
        except sqlite3.Error as error:
            raise StoreUnavailable(
                f"SQLite database {self.path} cannot be opened: {error}"
            ) from None
        with self._lock:
            self._all.append(connection)
        return connection

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock up front (no deadlocking upgrade)."""
        connection = self.connection()
        with errors_as_unavailable(self.path):
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def execute(
        self, sql: str, parameters: Sequence[object] | Mapping[str, object] = ()
    ) -> list[tuple[Any, ...]]:
        """One autocommitted statement; its rows."""
        with errors_as_unavailable(self.path):
            return self.connection().execute(sql, parameters).fetchall()

    def migrate(self, component: str, version: int, statements: Sequence[str]) -> None:
        """Create ``component``'s tables on first use; refuse a file from a newer release."""
        with self.transaction() as connection:
            connection.execute(CREATE_SCHEMA_TABLE)
            row = connection.execute(
                f"SELECT version FROM {SCHEMA_TABLE} WHERE component = ?", (component,)
            ).fetchone()
            if needs_creation(None if row is None else row[0], component, version, str(self.path)):
                for statement in statements:
                    connection.execute(statement)
                connection.execute(
                    f"INSERT INTO {SCHEMA_TABLE} (component, version) VALUES (?, ?)",
                    (component, version),
                )

    def close(self) -> None:
        """Close every connection this object opened, on any thread."""
        with self._lock:
            connections, self._all = self._all, []
        for connection in connections:
            with contextlib.suppress(sqlite3.Error):
                connection.close()
        self._local = threading.local()


@contextlib.contextmanager
def errors_as_unavailable(path: Path) -> Iterator[None]:
    """Turn SQLite failures (locked too long, disk I/O, corrupt file) into a 503."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise
    except sqlite3.Error as error:
        raise StoreUnavailable(f"SQLite database {path}: {type(error).__name__}: {error}") from None
