"""Schema versions, the same rule for every database: create once, refuse what is newer."""

from __future__ import annotations

from restauth.errors import SchemaTooNew

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
