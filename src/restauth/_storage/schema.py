"""Schema versions, the same rule for every database: create once, upgrade once, refuse
what is newer.

Each component (``users``, ``tokens``, ...) records its version in ``restauth_schema``.
A component may declare *upgrade steps*: step ``n`` takes its tables from version ``n``
to ``n + 1``, so a file or database written by any earlier release is brought forward
one step at a time. The database module runs them under its own lock (``BEGIN
IMMEDIATE`` in SQLite, an advisory lock in PostgreSQL) after reading the version again
inside it, so concurrent processes upgrade once between them. These functions only
decide; they hold no database-specific code, so every backend can share them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from restauth.errors import SchemaTooNew, StoreUnavailable

SCHEMA_TABLE = "restauth_schema"  # (component TEXT PRIMARY KEY, version INTEGER)
CREATE_SCHEMA_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {SCHEMA_TABLE} "
    "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
)


def needs_creation(found: int | None, component: str, version: int, where: str) -> bool:
    """Whether ``component``'s tables must be created, given the version recorded in ``where``.

    A newer version means a newer restauth wrote the tables: refuse rather than misread them.
    """
    if found is not None and found > version:
        raise SchemaTooNew(
            f"{where}: the {component!r} tables are at schema version {found}, "
            f"newer than this restauth ({version}); upgrade restauth"
        )
    return found is None


def is_current(found: int | None, component: str, version: int, where: str) -> bool:
    """Whether nothing is to be done: the tables exist at ``version``. A read outside any
    lock decides this, so a file already current never waits for a write lock. Raises
    :class:`SchemaTooNew` as :func:`needs_creation` does."""
    return not needs_creation(found, component, version, where) and found == version


def upgrade_steps(
    found: int, component: str, version: int, steps: Collection[int], where: str
) -> range:
    """The steps that take ``component`` from ``found`` to ``version``, in order (empty
    when it is there). ``steps`` are the versions the component knows how to upgrade
    *from*. A gap (tables older than any step reaches) is a :class:`StoreUnavailable`:
    the file needs an intermediate release, and no request may misread it meanwhile."""
    needs_creation(found, component, version, where)
    due = range(found, version)
    missing = [step for step in due if step not in steps]
    if missing:
        raise StoreUnavailable(
            f"{where}: the {component!r} tables are at schema version {found}, which this "
            f"restauth ({version}) cannot upgrade (no step from version {missing[0]})"
        )
    return due


Upgrade = Callable[[Any], None]
"""One upgrade step: given the connection, under the lock, it alters the tables."""


@dataclass(frozen=True)
class Schema:
    """A component's tables: its name in ``restauth_schema``, its version, how to create
    it, and ``upgrades[n]``, the step from version ``n`` to ``n + 1``."""

    component: str
    version: int
    statements: tuple[str, ...]
    upgrades: Mapping[int, Upgrade] = field(default_factory=dict)


class Executes(Protocol):
    """What creating or upgrading needs of a connection (sqlite3's and psycopg's alike)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...


def create_or_upgrade(
    connection: Executes, schema: Schema, found: int | None, mark: str, where: str
) -> None:
    """Under the caller's lock, with ``found`` just read again inside it: create the
    component's tables, or run its upgrade steps, and record the version. ``mark`` is the
    driver's placeholder (``?`` or ``%s``)."""
    component, version = schema.component, schema.version
    if needs_creation(found, component, version, where):
        for statement in schema.statements:
            connection.execute(statement)
        connection.execute(
            f"INSERT INTO {SCHEMA_TABLE} (component, version) VALUES ({mark}, {mark})",
            (component, version),
        )
    elif found is not None and found < version:
        for step in upgrade_steps(found, component, version, schema.upgrades, where):
            schema.upgrades[step](connection)
        connection.execute(
            f"UPDATE {SCHEMA_TABLE} SET version = {mark} WHERE component = {mark}",
            (version, component),
        )
