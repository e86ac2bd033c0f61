"""Token managers: issue, check, renew and revoke auth tokens."""

from restauth.tokens.base import TokenCodec, TokenGrant, TokenManager, as_seconds
from restauth.tokens.memory import MemoryTokenManager

__all__ = ["MemoryTokenManager", "TokenCodec", "TokenGrant", "TokenManager", "as_seconds"]
