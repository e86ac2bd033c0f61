"""Reaching the real Redis and PostgreSQL servers from tests.

``RESTAUTH_REDIS_URL`` and ``RESTAUTH_POSTGRES_DSN`` point elsewhere (defaults: the local
servers; Redis database 15). A test that needs one calls :func:`redis_url` or
:func:`postgres_dsn`. Without the server it skips, unless
``RESTAUTH_REQUIRE_SERVICES=1`` (set by ``.ci/run``), where a
missing server is a failure: CI must never pass because a test skipped.
"""

from __future__ import annotations

import os
import socket

import pytest

REDIS_URL = os.environ.get("RESTAUTH_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_DSN = os.environ.get("RESTAUTH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")


def services_required() -> bool:
    return os.environ.get("RESTAUTH_REQUIRE_SERVICES") == "1"


def unavailable(what: str, why: object) -> None:
    """Skip, or fail when the services are required."""
    message = f"{what} is not reachable: {why}"
    if services_required():
        pytest.fail(message + " (RESTAUTH_REQUIRE_SERVICES=1)")
    pytest.skip(message)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port nobody listens on right now (for a server that must be down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def redis_url() -> str:
    """The test Redis URL (database 15), after checking the server answers."""
    try:
        import redis
    except ImportError as error:  # pragma: no cover - the test extra installs it
        unavailable("redis-py", error)
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as error:
        unavailable("Redis at " + REDIS_URL, error)
    return REDIS_URL


def postgres_dsn() -> str:
    """The test PostgreSQL DSN, after checking the server answers."""
    try:
        import psycopg
    except ImportError as error:  # pragma: no cover - the test extra installs it
        unavailable("psycopg", error)
    try:
        with psycopg.connect(POSTGRES_DSN, connect_timeout=2):
            pass
    except Exception as error:
        unavailable("PostgreSQL at " + POSTGRES_DSN, error)
    return POSTGRES_DSN
