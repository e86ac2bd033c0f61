"""restauth: REST-style authentication for any WSGI application, as one middleware."""

from restauth.acl import ACL, ACLRule
from restauth.config import ConfigError, from_config, load_config
from restauth.errors import StoreUnavailable
from restauth.identity import Identity
from restauth.middleware import AuthMiddleware
from restauth.password_cache import PasswordCache
from restauth.passwords import PasswordHasher
from restauth.tokens import (
    MemoryTokenManager,
    MissingSecretKey,
    SQLiteTokenManager,
    TokenGrant,
    TokenManager,
)
from restauth.users import (
    MemoryUserStore,
    SQLiteUserStore,
    User,
    UserExists,
    UserStore,
    WritableUserStore,
)

__version__ = "0.1.0"

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
    "SQLiteTokenManager",
    "SQLiteUserStore",
    "StoreUnavailable",
    "TokenGrant",
    "TokenManager",
    "User",
    "UserExists",
    "UserStore",
    "WritableUserStore",
    "__version__",
    "from_config",
    "load_config",
]
