"""What a decision on the event loop may do: a Token check's two reads, done ahead with a
store's async client; or everything up to a password's hash check.

The pipeline is synchronous: under ASGI, a decision that may wait on a store runs in a
worker thread. The commonest decision, a Token check (``Authorization: Token``/``Bearer``,
the cookie, the query token), reads two records: the token's, then its user's. A store
with an async client (Redis through ``redis.asyncio``, PostgreSQL through psycopg's async
pool) offers an *async reader* for that read; the ASGI adapter awaits it on the event loop
and hands the pipeline a :class:`TokenLookup`, so the decision then runs inline: no thread.
With in-process stores it hands the pipeline :data:`DEFER_HASH_CHECK` instead. Everything
else (a password's hash check, restauth's endpoints, custom stores) runs in a thread.

A reader belongs to the event loop it was made in (an async client's connections do):
the adapter makes its readers at the lifespan's startup through
``async_token_reader()`` / ``async_user_reader()`` (the protocols ``AsyncTokenReads`` and
``AsyncUserReads`` live beside the stores' own, in :mod:`restauth.tokens.base` and
:mod:`restauth.users.base`) and closes them with ``aclose()`` at its shutdown. A reader
raises :class:`~restauth.errors.StoreUnavailable` when its store cannot answer, as the
synchronous store does; a store whose own ``authenticate``/``get`` a subclass overrides
offers none (:func:`restauth._storage.overrides.keeps`).
"""

from __future__ import annotations

from dataclasses import dataclass

from restauth.errors import StoreUnavailable
from restauth.tokens.base import DeadToken, TokenGrant
from restauth.users.base import User


@dataclass(frozen=True, slots=True)
class TokenLookup:
    """What a Token check of ``token`` read: the token's record (``found``, as
    :meth:`~restauth.tokens.base.TokenManager.authenticate` answers) and, for a live token,
    its user's (``user``); or the ``error`` that stopped the reads (the decision is a 503,
    made and logged by the pipeline as for any store failure)."""

    token: str
    found: TokenGrant | DeadToken | None
    user: User | None = None
    error: StoreUnavailable | None = None

    def result(self) -> tuple[TokenGrant | DeadToken | None, User | None]:
        """The two records; raises the store's failure instead, if there was one."""
        if self.error is not None:
            raise self.error
        return self.found, self.user


NO_READS = TokenLookup("", None)
"""For a decision that must read no store (``Gate.reads`` said so): any credentials
reaching the authenticator with it are refused as an internal error (a 503, logged),
never checked against a store on the event loop."""


DEFER_HASH_CHECK = TokenLookup("(defer a hash check)", None)  # never a token: not NO_READS
"""For a decision on the event loop whose stores all live in this process: the
authenticator reads them directly, as in a thread, and raises
:class:`~restauth.errors.HashCheckDeferred` where a password's hash would be checked
(bcrypt: tens of milliseconds): before the throttle counts the attempt, and before any
audit record. The adapter then runs the decision again, from the start, in a worker
thread, which repeats what the try did (reads; a live token given as the password is
renewed, as it would be anyway). A password the cache remembers is decided inline, once."""
