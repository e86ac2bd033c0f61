"""Issue 17 item 9: a SQLite file written by the previous release (one token per user,
``tokens`` schema version 1) is upgraded in place on first use, once, and every token it
holds goes on working as a session of its own."""

from __future__ import annotations

import multiprocessing
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from restauth._storage import sqlite as storage
from restauth.errors import SchemaTooNew, StoreUnavailable
from restauth.tokens import sqlite as tokens_module
from restauth.tokens.base import DeadToken, TokenCodec, TokenGrant
from restauth.tokens.sqlite import SQLiteTokenManager
from restauth.users.sqlite import SQLiteUserStore
from tests.conftest import FakeClock
from tests.storage.conftest import SECRET_KEY

# The previous release's DDL, verbatim (restauth 68be00a: _storage/schema.py,
# users/sqlite.py, tokens/sqlite.py).
OLD_SCHEMA_TABLE = (
    "CREATE TABLE IF NOT EXISTS restauth_schema "
    "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
)
OLD_USERS = (
    "CREATE TABLE restauth_users ("
    " userid TEXT PRIMARY KEY NOT NULL,"
    " password_hash TEXT NOT NULL,"
    " roles TEXT NOT NULL DEFAULT '',"
    " stamp TEXT NOT NULL"
    ") WITHOUT ROWID"
)
OLD_TOKENS = (
    "CREATE TABLE restauth_tokens ("
    " token_id TEXT PRIMARY KEY NOT NULL,"
    " userid TEXT NOT NULL UNIQUE,"  # one current token per user
    " stamp TEXT NOT NULL,"
    " created REAL NOT NULL,"
    " idle_deadline REAL NOT NULL"
    ") WITHOUT ROWID"
)
TTL, MAX_LIFETIME = 900.0, 3600.0


def old_release_file(path: Path, rows: list[tuple[str, str, float, float]]) -> dict[str, str]:
    """A file as the previous release left it: users and tokens (``userid, stamp, created,
    idle_deadline`` per token), each token stored as its id only. The tokens, by userid."""
    codec = TokenCodec(SECRET_KEY)
    tokens = {}
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    for statement in (OLD_SCHEMA_TABLE, OLD_USERS, OLD_TOKENS):
        connection.execute(statement)
    connection.execute("INSERT INTO restauth_schema VALUES ('users', 1), ('tokens', 1)")
    for userid, stamp, created, idle_deadline in rows:
        token_id = codec.new_id()
        connection.execute(
            "INSERT INTO restauth_tokens VALUES (?, ?, ?, ?, ?)",
            (token_id, userid, stamp, created, idle_deadline),
        )
        connection.execute(
            "INSERT INTO restauth_users VALUES (?, ?, ?, ?)",
            (userid, f"$2b$04${userid}-hash", "admin" if userid == "alice" else "", stamp),
        )
        tokens[userid] = codec.token_for(token_id)
    connection.close()
    return tokens


def manager(path: Path, clock: FakeClock, **options: Any) -> SQLiteTokenManager:
    return SQLiteTokenManager(
        path, TTL, max_lifetime=MAX_LIFETIME, clock=clock, secret_key=SECRET_KEY, **options
    )


def dump(path: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as connection:
        return connection.execute(sql).fetchall()


def versions(path: Path) -> dict[str, int]:
    return dict(dump(path, "SELECT component, version FROM restauth_schema"))  # type: ignore[arg-type]


@pytest.fixture
def old_file(tmp_path: Path, clock: FakeClock) -> tuple[Path, dict[str, str]]:
    """alice (logged in 100 s ago, used 5 s ago), bob (idle past his deadline), carol
    (used a minute ago, but logged in longer ago than max_lifetime)."""
    now, path = clock.now, tmp_path / "auth.db"
    tokens = old_release_file(
        path,
        [
            ("alice", "stamp-a", now - 100, now - 5 + TTL),
            ("bob", "stamp-b", now - 2000, now - 1),
            ("carol", "stamp-c", now - MAX_LIFETIME - 5, now - 60 + TTL),
        ],
    )
    return path, tokens


def test_an_old_token_authenticates_and_is_a_listed_session(
    old_file: tuple[Path, dict[str, str]], clock: FakeClock
) -> None:
    path, old = old_file
    tokens = manager(path, clock)
    grant = tokens.authenticate(old["alice"])
    assert isinstance(grant, TokenGrant)
    assert (grant.userid, grant.stamp, grant.created) == ("alice", "stamp-a", clock.now - 100)
    assert grant.valid_until == clock.now - 5 + TTL  # the stored idle deadline, kept
    assert grant.session
    assert grant.session not in old["alice"]
    (session,) = tokens.sessions("alice")
    assert (session.id, session.kind, session.client) == (grant.session, "login", "")
    assert session.created == clock.now - 100
    assert session.last_used == clock.now - 5
    assert session.stamp == "stamp-a"
    assert versions(path)["tokens"] == 2
    names = {name for (name,) in dump(path, "SELECT name FROM sqlite_master")}
    assert "restauth_tokens_v1" not in names


def test_old_tokens_that_had_died_stay_dead(
    old_file: tuple[Path, dict[str, str]], clock: FakeClock
) -> None:
    path, old = old_file
    tokens = manager(path, clock)
    for userid in ("bob", "carol"):  # idle too long; past created + max_lifetime
        verdict = tokens.authenticate(old[userid])
        assert isinstance(verdict, DeadToken)
        assert (verdict.userid, verdict.reason) == (userid, "expired")
        assert tokens.sessions(userid) == []
    assert len(tokens) == 1


def test_an_old_session_can_be_ended_and_renewed(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "auth.db"
    old = old_release_file(path, [("alice", "s", clock.now - 5, clock.now + TTL)])
    tokens = manager(path, clock)
    (alice,) = tokens.sessions("alice")
    phone = tokens.issue("alice", "s", client="phone")  # a second session beside the old one
    assert [s.id for s in tokens.sessions("alice")] == [alice.id, phone.session]
    clock.advance(30)
    renewed = tokens.renew(old["alice"])
    assert isinstance(renewed, TokenGrant)
    assert (renewed.session, renewed.created) == (alice.id, alice.created)
    assert tokens.authenticate(old["alice"]) == DeadToken("alice", alice.id, "ended")
    assert isinstance(tokens.authenticate(renewed.token), TokenGrant)
    assert tokens.end("alice", alice.id) is True
    assert tokens.authenticate(renewed.token) == DeadToken("alice", alice.id, "ended")
    assert [s.id for s in tokens.sessions("alice")] == [phone.session]


def test_the_users_table_is_untouched(
    old_file: tuple[Path, dict[str, str]], clock: FakeClock
) -> None:
    path, _ = old_file
    users_sql = "SELECT sql FROM sqlite_master WHERE tbl_name = 'restauth_users'"
    users_before = dump(path, "SELECT * FROM restauth_users ORDER BY userid")
    ddl_before = dump(path, users_sql)
    assert manager(path, clock).sessions("alice")  # the first use upgrades
    assert dump(path, "SELECT * FROM restauth_users ORDER BY userid") == users_before
    assert dump(path, users_sql) == ddl_before
    assert versions(path) == {"users": 1, "tokens": 2}
    store = SQLiteUserStore(path)
    user = store.get("alice")
    assert user is not None
    assert (user.stamp, user.roles) == ("stamp-a", frozenset({"admin"}))
    store.close()


def test_concurrent_managers_upgrade_once(
    old_file: tuple[Path, dict[str, str]], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both managers read version 1 before either takes the write lock (a barrier after
    the first read of each thread); the one that gets the lock second reads version 2
    under it and leaves the table alone."""
    path, old = old_file
    runs: list[int] = []
    real_step, real_version = tokens_module.upgrade_from_v1, storage._version

    def counted_step(ttl: float, max_lifetime: float) -> Any:
        step = real_step(ttl, max_lifetime)

        def run(connection: sqlite3.Connection) -> None:
            runs.append(1)
            step(connection)

        return run

    both_read = threading.Barrier(2, timeout=10)
    first_read = threading.local()

    def version_then_wait(*args: Any) -> int | None:
        found = real_version(*args)
        if not getattr(first_read, "done", False):
            first_read.done = True
            assert found == 1
            both_read.wait()
        return found

    monkeypatch.setattr(tokens_module, "upgrade_from_v1", counted_step)
    monkeypatch.setattr(storage, "_version", version_then_wait)
    managers = [manager(path, clock), manager(path, clock)]
    seen: list[object] = []

    def use(tokens: SQLiteTokenManager) -> None:
        seen.append(tokens.authenticate(old["alice"]))

    threads = [threading.Thread(target=use, args=(tokens,)) for tokens in managers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert runs == [1]
    assert len(seen) == 2
    assert all(isinstance(grant, TokenGrant) for grant in seen)
    assert len({grant.session for grant in seen if isinstance(grant, TokenGrant)}) == 1
    assert len(dump(path, "SELECT * FROM restauth_tokens")) == 3
    for tokens in managers:
        tokens.close()


def _use_old_token(path: str, token: str, start: Any, results: Any) -> None:
    """In a child process: wait for the others, then make the first use of the file."""
    tokens = SQLiteTokenManager(path, TTL, max_lifetime=MAX_LIFETIME, secret_key=SECRET_KEY)
    start.wait()
    try:
        grant = tokens.authenticate(token)
        results.put(grant.session if isinstance(grant, TokenGrant) else repr(grant))
    except Exception as error:  # reported to the parent, which fails the test
        results.put(f"{type(error).__name__}: {error}")


def test_processes_starting_at_once_upgrade_once(tmp_path: Path) -> None:
    """Four processes make their first use of an old file at the same moment: all get the
    same session for the old token (a second upgrade would have given it another id, or
    failed), and the file holds one row per old token."""
    import time

    path = tmp_path / "auth.db"
    now = time.time()
    old = old_release_file(path, [("alice", "s", now - 10, now + TTL), ("bob", "s", now, now + 9)])
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(4, timeout=30), context.Queue()
    workers = [
        context.Process(target=_use_old_token, args=(str(path), old["alice"], start, results))
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    sessions = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert len(set(sessions)) == 1, sessions
    assert len(sessions[0]) == 24  # a session id (96 bits, hex), not an error
    assert versions(path) == {"users": 1, "tokens": 2}
    assert sorted(dump(path, "SELECT userid FROM restauth_tokens")) == [("alice",), ("bob",)]


def test_a_failed_upgrade_leaves_the_old_file_as_it_was(
    old_file: tuple[Path, dict[str, str]], clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upgrade runs in one transaction: a failure midway (here, after the old table
    was renamed and the new one filled) rolls all of it back, and the next use retries."""
    path, old = old_file
    before = dump(path, "SELECT * FROM restauth_tokens ORDER BY token_id")
    real_step = tokens_module.upgrade_from_v1

    def failing_step(ttl: float, max_lifetime: float) -> Any:
        step = real_step(ttl, max_lifetime)

        def run(connection: sqlite3.Connection) -> None:
            step(connection)
            connection.execute("SELECT * FROM no_such_table")

        return run

    monkeypatch.setattr(tokens_module, "upgrade_from_v1", failing_step)
    with pytest.raises(StoreUnavailable, match="no_such_table"):
        manager(path, clock).authenticate(old["alice"])
    assert versions(path) == {"users": 1, "tokens": 1}
    assert dump(path, "SELECT * FROM restauth_tokens ORDER BY token_id") == before
    monkeypatch.setattr(tokens_module, "upgrade_from_v1", real_step)
    assert isinstance(manager(path, clock).authenticate(old["alice"]), TokenGrant)


def test_a_newer_tokens_schema_is_still_refused(
    old_file: tuple[Path, dict[str, str]], clock: FakeClock
) -> None:
    path, old = old_file
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE restauth_schema SET version = 3 WHERE component = 'tokens'")
    with pytest.raises(SchemaTooNew, match="schema version 3"):
        manager(path, clock).authenticate(old["alice"])


def test_a_version_no_step_reaches_is_refused(
    old_file: tuple[Path, dict[str, str]], clock: FakeClock
) -> None:
    """Older than any upgrade step: a 503 that says so, never a misread table."""
    path, old = old_file
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE restauth_schema SET version = 0 WHERE component = 'tokens'")
    with pytest.raises(StoreUnavailable, match="cannot upgrade"):
        manager(path, clock).authenticate(old["alice"])
    assert versions(path)["tokens"] == 0
