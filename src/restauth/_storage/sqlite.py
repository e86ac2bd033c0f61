"""One SQLite file shared by threads and processes: connections, pragmas, schema versions.

Every restauth table in a file is registered in ``restauth_schema`` under its own
component name (``users``, ``tokens``, ...), so users and tokens can share one file and
a later release knows which version of each table it finds. WAL mode lets readers run
beside one writer; ``busy_timeout`` makes a writer wait for another process instead of
failing with ``database is locked``.

Building a store does no I/O: a store only declares its tables
(:meth:`SQLiteDatabase.require`); they are checked (a read) and, if missing or older,
created or upgraded (a write) on first use, like the connection. A file that is locked
or cannot be opened when a worker starts is then a 503 for the requests that need it,
retried by the next one, never a worker that fails to boot.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from restauth._storage.schema import (
    CREATE_SCHEMA_TABLE,
    SCHEMA_TABLE,
    Schema,
    create_or_upgrade,
    is_current,
)
from restauth.errors import StoreUnavailable

DEFAULT_TIMEOUT = 10.0  # seconds a writer waits for another process's write lock
_VERSION = f"SELECT version FROM {SCHEMA_TABLE} WHERE component = ?"


Upgrade = Callable[[sqlite3.Connection], None]
"""One upgrade step: given the connection inside the ``BEGIN IMMEDIATE`` that runs it,
bring a component's tables from one version to the next (raise to roll it all back)."""


class SQLiteDatabase:
    """A path and one connection per thread (and per process, after a fork).

    ``sqlite3`` connections must not cross threads or a ``fork()``; keeping one per
    thread avoids both, and a pool would add nothing since SQLite opens in microseconds.
    Each connection has a lock its thread holds while using it, because :meth:`close`
    runs on another thread: ``sqlite3`` frees a connection closed under a running query
    and the process dies of a segmentation fault (a server shutting down while its
    outbox thread sends a reset mail).
    """

    def __init__(self, path: str | os.PathLike[str], timeout: float = DEFAULT_TIMEOUT) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._local = threading.local()
        self._all: list[_Opened] = []
        self._closing = threading.Lock()  # one close() at a time: each waits for them all
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
        from version ``n``), on first use; no I/O here, so building a store never fails
        (a locked or missing file is a 503 later, and is retried)."""
        schema = Schema(component, version, tuple(statements), dict(upgrades or {}))
        with self._lock:
            self._pending.append(schema)

    def connection(self) -> sqlite3.Connection:
        """This thread's connection, the required tables ready (:class:`StoreUnavailable`
        or :class:`~restauth.errors.SchemaTooNew` if not: the next call tries again).
        Use it inside :meth:`using` or :meth:`transaction`, or :meth:`close` may close it
        under the query."""
        return self._opened().connection

    @contextlib.contextmanager
    def using(self) -> Iterator[sqlite3.Connection]:
        """This thread's connection, held so that :meth:`close` waits for the caller."""
        opened = self._held()
        try:
            yield opened.connection
        finally:
            opened.lock.release()

    def _held(self) -> _Opened:
        """This thread's connection, its lock acquired (the caller releases it): never
        one that :meth:`close` closed while this thread waited for the lock."""
        while True:
            opened = self._opened()
            opened.lock.acquire()
            if not opened.closed:
                return opened
            opened.lock.release()

    def _opened(self) -> _Opened:
        opened: _Opened | None = getattr(self._local, "opened", None)
        if opened is None or opened.closed or opened.pid != os.getpid():
            opened = _Opened(self._connect())
            self._local.opened = opened
            with self._lock:
                self._all.append(opened)
        if self._pending:  # empty after the first use: one test per call
            with opened.lock:
                self._create_pending(opened.connection)
        return opened

    def _connect(self) -> sqlite3.Connection:
        try:
            connection = sqlite3.connect(
                self.path,
                timeout=self.timeout,
                isolation_level=None,  # autocommit; transactions are explicit (BEGIN IMMEDIATE)
                check_same_thread=False,  # closed from close() on another thread
            )
        except sqlite3.Error as error:
            raise StoreUnavailable(
                f"SQLite database {self.path} cannot be opened: {error}"
            ) from None
        try:
            connection.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            self._use_wal(connection)
            connection.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints in WAL
        except sqlite3.Error as error:
            connection.close()
            raise StoreUnavailable(
                f"SQLite database {self.path} cannot be opened: {error}"
            ) from None
        return connection

    def _use_wal(self, connection: sqlite3.Connection) -> None:
        """``journal_mode = WAL``, waiting up to ``timeout`` for other processes.

        Switching a new file to WAL needs it to itself, and SQLite answers "database is
        locked" at once, without its busy handler, while another process has it open: the
        workers of a server that start together on a new file would fail their first
        request. The mode is kept in the file, so only that first moment waits here.
        """
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                connection.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.005)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock up front (no deadlocking upgrade)."""
        opened = self._held()
        try:
            with _immediate(opened.connection, self.path) as connection:
                yield connection
        finally:
            opened.lock.release()

    def execute(
        self, sql: str, parameters: Sequence[object] | Mapping[str, object] = ()
    ) -> list[tuple[Any, ...]]:
        """One autocommitted statement; its rows. (A plain ``try``, not
        :func:`errors_as_unavailable`: a Token check runs this, and a generator-based
        context manager costs it about 2 µs.)"""
        try:
            opened = self._held()
            try:
                return opened.connection.execute(sql, parameters).fetchall()
            finally:
                opened.lock.release()
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as error:
            raise unavailable(self.path, error) from None

    def _create_pending(self, connection: sqlite3.Connection) -> None:
        for schema in list(self._pending):
            self._migrate(connection, schema)
            with self._lock:
                if schema in self._pending:
                    self._pending.remove(schema)

    def _migrate(self, connection: sqlite3.Connection, schema: Schema) -> None:
        """Create ``schema``'s tables unless they are there, upgrade them if they are
        older; refuse a file from a newer release. Current tables cost one read, no write
        lock: a worker that restarts while another process writes needs nothing from it.
        Otherwise the version is read again under the write lock, so of several processes
        starting at once one creates or upgrades and the others find it done."""
        where, component, version = str(self.path), schema.component, schema.version
        if is_current(_version(connection, component, self.path), component, version, where):
            return
        with _immediate(connection, self.path):
            connection.execute(CREATE_SCHEMA_TABLE)
            found = _version(connection, component, self.path)
            create_or_upgrade(connection, schema, found, "?", where)

    def close(self) -> None:
        """Close every connection this object opened in this process; a thread's next
        use opens a new one. Another thread's connection is closed when that thread is
        done with it (its running statement or transaction, which may itself wait up to
        ``timeout`` for another process's write lock); the caller's own, at once. A
        forked child only forgets its parent's connections (their locks may be held by
        threads the child does not have; the garbage collector closes its copies)."""
        pid = os.getpid()
        with self._closing:
            with self._lock:
                opened, self._all = self._all, []
            for each in opened:
                if each.pid != pid:
                    continue
                with each.lock:
                    each.closed = True
                    with contextlib.suppress(sqlite3.Error):
                        each.connection.close()


class _Opened:
    """A thread's connection; the lock the thread holds while it uses the connection
    (re-entrant: a transaction may run statements through :meth:`SQLiteDatabase.execute`);
    the process that opened it; whether :meth:`SQLiteDatabase.close` closed it."""

    __slots__ = ("closed", "connection", "lock", "pid")

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self.lock = threading.RLock()
        self.pid = os.getpid()
        self.closed = False


def _version(connection: sqlite3.Connection, component: str, path: Path) -> int | None:
    """The version of ``component`` recorded in the file; ``None`` when there is none."""
    with errors_as_unavailable(path):
        try:
            row = connection.execute(_VERSION, (component,)).fetchone()
        except sqlite3.OperationalError as error:
            if "no such table" not in str(error):
                raise
            return None  # a new file: the schema table itself is still to be created
    return None if row is None else int(row[0])


@contextlib.contextmanager
def _immediate(connection: sqlite3.Connection, path: Path) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` on ``connection``, rolled back on any error."""
    with errors_as_unavailable(path):
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")


@contextlib.contextmanager
def errors_as_unavailable(path: Path) -> Iterator[None]:
    """Turn SQLite failures (locked too long, disk I/O, corrupt file) into a 503."""
    try:
        yield
    except sqlite3.IntegrityError:
        raise
    except sqlite3.Error as error:
        raise unavailable(path, error) from None


def unavailable(path: Path, error: sqlite3.Error) -> StoreUnavailable:
    """What a SQLite failure (locked too long, disk I/O, corrupt file) becomes: a 503."""
    return StoreUnavailable(f"SQLite database {path}: {type(error).__name__}: {error}")
