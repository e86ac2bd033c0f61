"""What one request costs a store: counted, not guessed. Also the housekeeping."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from webtest import TestApp

from restauth import AuthMiddleware, MemoryUserStore, SQLiteTokenManager
from tests.conftest import FakeClock, echo_app
from tests.services import redis_url
from tests.storage.conftest import SECRET_KEY


def counting_redis_client() -> Any:
    import redis

    class Counting(redis.Redis):
        commands: list[str] = []  # noqa: RUF012 - one list per test is enough

        def execute_command(self, *args: Any, **options: Any) -> Any:
            self.commands.append(str(args[0]))
            return super().execute_command(*args, **options)

    client = Counting.from_url(redis_url())
    client.commands = []
    return client


def test_redis_token_request_is_one_round_trip(redis_prefix: str, users: MemoryUserStore) -> None:
    from restauth.tokens.redis import RedisTokenManager

    client = counting_redis_client()
    tokens = RedisTokenManager(client, prefix=redis_prefix, secret_key=SECRET_KEY)
    app = TestApp(AuthMiddleware(echo_app, users=users, tokens=tokens))
    token = tokens.issue("alice", users.get("alice").stamp).token
    auth = {"Authorization": f"Token {token}"}
    app.get(
        "/x", headers=auth, extra_environ={"REMOTE_ADDR": "192.0.2.1"}, status=200
    )  # loads the script once (EVALSHA, NOSCRIPT, EVAL)
    client.commands.clear()
    for _ in range(3):
        app.get("/x", headers=auth, extra_environ={"REMOTE_ADDR": "192.0.2.1"}, status=200)
    # One script checks and renews the token: tokens are not throttled, so no counter read.
    assert client.commands == ["EVALSHA"] * 3


def test_sqlite_token_check_is_one_statement(tmp_path: Path, clock: FakeClock) -> None:
    tokens = SQLiteTokenManager(tmp_path / "t.db", clock=clock, secret_key=SECRET_KEY)
    token = tokens.issue("alice", "s").token
    statements: list[str] = []
    tokens.database.connection().set_trace_callback(statements.append)
    assert tokens.authenticate(token) is not None
    assert len(statements) == 1
    assert statements[0].startswith("UPDATE restauth_tokens SET idle_deadline")


def test_expired_sqlite_tokens_are_purged_by_logins(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "t.db"
    tokens = SQLiteTokenManager(
        path, ttl=60, clock=clock, secret_key=SECRET_KEY, purge_interval=600
    )
    for number in range(50):
        tokens.issue(f"user{number}", "s")
    clock.advance(61)
    tokens.issue("fresh", "s")  # before the interval: nothing purged yet
    assert len(tokens) == 51
    clock.advance(600)
    tokens.issue("later", "s")
    with sqlite3.connect(path) as connection:
        rows = {userid for (userid,) in connection.execute("SELECT userid FROM restauth_tokens")}
    assert rows == {"later"}
