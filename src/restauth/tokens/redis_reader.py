"""A :class:`~restauth.tokens.redis.RedisTokenManager`'s Token check through ``redis.asyncio``.

The ASGI adapter awaits it on the event loop instead of running the check in a thread
(see :mod:`restauth.lookups`). It runs the manager's own ``authenticate`` script on the
same key with the same clock, and its reply is read by the same function
(:func:`~restauth.tokens.redis.checked`), so both answer alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import redis

from restauth._storage.redis import LuaScript
from restauth._storage.redis_async import AsyncLuaScript
from restauth._time import Clock
from restauth.errors import StoreUnavailable
from restauth.tokens.base import DeadToken, TokenCodec, TokenGrant
from restauth.tokens.redis import checked

if TYPE_CHECKING:
    import redis.asyncio


class RedisTokenReader:
    """Token checks for one event loop, through ``client`` (a copy of the manager's)."""

    __slots__ = ("_client", "_clock", "_codec", "_script", "_token_prefix")

    def __init__(
        self,
        client: redis.asyncio.Redis,
        script: LuaScript,
        codec: TokenCodec,
        token_prefix: str,
        clock: Clock,
    ) -> None:
        self._client = client
        self._script = AsyncLuaScript(client, script)
        self._codec = codec
        self._token_prefix = token_prefix
        self._clock = clock

    async def authenticate(self, token: str) -> TokenGrant | DeadToken | None:
        """What the manager's ``authenticate`` answers (renewal included: the script does it)."""
        token_id = self._codec.id_of(token)
        if token_id is None:
            return None
        try:
            reply: Any = await self._script(1, self._token_prefix + token_id, repr(self._clock()))
        except redis.RedisError as error:
            raise StoreUnavailable(f"Redis: {type(error).__name__}") from None
        return checked(token, reply)

    async def aclose(self) -> None:
        """Close the client and its connections; safe to call more than once."""
        await self._client.aclose()
