"""Connecting to Redis (extra ``restauth[redis]``) and turning its failures into 503s.

The ``redis.asyncio`` copies the ASGI adapter awaits are :mod:`restauth._storage.redis_async`'s.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from restauth.errors import StoreUnavailable

SOCKET_TIMEOUT = 2.0  # per read; a Redis that accepts connections and never answers is a
# 503 after about 8 s (measured: health-check PINGs as well as the command, one retry)
RETRIES = 1  # one immediate retry: a connection Redis closed (restart, idle kill) reconnects


def redis_client(url_or_client: str | redis.Redis) -> redis.Redis:
    """A client from a ``redis://`` URL, or the caller's own client.

    redis-py's default retries with exponential backoff would hold a request for seconds
    while Redis is down; here a request gets one immediate retry (enough to replace a
    connection a restarted Redis closed) and then its 503. The pool notices a ``fork()``
    and reconnects in the child, so a client may be built before a server forks workers.
    """
    if isinstance(url_or_client, redis.Redis):
        return url_or_client
    if not isinstance(url_or_client, str):
        raise TypeError("expected a redis:// URL or a redis.Redis client")
    return redis.Redis.from_url(
        url_or_client,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), RETRIES),
        health_check_interval=30,
    )


@contextlib.contextmanager
def errors_as_unavailable() -> Iterator[None]:
    """Any Redis failure (down, timeout, script error) fails closed as a 503."""
    try:
        yield
    except redis.RedisError as error:
        raise StoreUnavailable(f"Redis: {type(error).__name__}") from None


def text(value: bytes | str) -> str:
    """A reply as ``str``, whether or not the client decodes responses."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


class LuaScript:
    """A Lua script run with ``EVALSHA``: one round trip; ``EVAL`` once if the server lacks it.

    redis-py's ``register_script`` does the same through more layers (about 50 µs a call
    on a slow VM, a third of a loopback round trip); a token check runs a script on every
    request, so it calls ``execute_command`` directly.
    """

    __slots__ = ("_client", "script", "sha")

    def __init__(self, client: redis.Redis, script: str) -> None:
        self._client = client
        self.script = script
        self.sha = hashlib.sha1(script.encode("utf-8"), usedforsecurity=False).hexdigest()

    def __call__(self, numkeys: int, *keys_and_args: str) -> Any:
        execute: Callable[..., Any] = self._client.execute_command  # untyped in redis-py
        try:
            return execute("EVALSHA", self.sha, numkeys, *keys_and_args)
        except NoScriptError:  # a restarted or different server: EVAL also caches it there
            return execute("EVAL", self.script, numkeys, *keys_and_args)
