"""Token managers: sessions and their tokens, started, checked, renewed, rotated, ended.

``base`` holds the ``TokenManager`` protocol, the grant, the session and the ``id.mac``
codec; ``memory``, ``sqlite``, ``redis`` and ``postgres`` keep tokens; ``jwt`` signs them
instead (the ``jwt`` extra), with the sessions and "not before" records in ``revocation``.
May import ``restauth._time``, ``restauth._text``, ``restauth.errors``,
``restauth._storage`` and ``restauth.throttle``; never ``restauth.users`` or any HTTP
module.
"""

from restauth._time import as_seconds
from restauth.tokens.base import (
    LimitsTokenLength,
    MissingSecretKey,
    TokenCodec,
    TokenGrant,
    TokenManager,
)
from restauth.tokens.memory import MemoryTokenManager
from restauth.tokens.sqlite import SQLiteTokenManager

__all__ = [
    "LimitsTokenLength",
    "MemoryTokenManager",
    "MissingSecretKey",
    "SQLiteTokenManager",
    "TokenCodec",
    "TokenGrant",
    "TokenManager",
    "as_seconds",
]
