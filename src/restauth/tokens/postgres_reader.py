"""A :class:`~restauth.tokens.postgres.PostgresTokenManager`'s Token check through
psycopg's async pool.

The ASGI adapter awaits it on the event loop instead of running the check in a thread
(see :mod:`restauth.lookups`). It runs the manager's statements (the ``SELECT``, and the
``UPDATE`` when a renewal is due) and judges the row with the manager's own function
(:func:`~restauth.tokens.postgres.judged`), so both answer alike.
"""

from __future__ import annotations

from restauth._storage.postgres import PostgresDatabase
from restauth._storage.postgres_async import AsyncPostgresDatabase
from restauth._time import Clock
from restauth.tokens.base import DeadToken, TokenCodec, TokenGrant
from restauth.tokens.postgres import _CHECK, _RENEW, Renewal, judged


class PostgresTokenReader:
    """Token checks for one event loop, through an async pool to ``database``."""

    __slots__ = ("_clock", "_codec", "_database")

    def __init__(self, database: PostgresDatabase, codec: TokenCodec, clock: Clock) -> None:
        self._database = AsyncPostgresDatabase(database)
        self._codec = codec
        self._clock = clock

    async def authenticate(self, token: str) -> TokenGrant | DeadToken | None:
        """What the manager's ``authenticate`` answers, renewal included."""
        token_id = self._codec.id_of(token)
        if token_id is None:
            return None
        rows = await self._database.execute(_CHECK, (token_id,))
        verdict = judged(token, token_id, rows, self._clock())
        if isinstance(verdict, Renewal):
            return verdict.outcome(await self._database.execute(_RENEW, verdict.values))
        return verdict

    async def aclose(self) -> None:
        """Close the pool; safe to call more than once."""
        await self._database.aclose()
