"""A Token check's reads through the stores' async clients (see :mod:`restauth.lookups`),
awaited on the event loop instead of a worker thread.

The readers live from the lifespan's startup to its shutdown, on the loop that ran the
startup (a server's loop: one per worker process), and are closed at shutdown. Without
lifespan events (``uvicorn --lifespan off``, a test client outside its ``with`` block,
which runs each request on a loop of its own) there are none, and Token checks run in
worker threads as other store calls do: no client is ever left open on a dead loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress

from restauth.asgi.workers import running_asyncio_loop
from restauth.backend import failed
from restauth.lookups import TokenLookup
from restauth.options import Options
from restauth.tokens.base import AsyncTokenReader, AsyncTokenReads, TokenGrant
from restauth.users.base import AsyncUserReader, AsyncUserReads

logger = logging.getLogger("restauth")


Readers = tuple[AsyncTokenReader, AsyncUserReader]


class AsyncReads:
    """The token manager's async reader and the user store's, for each loop whose
    lifespan has started (one, under a server; two test clients may run two at once)."""

    def __init__(self, tokens: AsyncTokenReads, users: AsyncUserReads) -> None:
        self._tokens = tokens
        self._users = users
        self._readers: dict[asyncio.AbstractEventLoop, Readers] = {}

    @classmethod
    def of(cls, options: Options) -> AsyncReads | None:
        """The reads for ``options``' stores; ``None`` when a Token check cannot be read
        through async clients (a store without one: SQLite, a custom store)."""
        tokens, users = options.tokens, options.users
        if isinstance(tokens, AsyncTokenReads) and isinstance(users, AsyncUserReads):
            return cls(tokens, users)
        return None

    def start(self) -> None:
        """Make the readers for the running loop (the lifespan's startup: no I/O yet).
        A store that cannot make one leaves its Token checks to worker threads, as does
        an event loop other than asyncio's (trio: the async clients need asyncio)."""
        loop = running_asyncio_loop()
        if loop is None:
            return
        try:
            tokens = self._tokens.async_token_reader()
            users = self._users.async_user_reader()
        except Exception as error:  # a store's bug must not stop the server: threads serve
            logger.warning("async readers unavailable, threads serve: %s", type(error).__name__)
            return
        if tokens is None or users is None:
            return
        self._readers[loop] = (tokens, users)

    async def look_up(self, token: str) -> TokenLookup | None:
        """The Token check's reads of ``token``; ``None`` when this loop has no readers
        (the decision then runs in a thread, reading as it always does)."""
        if not self._readers:  # no lifespan started (or trio): threads serve
            return None
        readers = self._readers.get(asyncio.get_running_loop())
        if readers is None:
            return None
        tokens, users = readers
        step: Callable[..., object] = tokens.authenticate
        try:
            found = await tokens.authenticate(token)
            if not isinstance(found, TokenGrant):
                return TokenLookup(token, found)
            step = users.get
            return TokenLookup(token, found, await users.get(found.userid))
        except Exception as error:  # decided by the pipeline: a 503, logged as usual
            return TokenLookup(token, None, error=failed(step, error))

    async def aclose(self) -> None:
        """Close this loop's readers (its lifespan's shutdown); later Token checks on it
        use threads."""
        loop = running_asyncio_loop()
        readers = None if loop is None else self._readers.pop(loop, None)
        for reader in readers or ():
            with suppress(Exception):
                await reader.aclose()
