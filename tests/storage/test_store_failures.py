"""A store that is down answers 503 with Retry-After, never lets a request in, and recovers.

Servers that must be down listen on nothing (a free port); the Redis that goes down and
comes back mid-test is a private redis-server on its own port.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from webtest import TestApp

from restauth import AuthMiddleware, MemoryUserStore, PasswordHasher, SQLiteTokenManager
from restauth.users.sqlite import SQLiteUserStore
from tests.conftest import FakeClock
from tests.servers import running
from tests.services import free_port, redis_url, unavailable
from tests.storage.conftest import SECRET_KEY

PASSWORD = "wonderland-key-7"
ALICE_BASIC = "Basic YWxpY2U6d29uZGVybGFuZC1rZXktNw=="  # alice:wonderland-key-7


class RecordingApp:
    """The wrapped app; counts calls so a test can prove it was never reached."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        self.calls += 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"inside"]


def assert_unavailable(response: Any) -> None:
    assert response.status_int == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.content_type == "application/problem+json"
    assert "WWW-Authenticate" not in response.headers


@pytest.fixture
def users(hasher: PasswordHasher) -> MemoryUserStore:
    store = MemoryUserStore(hasher=hasher)
    store.add("alice", PASSWORD)
    return store


def test_redis_down_fails_closed(users: MemoryUserStore, caplog: pytest.LogCaptureFixture) -> None:
    from restauth.tokens.redis import RedisTokenManager

    redis_url()  # the library is installed (and CI has a server; this one is elsewhere)
    tokens = RedisTokenManager(f"redis://127.0.0.1:{free_port()}/0", secret_key=SECRET_KEY)
    app = RecordingApp()
    client = TestApp(AuthMiddleware(app, users=users, tokens=tokens))
    token = tokens._codec.token_for("some-id")  # a genuine MAC: Redis must be asked
    caplog.set_level(logging.DEBUG)
    for headers in (
        {"Authorization": f"Bearer {token}"},
        {"Authorization": ALICE_BASIC},  # right password; Redis throttle/issue
    ):
        assert_unavailable(client.get("/x", headers=headers, expect_errors=True))
    assert_unavailable(
        client.post_json("/tokens", {"username": "alice", "password": PASSWORD}, status=503)
    )
    assert app.calls == 0
    assert token not in caplog.text
    assert PASSWORD not in caplog.text


def test_forged_token_is_401_even_with_redis_down(users: MemoryUserStore) -> None:
    from restauth.tokens.redis import RedisTokenManager

    redis_url()
    tokens = RedisTokenManager(f"redis://127.0.0.1:{free_port()}/0", secret_key=SECRET_KEY)
    client = TestApp(AuthMiddleware(RecordingApp(), users=users, tokens=tokens, throttle=None))
    client.get("/x", headers={"Authorization": "Bearer abc.def"}, status=401)


def test_postgres_down_fails_closed() -> None:
    from restauth.users.postgres import PostgresUserStore

    users = PostgresUserStore(f"postgresql://postgres@127.0.0.1:{free_port()}/test", timeout=1)
    app = RecordingApp()
    client = TestApp(AuthMiddleware(app, users=users))
    started = time.monotonic()
    response = client.get("/x", headers={"Authorization": ALICE_BASIC}, status=503)
    assert time.monotonic() - started < 10
    assert_unavailable(response)
    client.get("/x", status=401)  # anonymous: no store consulted, the usual challenge
    assert app.calls == 0
    users.close()


def test_corrupt_sqlite_file_fails_closed(tmp_path: Path, hasher: PasswordHasher) -> None:
    path = tmp_path / "auth.db"
    users = SQLiteUserStore(path, hasher=hasher)
    users.add("alice", PASSWORD)
    tokens = SQLiteTokenManager(path, secret_key=SECRET_KEY)
    app = RecordingApp()
    client = TestApp(AuthMiddleware(app, users=users, tokens=tokens))
    token = client.post_json("/tokens", {"username": "alice", "password": PASSWORD}).json["token"]
    users.close()
    tokens.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.write_bytes(b"this is not a database" * 1000)
    assert_unavailable(client.get("/x", headers={"Authorization": f"Token {token}"}, status=503))
    assert_unavailable(client.get("/x", headers={"Authorization": ALICE_BASIC}, status=503))
    assert app.calls == 0


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Callable[[bool], str]]:
    """Start/stop a redis-server of our own; yields ``switch(up) -> url``."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server", "not installed")
    port = free_port()
    argv = [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    argv += ["--appendonly", "no", "--dir", str(tmp_path)]
    with contextlib.ExitStack() as started:

        def switch(up: bool) -> str:
            if up:
                log = tmp_path / "redis-server.log"
                started.enter_context(running(argv, cwd=tmp_path, port=port, log=log))
            else:
                started.pop_all().close()
            return f"redis://127.0.0.1:{port}/0"

        yield switch


def test_redis_going_down_and_coming_back(
    users: MemoryUserStore, private_redis: Callable[[bool], str]
) -> None:
    from restauth.tokens.redis import RedisTokenManager

    url = private_redis(True)
    app = RecordingApp()
    client = TestApp(
        AuthMiddleware(app, users=users, tokens=RedisTokenManager(url, secret_key=SECRET_KEY))
    )
    token = client.post_json("/tokens", {"username": "alice", "password": PASSWORD}).json["token"]
    auth = {"Authorization": f"Token {token}"}
    client.get("/x", headers=auth, status=200)
    private_redis(False)
    assert_unavailable(client.get("/x", headers=auth, status=503))
    calls = app.calls
    private_redis(True)  # nothing kept on disk: the token is gone, as after a flush
    client.get("/x", headers=auth, status=401)
    assert app.calls == calls
    fresh = client.post_json("/tokens", {"username": "alice", "password": PASSWORD}).json
    client.get("/x", headers={"Authorization": f"Token {fresh['token']}"}, status=200)


def test_sqlite_locked_beyond_the_timeout_is_503(
    tmp_path: Path, hasher: PasswordHasher, clock: FakeClock
) -> None:
    import sqlite3

    path = tmp_path / "auth.db"
    users = SQLiteUserStore(path, hasher=hasher, timeout=0.2)
    users.add("alice", PASSWORD)
    tokens = SQLiteTokenManager(path, ttl=900, clock=clock, secret_key=SECRET_KEY, timeout=0.2)
    client = TestApp(AuthMiddleware(RecordingApp(), users=users, tokens=tokens, throttle=None))
    token = client.post_json("/tokens", {"username": "alice", "password": PASSWORD}).json["token"]
    auth = {"Authorization": f"Token {token}"}
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    try:
        client.get("/x", headers=auth, status=200)  # no renewal due: a read, WAL lets it run
        clock.advance(60)  # a renewal is due: a write, which cannot get the lock
        started = time.monotonic()
        response = client.get("/x", headers=auth, status=503)
        assert time.monotonic() - started < 5
        assert_unavailable(response)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    client.get("/x", headers=auth, status=200)  # recovered


def test_postgres_schema_work_is_retried_after_a_failed_first_use(
    postgres_schema_dsn: str,
) -> None:
    """Issue 16 item 1: building the store touches nothing; its first use creates the table
    under an advisory lock, bounded by ``timeout``: another process holding that lock is a
    503 (not a hung worker), and the next request does the work."""
    import psycopg

    from restauth.errors import StoreUnavailable
    from restauth.users.postgres import _MIGRATION_LOCK, PostgresUserStore

    users = PostgresUserStore(postgres_schema_dsn, timeout=1)
    with psycopg.connect(postgres_schema_dsn, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        with pytest.raises(StoreUnavailable, match="schema lock"):  # lock_timeout, no hang
            users.get("alice")
        other.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))
    assert users.get("alice") is None  # retried: the table is there now
    users.add("alice", PASSWORD)
    assert users.get("alice") is not None
    users.close()
