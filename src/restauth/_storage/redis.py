"""Connecting to Redis (extra ``restauth[redis]``) and turning its failures into 503s."""

from __future__ import annotations

import contextlib
import hashlib
import inspect
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import redis
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from restauth.errors import StoreUnavailable

if TYPE_CHECKING:
    import redis.asyncio

SOCKET_TIMEOUT = 2.0  # per attempt; a request waits at most ~2 attempts before its 503
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


# What an async copy of a client leaves to its own pool: the pool's plumbing (the async
# pool makes its own), the parser (sync parsers cannot read from an asyncio stream) and
# the retry (replaced by the async one of redis_client's policy).
_POOL_OWNED = frozenset({
    "retry", "parser_class", "event_dispatcher", "himport_registry",
    "maint_notifications_pool_handler", "oss_cluster_maint_notifications_handler",
    "orig_host_address", "orig_socket_timeout", "orig_socket_connect_timeout",
})  # fmt: skip
_SYNC_ONLY = frozenset({"redis_connect_func"})  # a sync callback: an async client cannot await it


def async_redis_client(client: redis.Redis) -> redis.asyncio.Redis | None:
    """An async client to the server ``client`` talks to, with :func:`redis_client`'s
    timeouts and retry, for the running event loop (no I/O until its first command).

    ``None`` when ``client``'s connections are of a class redis.asyncio has no twin of
    (Sentinel, a custom class), or carry a setting the twin lacks (OCSP checks): a copy
    that silently dropped a TLS check would be worse than a thread.
    """
    import redis.asyncio  # only the ASGI adapter needs it
    from redis.asyncio import connection as aio
    from redis.asyncio.retry import Retry as AsyncRetry

    twins: dict[type[Any], type[aio.AbstractConnection]] = {
        redis.connection.Connection: aio.Connection,
        redis.connection.SSLConnection: aio.SSLConnection,
        redis.connection.UnixDomainSocketConnection: aio.UnixDomainSocketConnection,
    }
    pool = client.connection_pool
    twin = twins.get(pool.connection_class)
    if twin is None:
        return None
    accepted = _keywords(twin) - _SYNC_ONLY
    kwargs: dict[str, Any] = {}
    for name, value in pool.connection_kwargs.items():
        if name in _POOL_OWNED:
            continue
        if name in accepted:
            kwargs[name] = value
        elif value is not None and value is not False:
            return None  # a setting the copy could not keep
    kwargs.update(
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        retry=AsyncRetry(NoBackoff(), RETRIES),
    )
    copied = redis.asyncio.ConnectionPool(
        connection_class=twin, max_connections=pool.max_connections, **kwargs
    )
    return redis.asyncio.Redis.from_pool(copied)


def _keywords(connection_class: type[Any]) -> frozenset[str]:
    """The keyword arguments ``connection_class`` and its bases accept by name."""
    named = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return frozenset(
        parameter.name
        for base in connection_class.__mro__
        if "__init__" in vars(base) and base is not object
        for parameter in inspect.signature(vars(base)["__init__"]).parameters.values()
        if parameter.kind in named and parameter.name != "self"
    )


class AsyncLuaScript:
    """A :class:`LuaScript` run through an async client: ``EVALSHA``, and ``EVAL`` once
    if the server lacks the script."""

    __slots__ = ("_client", "_script")

    def __init__(self, client: redis.asyncio.Redis, script: LuaScript) -> None:
        self._client = client
        self._script = script

    async def __call__(self, numkeys: int, *keys_and_args: str) -> Any:
        execute: Callable[..., Any] = self._client.execute_command  # untyped in redis-py
        script = self._script
        try:
            return await execute("EVALSHA", script.sha, numkeys, *keys_and_args)
        except NoScriptError:
            return await execute("EVAL", script.script, numkeys, *keys_and_args)
