"""Every backend behind one set of fixtures, so each contract test runs against all of them.

Redis tests use database 15 and a fresh key prefix per test; PostgreSQL tests use a fresh
schema per test (through ``search_path``), so parallel runs never see each other's rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from restauth import MemoryTokenManager, MemoryUserStore, PasswordHasher
from restauth.tokens.sqlite import SQLiteTokenManager
from restauth.users.sqlite import SQLiteUserStore
from tests.conftest import FakeClock
from tests.services import redis_url

SECRET_KEY = "test-secret-key-0123456789abcdef"
TokenFactory = Callable[..., Any]
UserFactory = Callable[[], Any]


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix no other test uses; its keys are deleted afterwards."""
    import redis

    url = redis_url()
    prefix = f"restauth-test:{uuid.uuid4().hex}:"
    yield prefix
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


TOKEN_BACKENDS = ["memory", "sqlite", "redis", "postgres", "jwt"]
STORED_TOKEN_BACKENDS = ["memory", "sqlite", "redis", "postgres"]  # keep their tokens


@pytest.fixture(params=TOKEN_BACKENDS)
def token_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def make_tokens(
    token_backend: str, tmp_path: Path, clock: FakeClock, request: pytest.FixtureRequest
) -> Iterator[TokenFactory]:
    """Build managers of the backend under test that share one store (like two nodes)."""
    made: list[Any] = []
    shared_memory: list[MemoryTokenManager] = []
    prefix = request.getfixturevalue("redis_prefix") if token_backend == "redis" else ""
    dsn = request.getfixturevalue("postgres_schema_dsn") if token_backend == "postgres" else ""

    def make(ttl: float = 900, max_lifetime: float = 3600, **options: Any) -> Any:
        options = {"max_lifetime": max_lifetime, "clock": clock, **options}
        manager: Any
        if token_backend == "memory":
            if shared_memory:  # memory cannot be shared across nodes: same object again
                return shared_memory[0]
            manager = MemoryTokenManager(ttl, secret_key=SECRET_KEY, **options)
            shared_memory.append(manager)
        elif token_backend == "sqlite":
            options.setdefault("secret_key", SECRET_KEY)
            manager = SQLiteTokenManager(tmp_path / "restauth.db", ttl, **options)
        elif token_backend == "redis":
            from restauth.tokens.redis import RedisTokenManager

            options.setdefault("secret_key", SECRET_KEY)
            manager = RedisTokenManager(redis_url(), ttl, prefix=prefix, **options)
        elif token_backend == "postgres":
            from restauth.tokens.postgres import PostgresTokenManager

            options.setdefault("secret_key", SECRET_KEY)
            manager = PostgresTokenManager(dsn, ttl, **options)
        else:  # jwt: signed tokens, sessions and revocations in a shared SQLite file
            from restauth.tokens.jwt import JWTKey, JWTTokenManager
            from restauth.tokens.revocation import SQLiteRevocation

            options.pop("secret_key", None)
            revocation = SQLiteRevocation(tmp_path / "revocations.db")
            manager = JWTTokenManager(
                JWTKey(SECRET_KEY * 2), ttl=ttl, revocation=revocation, **options
            )
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.close()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def user_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend


@pytest.fixture
def make_users(
    user_backend: str, tmp_path: Path, hasher: PasswordHasher, request: pytest.FixtureRequest
) -> Iterator[UserFactory]:
    """Build user stores of the backend under test that share one database."""
    made: list[Any] = []
    shared_memory: list[MemoryUserStore] = []
    dsn = request.getfixturevalue("postgres_schema_dsn") if user_backend == "postgres" else ""

    def make() -> Any:
        store: Any
        if user_backend == "memory":
            if not shared_memory:
                shared_memory.append(MemoryUserStore(hasher=hasher))
            return shared_memory[0]
        if user_backend == "sqlite":
            store = SQLiteUserStore(tmp_path / "restauth.db", hasher=hasher)
        else:
            from restauth.users.postgres import PostgresUserStore

            store = PostgresUserStore(dsn, hasher=hasher, timeout=5)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
