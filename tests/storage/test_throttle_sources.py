"""Which counters the default throttle shares: where the tokens live, else where the users do.

A JWT deployment keeps only revocation records in a shared store, and a Basic-only one
(``tokens=None``) only users: both used to count guesses per process (memory), so each
worker of a server allowed its own threshold.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from webtest import TestApp

from restauth import AuthMiddleware, MemoryUserStore, PasswordHasher
from restauth.throttle.policy import MemoryThrottleStore, ThrottlePolicy
from restauth.throttle.redis import RedisThrottleStore
from restauth.throttle.sqlite import SQLiteThrottleStore
from restauth.users.sqlite import SQLiteUserStore
from tests.conftest import basic, echo_app
from tests.services import redis_url

jwt = pytest.importorskip("jwt")

from restauth.tokens.jwt import JWTKey, JWTTokenManager  # noqa: E402
from restauth.tokens.revocation import (  # noqa: E402
    CachedRevocation,
    MemoryRevocation,
    RedisRevocation,
    SQLiteRevocation,
)

SECRET = "jwt-test-secret-0123456789abcdef-0123"


def jwt_tokens(revocation: object) -> JWTTokenManager:
    return JWTTokenManager(JWTKey(SECRET), revocation=revocation)  # type: ignore[arg-type]


def test_jwt_with_sqlite_revocation_counts_in_that_file(tmp_path: Path) -> None:
    revocation = SQLiteRevocation(tmp_path / "auth.db")
    app = AuthMiddleware(echo_app, users=MemoryUserStore(), tokens=jwt_tokens(revocation))
    assert app.throttle is not None
    assert isinstance(app.throttle.store, SQLiteThrottleStore)
    assert app.throttle.store.database is revocation.database
    cached = jwt_tokens(CachedRevocation(SQLiteRevocation(tmp_path / "auth.db")))
    assert isinstance(cached.throttle_store(), SQLiteThrottleStore)
    assert jwt_tokens(MemoryRevocation()).throttle_store() is None


@pytest.mark.services
def test_jwt_with_redis_revocation_counts_in_that_redis() -> None:
    app = AuthMiddleware(
        echo_app, users=MemoryUserStore(), tokens=jwt_tokens(RedisRevocation(redis_url()))
    )
    assert app.throttle is not None
    assert isinstance(app.throttle.store, RedisThrottleStore)


def test_basic_only_on_sqlite_users_counts_in_the_users_file(tmp_path: Path) -> None:
    users = SQLiteUserStore(tmp_path / "users.db", hasher=PasswordHasher(rounds=4))
    app = AuthMiddleware(echo_app, users=users, tokens=None)
    assert app.throttle is not None
    assert isinstance(app.throttle.store, SQLiteThrottleStore)
    memory = AuthMiddleware(echo_app, users=MemoryUserStore(), tokens=None)
    assert isinstance(memory.throttle.store, MemoryThrottleStore)  # type: ignore[union-attr]


@pytest.mark.parametrize("deployment", ["jwt-sqlite", "basic-only-sqlite"])
def test_two_workers_on_one_file_share_one_threshold(tmp_path: Path, deployment: str) -> None:
    """Two middlewares, each with its own connections to the file, as two workers have."""
    path = tmp_path / "auth.db"
    SQLiteUserStore(path, hasher=PasswordHasher(rounds=4)).add("alice", "wonderland-key-7")

    def worker() -> TestApp:
        users = SQLiteUserStore(path, hasher=PasswordHasher(rounds=4))
        tokens = jwt_tokens(SQLiteRevocation(path)) if deployment == "jwt-sqlite" else None
        app = AuthMiddleware(echo_app, users=users, tokens=tokens)
        assert app.throttle is not None
        app.throttle.policy = ThrottlePolicy(base_delay=3600, user_max_delay=3600)
        return TestApp(app)

    workers = [worker(), worker()]
    statuses = [
        workers[i % 2]
        .get("/", headers={"Authorization": basic("alice", f"guess-{i}")}, expect_errors=True)
        .status_int
        for i in range(8)
    ]
    threshold = ThrottlePolicy().user_threshold
    assert statuses == [401] * threshold + [429] * (8 - threshold)  # not 2 x threshold
