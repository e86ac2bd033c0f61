"""Users in PostgreSQL (extra ``restauth[postgres]``): one user table for many machines.

The connection pool, its per-process opening and the table's creation on first use are
:class:`restauth._storage.postgres.PostgresDatabase`'s, shared with the token manager.
Each query is one autocommitted statement: one round trip.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from restauth._storage.postgres import MIGRATION_LOCK, PostgresDatabase
from restauth.errors import UserExists
from restauth.passwords.hasher import PasswordHasher
from restauth.users.sql import SCHEMA_VERSION, TABLE, SQLUserStore

SCHEMA = [
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    " userid TEXT PRIMARY KEY,"
    " password_hash TEXT NOT NULL,"
    " roles TEXT NOT NULL DEFAULT '',"
    " stamp TEXT NOT NULL)",
]
_MIGRATION_LOCK = MIGRATION_LOCK  # its old name: tests hold it to simulate a slow migration


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
        self.database = PostgresDatabase(dsn, min_size=min_size, max_size=max_size, timeout=timeout)
        self.database.require("users", SCHEMA_VERSION, SCHEMA)  # no I/O until first use

    @property
    def dsn(self) -> str:
        return self.database.dsn

    @property
    def timeout(self) -> float:
        return self.database.timeout

    def _query(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[object, ...]]:
        return self.database.execute(sql, parameters)

    def _modify(self, sql: str, parameters: Sequence[object] = ()) -> int:
        try:
            return self.database.modify(sql, parameters)
        except psycopg.errors.UniqueViolation:
            raise UserExists(f"user {parameters[0]!r} already exists") from None

    def close(self) -> None:
        self.database.close()

    def __repr__(self) -> str:
        return "PostgresUserStore(<dsn hidden>)"  # a DSN may hold a password
