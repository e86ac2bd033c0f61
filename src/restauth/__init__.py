"""restauth: REST-style authentication for any WSGI application, as one middleware."""

from restauth.access.acl import ACL, ACLRule
from restauth.accounts import Accounts
from restauth.config.loader import from_config, load_config
from restauth.errors import (
    ConfigError,
    MissingSecretKey,
    RestauthError,
    StoreUnavailable,
    UnknownUser,
    UserExists,
    WeakPassword,
)
from restauth.identity import Identity, Mechanism
from restauth.middleware import AuthMiddleware
from restauth.passwords.cache import PasswordCache
from restauth.passwords.hasher import PasswordHasher
from restauth.passwords.policy import PasswordPolicy
from restauth.throttle.policy import Throttle, ThrottlePolicy
from restauth.tokens import (
    MemoryTokenManager,
    SQLiteTokenManager,
    TokenGrant,
    TokenManager,
)
from restauth.tokens.base import DeadToken, Session, SessionKind
from restauth.users import (
    AccountStore,
    MemoryUserStore,
    SQLiteUserStore,
    User,
    UserStore,
    WritableUserStore,
)
from restauth.wire.cookies import CookieMode
from restauth.wire.cors import CORS

__version__ = "0.1.0"

# Names whose modules need an extra (PyJWT, redis, psycopg), with that extra: imported on
# first use, so that ``import restauth`` works without them.
_LAZY = {
    "JWTKey": ("restauth.tokens.jwt", "jwt"),
    "JWTTokenManager": ("restauth.tokens.jwt", "jwt"),
    "JWTBearer": ("restauth.bearers.jwt", "jwt"),
    "JWKSCache": ("restauth.bearers.jwt", "jwt"),
    "CachedRevocation": ("restauth.tokens.revocation", "jwt"),
    "MemoryRevocation": ("restauth.tokens.revocation", "jwt"),
    "SQLiteRevocation": ("restauth.tokens.revocation", "jwt"),
    "RedisRevocation": ("restauth.tokens.revocation", "redis"),
    "RedisTokenManager": ("restauth.tokens.redis", "redis"),
    "PostgresUserStore": ("restauth.users.postgres", "postgres"),
    "PostgresTokenManager": ("restauth.tokens.postgres", "postgres"),
}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        module, extra = _LAZY[name]
        try:
            return getattr(importlib.import_module(module), name)
        except ModuleNotFoundError as error:
            if error.name is not None and error.name.startswith("restauth"):
                raise
            raise ImportError(
                f"restauth.{name} needs the {extra} extra: pip install 'restauth[{extra}]' "
                f"({error.name} is missing)",
                name=error.name,
            ) from error
    raise AttributeError(f"module 'restauth' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "ACL",
    "CORS",
    "ACLRule",
    "AccountStore",
    "Accounts",
    "AuthMiddleware",
    "ConfigError",
    "CookieMode",
    "DeadToken",
    "Identity",
    "Mechanism",
    "MemoryTokenManager",
    "MemoryUserStore",
    "MissingSecretKey",
    "PasswordCache",
    "PasswordHasher",
    "PasswordPolicy",
    "RestauthError",
    "SQLiteTokenManager",
    "SQLiteUserStore",
    "Session",
    "SessionKind",
    "StoreUnavailable",
    "Throttle",
    "ThrottlePolicy",
    "TokenGrant",
    "TokenManager",
    "UnknownUser",
    "User",
    "UserExists",
    "UserStore",
    "WeakPassword",
    "WritableUserStore",
    "__version__",
    "from_config",
    "load_config",
]
