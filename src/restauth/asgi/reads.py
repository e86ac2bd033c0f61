"""A Token check's reads through the stores' async clients (see :mod:`restauth.lookups`),
awaited on the event loop instead of a worker thread."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress

from restauth.backend import failed
from restauth.lookups import (
    AsyncTokenReader,
    AsyncTokenReads,
    AsyncUserReader,
    AsyncUserReads,
    TokenLookup,
)
from restauth.options import Options
from restauth.tokens.base import TokenGrant
from restauth.users.memory import MemoryUserStore

logger = logging.getLogger("restauth")


class AsyncReads:
    """The token manager's async reader and the user store's (or the in-process user
    store itself), made for each event loop that asks (a server runs one per process)."""

    def __init__(self, tokens: AsyncTokenReads, users: AsyncUserReads | MemoryUserStore) -> None:
        self._tokens = tokens
        self._memory_users = users if isinstance(users, MemoryUserStore) else None
        self._user_reads = None if isinstance(users, MemoryUserStore) else users
        self._loop: asyncio.AbstractEventLoop | None = None
        self._readers: tuple[AsyncTokenReader, AsyncUserReader | None] | None = None

    @classmethod
    def of(cls, options: Options) -> AsyncReads | None:
        """The reads for ``options``' stores; ``None`` when a Token check cannot be read
        through async clients (a store without one: SQLite, a custom store)."""
        tokens, users = options.tokens, options.users
        if not isinstance(tokens, AsyncTokenReads):
            return None
        if not isinstance(users, MemoryUserStore | AsyncUserReads):
            return None
        return cls(tokens, users)

    async def look_up(self, token: str) -> TokenLookup | None:
        """The Token check's reads of ``token``; ``None`` when this loop has no readers
        (the decision then runs in a thread, reading as it always does)."""
        readers = self._for(asyncio.get_running_loop())
        if readers is None:
            return None
        tokens, users = readers
        step: Callable[..., object] = tokens.authenticate
        try:
            found = await tokens.authenticate(token)
            if not isinstance(found, TokenGrant):
                return TokenLookup(token, found)
            if users is None:  # in-process users: nothing to wait for
                assert self._memory_users is not None
                step = self._memory_users.get
                return TokenLookup(token, found, self._memory_users.get(found.userid))
            step = users.get
            return TokenLookup(token, found, await users.get(found.userid))
        except Exception as error:  # decided by the pipeline: a 503, logged as usual
            return TokenLookup(token, None, error=failed(step, error))

    async def aclose(self) -> None:
        """Close this loop's readers (their connections); the next use makes new ones."""
        readers, self._readers, self._loop = self._readers, None, None
        for reader in readers or ():
            if reader is not None:
                with suppress(Exception):
                    await reader.aclose()

    def _for(
        self, loop: asyncio.AbstractEventLoop
    ) -> tuple[AsyncTokenReader, AsyncUserReader | None] | None:
        """``loop``'s readers, made on its first request (no I/O until they are used).
        Readers of another loop are dropped: their connections belong to it."""
        if loop is self._loop:
            return self._readers
        token_reader = self._tokens.async_token_reader()
        user_reader = None
        if self._user_reads is not None:
            user_reader = self._user_reads.async_user_reader()
            if user_reader is None:
                token_reader = None  # a Token check would still wait on the users: a thread
        self._loop = loop
        self._readers = None if token_reader is None else (token_reader, user_reader)
        return self._readers
