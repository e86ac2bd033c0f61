"""Hypothesis profiles and the middlewares the properties run against.

The ``bounded`` profile (the default) keeps the whole property suite well under a
minute on two cores, so it runs in CI on every change; ``RESTAUTH_HYPOTHESIS_PROFILE=long``
runs many more examples by hand (see docs/hardening-tests.md). Stores are built once
per module (bcrypt cost 4) and shared by the examples, as a server's would be.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from restauth import CORS, AuthMiddleware, MemoryTokenManager, MemoryUserStore, PasswordHasher
from restauth.tokens.sqlite import SQLiteTokenManager
from restauth.users.sqlite import SQLiteUserStore
from restauth.wire.cookies import CookieMode
from tests.services import redis_url

from .strategies import ALLOWED_ORIGIN, PUBLIC, QUERY_TOKEN, USERS, World

_COMMON: dict[str, Any] = {
    "deadline": None,  # a shared 2-core machine: wall-clock limits would only make noise
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    "print_blob": True,
}
settings.register_profile("bounded", max_examples=60, **_COMMON)
settings.register_profile("long", max_examples=3000, **_COMMON)
settings.load_profile(os.environ.get("RESTAUTH_HYPOTHESIS_PROFILE", "bounded"))

SECRET_KEY = "property-test-secret-key-0123456789"


@dataclass
class Calls:
    """What the wrapped application saw: ``None`` when it was not called."""

    identity: list[Any] = field(default_factory=list)
    query: list[str] = field(default_factory=list)

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.identity.append(environ.get("restauth.identity"))
        self.query.append(environ.get("QUERY_STRING", ""))
        start_response("200 OK", [("Content-Type", "application/json")])
        return [b'{"app": true}']


@dataclass
class Target:
    """A middleware over real stores, its configuration, and what is valid right now."""

    name: str
    middleware: AuthMiddleware
    calls: Calls
    users: Any
    tokens: Any
    world: World = field(default_factory=World)

    @property
    def cookie_mode(self) -> bool:
        return self.middleware.cookie is not None

    @property
    def query_mode(self) -> bool:
        return self.middleware.query_token is not None

    def refresh(self) -> None:
        """Every user's current token (a request may have logged one out)."""
        for userid in USERS:
            user = self.users.get(userid)
            self.world.tokens[userid] = self.tokens.issue(userid, user.stamp, kind="basic").token


def build_targets(name: str, users: Any, tokens: Any) -> list[Target]:
    """Two middlewares over the same stores: plain with the default throttle, and cookie
    mode with a query-parameter token and no throttle (so valid credentials keep working)."""
    for userid, password in USERS.items():
        users.add(userid, password, roles=["user"])
    targets = []
    for variant, options in (
        ("plain", {}),
        ("cookie+query", {"cookie": CookieMode(), "query_token": QUERY_TOKEN, "throttle": None}),
        ("cors", {"cors": CORS(origins=[ALLOWED_ORIGIN]), "throttle": None}),
    ):
        calls = Calls()
        middleware = AuthMiddleware(
            calls.app, users=users, tokens=tokens, realm="prop", public=PUBLIC, **options
        )
        target = Target(f"{name}-{variant}", middleware, calls, users, tokens)
        target.refresh()
        targets.append(target)
    return targets


@pytest.fixture(scope="module", params=["memory", "sqlite", "redis"])
def targets(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[Target]]:
    hasher = PasswordHasher(rounds=4)
    closers: list[Callable[[], None]] = []
    users: Any
    tokens: Any
    if request.param == "memory":
        users, tokens = MemoryUserStore(hasher=hasher), MemoryTokenManager()
    elif request.param == "sqlite":
        db: Path = tmp_path_factory.mktemp("property") / "restauth.db"
        users = SQLiteUserStore(db, hasher=hasher)
        tokens = SQLiteTokenManager(db, secret_key=SECRET_KEY)
        closers += [users.close, tokens.close]
    else:
        import redis

        from restauth.tokens.redis import RedisTokenManager

        url = redis_url()
        prefix = f"restauth-prop:{uuid.uuid4().hex}:"
        users = MemoryUserStore(hasher=hasher)
        tokens = RedisTokenManager(url, secret_key=SECRET_KEY, prefix=prefix)

        def cleanup() -> None:
            client = redis.Redis.from_url(url)
            keys = list(client.scan_iter(match=prefix + "*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()
            tokens.close()

        closers.append(cleanup)
    yield build_targets(request.param, users, tokens)
    for close in closers:
        close()


class Records(logging.Handler):
    """Every record of the ``restauth`` loggers, rendered with all its fields."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(f"{record.getMessage()} {vars(record)!r}")


@pytest.fixture(scope="module")
def log_records() -> Iterator[Records]:
    """Capture the ``restauth`` logger at DEBUG for the whole module."""
    handler = Records()
    logger = logging.getLogger("restauth")
    previous = logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # thousands of records: keep them out of pytest's own capture
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(previous[0])
    logger.propagate = previous[1]
