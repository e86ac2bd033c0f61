"""``redis.asyncio`` copies of restauth's Redis clients, for the ASGI adapter's awaited
Token checks (extra ``restauth[redis]``; imported only when an async reader is made).

A copy reaches the same server with the same settings as the client it is made from
(:func:`async_redis_client`), and :class:`AsyncLuaScript` runs a
:class:`~restauth._storage.redis.LuaScript` through it.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

import redis
import redis.asyncio
from redis.asyncio import connection as aio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import AbstractBackoff, NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from restauth._storage.redis import SOCKET_TIMEOUT, LuaScript

ASYNC_MAX_CONNECTIONS = 100
"""The most connections a copy's pool opens, whatever the sync pool allows (redis-py 8
defaults to 100, earlier versions to 2**31: no bound at all). A Token check holds one for
one round trip, so a hundred serve far more checks than one event loop can make; beyond
them a burst waits its turn instead of opening a connection per request against Redis's
``maxclients`` and the process's file descriptors."""

# The connection classes redis.asyncio has a twin of. Any other (Sentinel, a subclass of
# the caller's) gets no copy: its behaviour is not known here.
_TWINS: dict[type[Any], type[aio.AbstractConnection]] = {
    redis.connection.Connection: aio.Connection,
    redis.connection.SSLConnection: aio.SSLConnection,
    redis.connection.UnixDomainSocketConnection: aio.UnixDomainSocketConnection,
}

# What a copy leaves to its own pool: the pool's plumbing (the async pool makes its own),
# the parser (sync parsers cannot read from an asyncio stream) and the retry (converted
# by _async_retry). These are keys redis-py puts in ``connection_kwargs``, the pool's
# public record of its connections' settings; there is no public way to ask which of
# them a pool adds for itself.
_POOL_OWNED = frozenset({
    "retry", "parser_class", "event_dispatcher", "himport_registry",
    "maint_notifications_pool_handler", "oss_cluster_maint_notifications_handler",
    "orig_host_address", "orig_socket_timeout", "orig_socket_connect_timeout",
})  # fmt: skip
_SYNC_ONLY = frozenset({"redis_connect_func"})  # a sync callback: an async client cannot await it


def async_redis_client(client: redis.Redis) -> redis.asyncio.Redis | None:
    """An async client to the server ``client`` talks to, for the running event loop (no
    I/O until its first command).

    The copy keeps ``client``'s connection settings as they are: its timeouts (a client
    built from a URL by :func:`~restauth._storage.redis.redis_client` has restauth's
    2 s, a caller's own client keeps its own), its TLS settings, and its retry policy (the
    same number of retries and backoff, as ``redis.asyncio``'s ``Retry``). Its pool
    holds as many connections as ``client``'s (at most :data:`ASYNC_MAX_CONNECTIONS`),
    and a check that finds them all busy waits
    for one, as a worker thread would, for the sync pool's own wait when it has one
    (``redis.BlockingConnectionPool``), else for the socket timeout (restauth's 2 s when
    there is none), then fails (a 503).

    ``None`` when the copy could not keep ``client``'s behaviour: connections of a class
    redis.asyncio has no twin of (Sentinel, a custom class), a setting the twin lacks
    (OCSP checks) or a retry policy of a class of its own. A copy that silently dropped a
    TLS check or a retry hook would be worse than a thread.
    """
    pool = client.connection_pool
    twin = _TWINS.get(pool.connection_class)
    if twin is None:
        return None
    settings = pool.connection_kwargs
    accepted = _keywords(twin) - _SYNC_ONLY
    kwargs: dict[str, Any] = {}
    for name, value in settings.items():
        if name in _POOL_OWNED:
            continue
        if name in accepted:
            kwargs[name] = value
        elif value is not None and value is not False:
            return None  # a setting the copy could not keep
    if settings.get("retry") is not None:  # absent: both classes default alike
        retry = _async_retry(settings["retry"])
        if retry is None:
            return None
        kwargs["retry"] = retry
    copied = redis.asyncio.BlockingConnectionPool(
        max_connections=min(pool.max_connections, ASYNC_MAX_CONNECTIONS),
        timeout=_pool_wait(pool, kwargs),
        connection_class=twin,
        **kwargs,
    )
    return redis.asyncio.Redis.from_pool(copied)


def _async_retry(retry: object) -> AsyncRetry | None:
    """``retry`` as ``redis.asyncio``'s ``Retry``: the same number of retries and the same
    backoff; ``None`` for a policy of a class of its own (its hooks cannot be carried over).

    redis-py offers no public accessor for a ``Retry``'s backoff, so it is read from
    ``_backoff`` (as ``redis.asyncio`` itself does when handed a sync ``Retry``); the
    backoff classes (``redis.backoff``) serve both clients, and a copy keeps the two from
    sharing one's state. Without it, the copy retries at once (``NoBackoff``, restauth's
    own policy). The errors retried are ``redis.asyncio``'s defaults, extended by the
    copied ``retry_on_error`` / ``retry_on_timeout`` settings as the sync client's were.
    """
    if type(retry) is not Retry:
        return None
    backoff = getattr(retry, "_backoff", None)
    if not isinstance(backoff, AbstractBackoff):
        backoff = NoBackoff()
    return AsyncRetry(copy.copy(backoff), retry.get_retries())


def _pool_wait(pool: redis.ConnectionPool, kwargs: dict[str, Any]) -> float | None:
    """How long a check waits for a free connection of the copy's pool: the sync pool's
    own wait if it waits (``None``: as long as it takes, the caller's choice), else the
    socket timeout, else restauth's."""
    if isinstance(pool, redis.BlockingConnectionPool):
        wait: float | None = pool.timeout
        return wait
    timeout = kwargs.get("socket_timeout")
    return float(timeout) if timeout is not None else SOCKET_TIMEOUT


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
    """A :class:`~restauth._storage.redis.LuaScript` run through an async client:
    ``EVALSHA``, and ``EVAL`` once if the server lacks the script."""

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
