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

from collections.abc import Collection

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
