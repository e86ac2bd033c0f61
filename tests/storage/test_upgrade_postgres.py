"""Issue 17 item 9, PostgreSQL: a database as the previous release left it (its users
table, registered in ``restauth_schema``; that release kept no tokens in PostgreSQL)
keeps working, and the tokens table is added beside it on first use, once, however many
processes start together."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import psycopg
import pytest

from restauth import PasswordHasher
from restauth.errors import SchemaTooNew, StoreUnavailable
from restauth.tokens.base import TokenGrant
from restauth.tokens.postgres import PostgresTokenManager
from restauth.users.postgres import PostgresUserStore
from tests.storage.conftest import SECRET_KEY

# The previous release's DDL, verbatim (restauth 68be00a: _storage/schema.py and
# users/postgres.py), and what its first use wrote.
OLD_SCHEMA_TABLE = (
    "CREATE TABLE IF NOT EXISTS restauth_schema "
    "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
)
OLD_USERS = (
    "CREATE TABLE IF NOT EXISTS restauth_users ("
    " userid TEXT PRIMARY KEY,"
    " password_hash TEXT NOT NULL,"
    " roles TEXT NOT NULL DEFAULT '',"
    " stamp TEXT NOT NULL)"
)


@pytest.fixture
def old_database(postgres_schema_dsn: str, hasher: PasswordHasher) -> str:
    """The test schema as the previous release left it, with alice in it."""
    password_hash = hasher.hash("wonderland-key-7")
    with psycopg.connect(postgres_schema_dsn) as connection:
        connection.execute(OLD_SCHEMA_TABLE)
        connection.execute(OLD_USERS)
        connection.execute("INSERT INTO restauth_schema (component, version) VALUES ('users', 1)")
        connection.execute(
            "INSERT INTO restauth_users (userid, password_hash, roles, stamp) "
            "VALUES ('alice', %s, 'admin', 'stamp-1')",
            (password_hash,),
        )
    return postgres_schema_dsn


def registered(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as connection:
        rows = connection.execute("SELECT component, version FROM restauth_schema").fetchall()
    return {str(component): int(version) for component, version in rows}


def tables(dsn: str) -> set[str]:
    with psycopg.connect(dsn) as connection:
        rows = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
    return {str(row[0]) for row in rows}


def test_the_users_keep_working_and_tokens_are_added_beside_them(
    old_database: str, hasher: PasswordHasher
) -> None:
    users = PostgresUserStore(old_database, hasher=hasher)
    tokens = PostgresTokenManager(old_database, secret_key=SECRET_KEY)
    try:
        alice = users.get("alice")
        assert alice is not None
        assert (alice.roles, alice.stamp) == (frozenset({"admin"}), "stamp-1")
        assert hasher.verify("wonderland-key-7", alice.password_hash)
        assert "restauth_tokens" not in tables(old_database)  # nothing until tokens are used
        grant = tokens.issue("alice", alice.stamp)
        assert isinstance(tokens.authenticate(grant.token), TokenGrant)
        assert registered(old_database) == {"users": 2, "tokens": 1}  # users upgraded on first use
        assert {"restauth_users", "restauth_tokens"} <= tables(old_database)
        users.add("bob", "pebble-key-42")  # the old table takes writes from the new code
        assert users.get("bob") is not None
        assert sorted(users.userids()) == ["alice", "bob"]
    finally:
        users.close()
        tokens.close()


def test_managers_starting_together_create_the_table_once(old_database: str) -> None:
    """Eight managers (each its own pool, as in eight worker processes) use the database
    for the first time at the same instant: the table is created and registered once
    (a second CREATE TABLE or registration would fail), and every one of them works."""
    managers = [PostgresTokenManager(old_database, secret_key=SECRET_KEY) for _ in range(8)]
    start = threading.Barrier(len(managers))
    failures: list[BaseException] = []
    grants: list[TokenGrant] = []

    def first_use(manager: PostgresTokenManager) -> None:
        try:
            start.wait(timeout=10)
            grants.append(manager.issue("alice", "stamp-1"))
        except BaseException as error:  # reported below
            failures.append(error)

    threads = [threading.Thread(target=first_use, args=(m,)) for m in managers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not failures, failures
        assert registered(old_database) == {"users": 1, "tokens": 1}
        assert len({grant.session for grant in grants}) == 8
        assert len(managers[0].sessions("alice")) == 8
    finally:
        for manager in managers:
            manager.close()


def _first_use_in_a_process(dsn: str, start: Any, results: Any) -> None:
    manager = PostgresTokenManager(dsn, secret_key=SECRET_KEY)
    start.wait(timeout=30)
    try:
        results.put(manager.issue("alice", "stamp-1").session)
    except Exception as error:  # reported to the parent
        results.put(repr(error))
    finally:
        manager.close()


def test_two_processes_starting_together_create_the_table_once(old_database: str) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    results = context.Queue()
    processes = [
        context.Process(target=_first_use_in_a_process, args=(old_database, start, results))
        for _ in range(2)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert all(not outcome.startswith(("StoreUnavailable", "Schema")) for outcome in outcomes)
    assert registered(old_database) == {"users": 1, "tokens": 1}
    tokens = PostgresTokenManager(old_database, secret_key=SECRET_KEY)
    try:
        assert sorted(s.id for s in tokens.sessions("alice")) == sorted(outcomes)
    finally:
        tokens.close()


def test_a_tokens_table_from_a_newer_release_is_refused(old_database: str) -> None:
    with psycopg.connect(old_database) as connection:
        connection.execute("INSERT INTO restauth_schema (component, version) VALUES ('tokens', 9)")
    tokens = PostgresTokenManager(old_database, secret_key=SECRET_KEY)
    try:
        with pytest.raises(SchemaTooNew, match=r"'tokens'.*version 9") as raised:
            tokens.sessions("alice")
        assert isinstance(raised.value, StoreUnavailable)  # a 503, never a misread
        with pytest.raises(SchemaTooNew):  # each use tries again, and is refused again
            tokens.issue("alice", "stamp-1")
    finally:
        tokens.close()
    users = PostgresUserStore(old_database)
    try:
        assert users.get("alice") is not None  # the users component is unaffected
    finally:
        users.close()
