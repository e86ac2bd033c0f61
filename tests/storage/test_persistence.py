"""What only persistent backends promise: restarts, keys, dumps that authenticate nobody,
and schema versions that let two components share one SQLite file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from restauth import MissingSecretKey, PasswordHasher
from restauth.errors import SchemaTooNew, StoreUnavailable
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
    users.add("alice", "pw", roles=["admin"])
    tokens = SQLiteTokenManager(path, clock=clock, secret_key=SECRET_KEY)
    token = tokens.issue("alice", users.get("alice").stamp).token
    users.close()
    tokens.close()

    users = SQLiteUserStore(path)
    tokens = SQLiteTokenManager(path, clock=clock, secret_key=SECRET_KEY)
    assert users.get("alice").roles == frozenset({"admin"})
    grant = tokens.authenticate(token)
    assert grant is not None
    assert grant.userid == "alice"
    # A restart with another key cannot check the stored tokens: they are refused, not crashed.
    other = SQLiteTokenManager(path, clock=clock, secret_key="another-key-0123456789")
    assert other.authenticate(token) is None


def test_redis_data_survives_a_new_client(redis_prefix: str, clock: FakeClock) -> None:
    token = redis_manager(redis_prefix, clock, secret_key=SECRET_KEY).issue("alice", "s").token
    again = redis_manager(redis_prefix, clock, secret_key=SECRET_KEY)
    assert again.authenticate(token) is not None
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
    client = manager.client
    values: set[str] = set()
    for key in client.scan_iter(match=redis_prefix + "*"):
        values.add(key.decode())
        if client.type(key) == b"hash":
            values.update(v.decode() for v in client.hgetall(key).values())
        else:
            values.add(client.get(key).decode())
    _try_everything(manager, values, token)


def test_users_and_tokens_share_one_sqlite_file(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "auth.db"
    SQLiteUserStore(path).add("alice", "pw")
    SQLiteTokenManager(path, clock=clock, secret_key=SECRET_KEY).issue("alice", "s")
    with sqlite3.connect(path) as connection:
        versions = dict(connection.execute("SELECT component, version FROM restauth_schema"))
        journal = connection.execute("PRAGMA journal_mode").fetchone()[0]
    assert versions == {"users": 1, "tokens": 1}
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
    SQLiteUserStore(path, hasher=PasswordHasher(rounds=4)).add("alice", "alice-pw")
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE restauth_schema SET version = 99 WHERE component = 'users'")
    app = AuthMiddleware(echo_app, users=SQLiteUserStore(path), tokens=None, throttle=None)
    headers = {"Authorization": basic("alice", "alice-pw")}
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
        tokens.lookup("alice")


def test_postgres_repr_hides_the_dsn() -> None:
    from restauth.users.postgres import PostgresUserStore

    store = PostgresUserStore("postgresql://app:hunter2@db.example/auth")
    assert "hunter2" not in repr(store)
