"""Shared fixtures: fast bcrypt, a fake clock, memory stores and a wrapped echo app."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import quote

import bcrypt
import pytest
from webtest import TestApp

from restauth import AuthMiddleware, MemoryTokenManager, MemoryUserStore, PasswordHasher
from tests.services import postgres_dsn

ALICE_PASSWORD = "rabbit:hole wörd"  # a colon and a non-ASCII character on purpose
BOB_PASSWORD = "builder-secret"


class FakeClock:
    """Epoch seconds that only move when a test says so."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def basic(userid: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{userid}:{password}".encode()).decode("ascii")


def echo_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Reports who restauth said is calling; some paths set headers the middleware must merge."""
    identity = environ.get("restauth.identity")
    body = json.dumps(
        {
            "remote_user": environ.get("REMOTE_USER"),
            "userid": identity.userid if identity else None,
            "roles": sorted(identity.roles) if identity else None,
            "mechanism": identity.mechanism if identity else None,
        }
    ).encode()
    headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    path = environ.get("PATH_INFO", "")
    if path == "/cached":
        headers += [
            ("Cache-Control", "public, max-age=600"),
            ("Access-Control-Expose-Headers", "X-Request-Id, auth-token"),
            ("X-Request-Id", "42"),
        ]
    status = "404 Not Found" if path == "/missing" else "200 OK"
    start_response(status, headers)
    return [body]


@pytest.fixture(autouse=True)
def https_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """restauth refuses credentials over plain HTTP by default; test clients speak HTTPS,
    as production clients do (on port 443, so ``Host: localhost``, and the page's origin is
    ``https://localhost``). A test about plain HTTP passes its own ``wsgi.url_scheme``."""
    original = TestApp.__init__

    def init(
        self: TestApp, app: Any, extra_environ: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        https = {"wsgi.url_scheme": "https", "HTTP_HOST": "localhost", "SERVER_PORT": "443"}
        original(self, app, {**https, **(extra_environ or {})}, **kw)

    monkeypatch.setattr(TestApp, "__init__", init)


@pytest.fixture
def bcrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The hashes ``bcrypt.checkpw`` is asked to check from now on, in order."""
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, hashed: bytes) -> bool:
        calls.append(hashed)
        return real(password, hashed)

    monkeypatch.setattr("restauth.passwords.hasher.bcrypt.checkpw", counting)
    return calls


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hasher() -> PasswordHasher:
    return PasswordHasher(rounds=4)


@pytest.fixture
def users(hasher: PasswordHasher) -> MemoryUserStore:
    store = MemoryUserStore(hasher=hasher)
    store.add("alice", ALICE_PASSWORD, roles=["user", "admin"])
    store.add("bob", BOB_PASSWORD, roles=["user"])
    return store


@pytest.fixture
def tokens(clock: FakeClock) -> MemoryTokenManager:
    return MemoryTokenManager(ttl=900, max_lifetime=3600, clock=clock)


@pytest.fixture
def middleware(users: MemoryUserStore, tokens: MemoryTokenManager) -> AuthMiddleware:
    return AuthMiddleware(echo_app, users=users, tokens=tokens, realm="test", public=["/health"])


@pytest.fixture
def client(middleware: AuthMiddleware) -> TestApp:
    return TestApp(middleware)


@pytest.fixture(params=["wsgi", "asgi"])
def adapter(request: pytest.FixtureRequest) -> Iterable[str]:
    """The adapter ``tests.adapters.AuthMiddleware`` builds in this test: restauth's WSGI
    middleware, or the ASGI middleware behind the bridges of ``tests/adapters.py``."""
    from tests import adapters

    with adapters.using(request.param):
        yield request.param


@pytest.fixture
def postgres_schema_dsn() -> Iterator[str]:
    """A DSN whose ``search_path`` is a new, empty schema (dropped afterwards)."""
    import psycopg

    dsn = postgres_dsn()
    schema = "restauth_test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in dsn else "?"
    yield f"{dsn}{separator}options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def thread_calls(monkeypatch: pytest.MonkeyPatch) -> list[Callable[..., Any]]:
    """The functions the ASGI adapter sends to a worker thread (``Workers.run``), in order."""
    from restauth.asgi.workers import Workers

    calls: list[Callable[..., Any]] = []
    real = Workers.run

    async def counting(self: Workers, step: Callable[..., Any], argument: Any) -> Any:
        calls.append(step)
        return await real(self, step, argument)

    monkeypatch.setattr(Workers, "run", counting)
    return calls
