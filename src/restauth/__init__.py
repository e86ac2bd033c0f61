"""restauth: REST-style authentication for any WSGI application, as one middleware."""

from restauth.access.acl import ACL, ACLRule
from restauth.config.loader import from_config, load_config
from restauth.errors import (
    ConfigError,
    MissingSecretKey,
    RestauthError,
    StoreUnavailable,
    UnknownUser,
    UserExists,
)
from restauth.identity import Identity
from restauth.middleware import AuthMiddleware
from restauth.passwords.cache import PasswordCache
from restauth.passwords.hasher import PasswordHasher
from restauth.tokens import (
    MemoryTokenManager,
    SQLiteTokenManager,
    TokenGrant,
    TokenManager,
)
from restauth.users import (
    MemoryUserStore,
    SQLiteUserStore,
    User,
    UserStore,
    WritableUserStore,
)

__version__ = "0.1.0"

# Names whose modules need the ``jwt`` extra (PyJWT): imported on first use, so that
# ``import restauth`` works without it.
_LAZY = {
    "JWTKey": "restauth.tokens.jwt",
    "JWTTokenManager": "restauth.tokens.jwt",
    "JWTBearer": "restauth.bearers.jwt",
    "JWKSCache": "restauth.bearers.jwt",
    "CachedRevocation": "restauth.tokens.revocation",
    "MemoryRevocation": "restauth.tokens.revocation",
    "SQLiteRevocation": "restauth.tokens.revocation",
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'restauth' has no attribute {name!r}")


__all__ = [
    "ACL",
    "ACLRule",
    "AuthMiddleware",
    "ConfigError",
    "Identity",
    "MemoryTokenManager",
    "MemoryUserStore",
    "MissingSecretKey",
    "PasswordCache",
    "PasswordHasher",
    "RestauthError",
    "SQLiteTokenManager",
    "SQLiteUserStore",
    "StoreUnavailable",
    "TokenGrant",
    "TokenManager",
    "UnknownUser",
    "User",
    "UserExists",
    "UserStore",
    "WritableUserStore",
    "__version__",
    "from_config",
    "load_config",
]
