"""Token managers: issue, check, renew and revoke auth tokens."""

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
