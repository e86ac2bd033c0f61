"""Token managers: issue, check, renew and revoke auth tokens.

``base`` holds the ``TokenManager`` protocol, the grant and the ``id.mac`` codec;
``memory``, ``sqlite`` and ``redis`` keep tokens; ``jwt`` signs them instead (the ``jwt``
extra) with ``revocation`` records. May import ``restauth._time``, ``restauth.errors``,
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
