"""What only persistent backends promise: restarts, keys, dumps that authenticate nobody,
and schema versions that let two components share one SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from restauth import MissingSecretKey, PasswordHasher
from restauth.errors import SchemaTooNew, StoreUnavailable
from restauth.tokens.base import TokenGrant
from restauth.tokens.sqlite import SQLiteTokenManager
from restauth.users.sqlite import SQLiteUserStore
from tests.conftest import FakeClock
from tests.services import redis_url
from tests.storage.conftest import SECRET_KEY


def redis_manager(prefix: str, clock: FakeClock, **options: Any) -> Any:
    from restauth.tokens.redis import RedisTokenManager

    return RedisTokenManager(redis_url(), 900, prefix=prefix, clock=clock, **options)


def test_sqlite_data_survives_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "auth.db"
    users = SQLiteUserStore(path, hasher=PasswordHasher(rounds=4))
    users.add("alice", "correct horse battery", roles=["admin"])
    tokens = SQLiteTokenManager(path, clock=clock, secret_key=SECRET_KEY)
    token = tokens.issue("alice", users.get("alice").stamp).token
    users.close()
    tokens.close()

    users = SQLiteUserStore(path)
    tokens = SQLiteTokenManager(path, clock=clock, secret_key=SECRET_KEY)
    assert users.get("alice").roles == frozenset({"admin"})
    grant = tokens.authenticate(token)
    assert isinstance(grant, TokenGrant)
    assert grant.userid == "alice"
    assert [s.id for s in tokens.sessions("alice")] == [grant.session]  # the session list too
    # A restart with another key cannot check the stored tokens: they are refused, not crashed.
    other = SQLiteTokenManager(path, clock=clock, secret_key="another-key-0123456789")
    assert other.authenticate(token) is None


def test_redis_data_survives_a_new_client(redis_prefix: str, clock: FakeClock) -> None:
    token = redis_manager(redis_prefix, clock, secret_key=SECRET_KEY).issue("alice", "s").token
    again = redis_manager(redis_prefix, clock, secret_key=SECRET_KEY)
    grant = again.authenticate(token)
    assert isinstance(grant, TokenGrant)
    assert [s.id for s in again.sessions("alice")] == [grant.session]  # the session list too
    other = redis_manager(redis_prefix, clock, secret_key="another-key-0123456789")
    assert other.authenticate(token) is None


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_persistent_managers_need_a_key(
    backend: str, tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def build(**options: Any) -> Any:
        if backend == "sqlite":
            return SQLiteTokenManager(tmp_path / "t.db", clock=clock, **options)
        return redis_manager(f"restauth-test:{tmp_path.name}:", clock, **options)

    monkeypatch.delenv("RESTAUTH_SECRET_KEY", raising=False)
    with pytest.raises(MissingSecretKey, match="RESTAUTH_SECRET_KEY"):
        build()
    monkeypatch.setenv("RESTAUTH_SECRET_KEY", SECRET_KEY)
    token = build().issue("alice", "s").token
    monkeypatch.delenv("RESTAUTH_SECRET_KEY")
    manager = build(secret_key=SECRET_KEY)
    assert manager.authenticate(token) is not None  # the first key came from the environment
    manager.revoke("alice")
    with pytest.raises(ValueError, match="16 bytes"):
        build(secret_key="short")


def _try_everything(manager: Any, values: set[str], token: str) -> None:
    """No stored value, nor the stored id with a guessed suffix, authenticates."""
    assert values, "the dump is empty: the test would prove nothing"
    assert not any(token in value for value in values)
    assert token.split(".")[0] in " ".join(values)  # the id is there (that is by design)...
    for value in values:
        for candidate in (value, value + ".", value + "." + value):
            assert manager.authenticate(candidate) is None  # ...and useless without the key


def test_sqlite_dump_authenticates_nobody(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "auth.db"
    tokens = SQLiteTokenManager(path, clock=clock, secret_key=SECRET_KEY)
    token = tokens.issue("alice", "stamp").token
    files = [path, tmp_path / "auth.db-wal"]
    raw = b"".join(file.read_bytes() for file in files if file.exists())  # while open: WAL too
    tokens.close()
    assert token.encode() not in raw + path.read_bytes()
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT * FROM restauth_tokens").fetchall()
    values = {str(column) for row in rows for column in row}
    _try_everything(SQLiteTokenManager(path, clock=clock, secret_key=SECRET_KEY), values, token)


def test_redis_dump_authenticates_nobody(redis_prefix: str, clock: FakeClock) -> None:
    manager = redis_manager(redis_prefix, clock, secret_key=SECRET_KEY)
    token = manager.issue("alice", "stamp").token
    manager.issue("alice", "stamp", kind="basic")  # every kind of key: hash, zset, string
    client = manager.client
    values: set[str] = set()
    for key in client.scan_iter(match=redis_prefix + "*"):
        values.add(key.decode())
        kind = client.type(key)
        if kind == b"hash":
            values.update(f.decode() for pair in client.hgetall(key).items() for f in pair)
        elif kind == b"zset":
            values.update(member.decode() for member in client.zrange(key, 0, -1))
        else:
            values.add(client.get(key).decode())
    _try_everything(manager, values, token)


def _log_in_and_out(path: str, number: int, start: Any, results: Any) -> None:
    """In a child process: 12 logins of alice; every third kept, the others ended."""
    tokens = SQLiteTokenManager(path, max_sessions=1000, secret_key=SECRET_KEY)
    kept: list[tuple[str, str]] = []
    ended: list[str] = []
    problems: list[str] = []
    start.wait()
    try:
        for round_ in range(12):
            grant = tokens.issue("alice", "s", client=f"process {number}")
            if not isinstance(tokens.authenticate(grant.token), TokenGrant):
                problems.append(f"{number}/{round_}: a new session did not work")
            if round_ % 3 == 0:
                kept.append((grant.session, grant.token))
                continue
            if tokens.end("alice", grant.session) is not True:
                problems.append(f"{number}/{round_}: a live session could not be ended")
            ended.append(grant.token)
            if isinstance(tokens.authenticate(grant.token), TokenGrant):
                problems.append(f"{number}/{round_}: an ended session still works")
    except Exception as error:  # reported to the parent, which fails the test
        problems.append(f"{number}: {type(error).__name__}: {error}")
    results.put((kept, ended, problems))


def test_sqlite_processes_lose_and_resurrect_no_session(tmp_path: Path) -> None:
    """Issue 17: four processes log one user in and out on one file at once; every
    session kept is listed and works, every one ended stays ended."""
    import multiprocessing

    path = str(tmp_path / "auth.db")
    context = multiprocessing.get_context("spawn")
    start, results = context.Barrier(4, timeout=30), context.Queue()
    workers = [
        context.Process(target=_log_in_and_out, args=(path, number, start, results))
        for number in range(4)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert [problem for _, _, problems in outcomes for problem in problems] == []
    kept = [pair for pairs, _, _ in outcomes for pair in pairs]
    ended = [token for _, tokens, _ in outcomes for token in tokens]
    assert (len(kept), len(ended)) == (16, 32)
    tokens = SQLiteTokenManager(path, max_sessions=1000, secret_key=SECRET_KEY)
    assert {session.id for session in tokens.sessions("alice")} == {s for s, _ in kept}
    assert all(isinstance(tokens.authenticate(token), TokenGrant) for _, token in kept)
    assert not any(isinstance(tokens.authenticate(token), TokenGrant) for token in ended)
    assert tokens.revoke("alice") == 16
    tokens.close()


def test_users_and_tokens_share_one_sqlite_file(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "auth.db"
    SQLiteUserStore(path).add("alice", "correct horse battery")
    SQLiteTokenManager(path, clock=clock, secret_key=SECRET_KEY).issue("alice", "s")
    with sqlite3.connect(path) as connection:
        versions = dict(connection.execute("SELECT component, version FROM restauth_schema"))
        journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert versions == {"users": 2, "tokens": 2}
    assert journal == "wal"
    SQLiteUserStore(path)  # opening again migrates nothing and loses nothing
    assert SQLiteUserStore(path).get("alice") is not None


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "auth.db"
    SQLiteUserStore(path).get("alice")  # the first use creates the tables
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE restauth_schema SET version = 99 WHERE component = 'users'")
    store = SQLiteUserStore(path)  # building it reads nothing
    with pytest.raises(SchemaTooNew, match="schema version 99"):
        store.get("alice")
    with pytest.raises(RuntimeError, match="upgrade restauth"):  # its old type still catches it
        store.get("alice")  # refused again: nothing remembered a half-done check


def test_a_newer_schema_is_a_503_that_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from webtest import TestApp

    from restauth import AuthMiddleware
    from tests.conftest import basic, echo_app

    path = tmp_path / "auth.db"
    SQLiteUserStore(path, hasher=PasswordHasher(rounds=4)).add("alice", "wonderland-key-7")
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE restauth_schema SET version = 99 WHERE component = 'users'")
    app = AuthMiddleware(echo_app, users=SQLiteUserStore(path), tokens=None, throttle=None)
    headers = {"Authorization": basic("alice", "wonderland-key-7")}
    response = TestApp(app).get("/", headers=headers, status=503)
    assert "Retry-After" in response.headers
    assert "schema version 99" in caplog.text
    assert "upgrade restauth" in caplog.text


def test_building_sqlite_stores_touches_no_file(tmp_path: Path) -> None:
    from restauth.throttle.sqlite import SQLiteThrottleStore
    from restauth.tokens.revocation import SQLiteRevocation

    missing = tmp_path / "no-such-directory" / "auth.db"  # cannot even be created
    SQLiteUserStore(missing)
    tokens = SQLiteTokenManager(missing, secret_key=SECRET_KEY)
    tokens.throttle_store()
    SQLiteThrottleStore(missing)
    SQLiteRevocation(missing)
    assert not missing.parent.exists()
    with pytest.raises(StoreUnavailable, match="cannot be opened"):
        tokens.sessions("alice")


def test_postgres_repr_hides_the_dsn() -> None:
    from restauth.users.postgres import PostgresUserStore

    store = PostgresUserStore("postgresql://app:hunter2@db.example/auth")
    assert "hunter2" not in repr(store)
