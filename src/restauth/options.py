"""The middleware's settings, checked once, in one frozen object.

:class:`AuthMiddleware <restauth.middleware.AuthMiddleware>` takes them as keywords and the
configuration loader builds them from a file; both go through :meth:`Options.build`, so a
file is judged by exactly the rules the code is, without building a middleware.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Required, TypedDict

from restauth.access.acl import ACL, ACLRule
from restauth.access.paths import PublicPaths
from restauth.accounts import Accounts
from restauth.authenticator import Bearer
from restauth.errors import ConfigError
from restauth.passwords.cache import PasswordCache
from restauth.passwords.hasher import PasswordHasher
from restauth.throttle.policy import Throttle, shared_store
from restauth.tokens.base import TokenManager
from restauth.tokens.memory import MemoryTokenManager
from restauth.users.base import AccountStore, HasPasswordHasher, UserStore
from restauth.wire.cookies import CookieMode
from restauth.wire.cors import CORS
from restauth.wire.credentials import DEFAULT_MAX_HEADER_SIZE, check_basic_fallback
from restauth.wire.forwarded import TrustedProxies
from restauth.wire.responses import check_realm

DEFAULT: Any = object()  # "not given": the documented default object is built per instance


class Settings(TypedDict, total=False):
    """The keywords of ``AuthMiddleware`` (and of :meth:`Options.build`), for type checkers."""

    users: Required[UserStore]
    tokens: TokenManager | None
    realm: str
    public: Iterable[str]
    tokens_path: str
    roles_path: str
    password_hasher: PasswordHasher | None
    max_header_size: int
    retry_after: int
    cookie: CookieMode | bool | None
    require_https: bool
    trusted_proxies: Iterable[str]
    throttle: Throttle | None
    query_token: str | None
    acl: ACL | Iterable[ACLRule | Mapping[str, object]] | None
    challenge: bool
    password_cache: PasswordCache | None
    bearer: Bearer | Sequence[Bearer]
    basic_charset_fallback: str | None
    admin_role: str | None
    cors: CORS | None
    accounts: Accounts | None


@dataclass(frozen=True, slots=True)
class Options:
    """Everything the pipeline needs, in the types it needs (see :meth:`build`).

    ``tokens=None`` turns tokens off (Basic only, no token headers, no ``/tokens``).
    ``public`` path patterns may be reached anonymously; credentials sent there are still
    checked. ``cookie=True`` (or a :class:`CookieMode`) keeps the token in an ``HttpOnly``
    cookie. ``require_https`` refuses credentials over plain HTTP (403);
    ``trusted_proxies`` are the only peers whose ``X-Forwarded-*`` headers count.
    ``throttle`` slows down guessing (``None``: off; by default its counters live where
    the tokens or users do). ``query_token`` names a query parameter that may carry a token.
    ``acl`` rules decide what each caller may do (401 anonymous, 403 known); without one,
    any authenticated caller passes. ``challenge=False`` never sends ``WWW-Authenticate``.
    ``password_cache`` remembers right Basic passwords for a few minutes (``None``: off).
    ``bearer`` also accepts an identity provider's JWTs; those callers get no token.
    ``admin_role`` names the role whose holders may list and end other users' sessions
    (``None``: nobody may). ``cors`` (:class:`~restauth.wire.cors.CORS`) lets listed
    origins' scripts call the API. ``accounts`` (:class:`~restauth.accounts.Accounts`)
    serves ``/users``: registration, profiles, password change and reset, administration;
    it needs an :class:`~restauth.users.base.AccountStore`.
    ``basic_charset_fallback="latin-1"`` reads Basic
    credentials that are not valid UTF-8 as Latin-1 (Python ``requests`` sends ``str``
    passwords so); ``None``: UTF-8 only.
    """

    users: UserStore
    tokens: TokenManager | None
    realm: str
    public: PublicPaths
    tokens_path: str
    roles_path: str
    hasher: PasswordHasher
    max_header_size: int
    retry_after: int
    cookie: CookieMode | None
    require_https: bool
    proxies: TrustedProxies
    throttle: Throttle | None
    query_token: str | None
    acl: ACL | None
    challenge: bool
    password_cache: PasswordCache | None
    bearers: tuple[Bearer, ...]
    basic_charset_fallback: str | None = None
    admin_role: str | None = None
    cors: CORS | None = None
    accounts: Accounts | None = None

    @classmethod
    def build(
        cls,
        *,
        users: UserStore,
        tokens: TokenManager | None = DEFAULT,
        realm: str = "restauth",
        public: Iterable[str] = (),
        tokens_path: str = "/tokens",
        roles_path: str = "/roles",
        password_hasher: PasswordHasher | None = None,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        retry_after: int = 5,
        cookie: CookieMode | bool | None = None,
        require_https: bool = True,
        trusted_proxies: Iterable[str] = (),
        throttle: Throttle | None = DEFAULT,
        query_token: str | None = None,
        acl: ACL | Iterable[ACLRule | Mapping[str, object]] | None = None,
        challenge: bool = True,
        password_cache: PasswordCache | None = DEFAULT,
        bearer: Bearer | Sequence[Bearer] = (),
        basic_charset_fallback: str | None = None,
        admin_role: str | None = None,
        cors: CORS | None = None,
        accounts: Accounts | None = None,
    ) -> Options:
        """The keywords of ``AuthMiddleware``, with their defaults, checked.

        Raises ``ValueError`` naming the keyword that is wrong.
        """
        if tokens is DEFAULT:
            tokens = MemoryTokenManager()
        if throttle is DEFAULT:  # counters where the tokens (or users) live: shared by all
            throttle = Throttle(store=shared_store(tokens, users))
        cookie_mode = CookieMode() if cookie is True else (cookie or None)
        _check_token_manager(tokens)
        _check_tokens_needed(tokens, cookie_mode, query_token)
        _check_path("tokens_path", tokens_path)
        _check_path("roles_path", roles_path)
        check_realm(realm)
        try:
            fallback = check_basic_fallback(basic_charset_fallback)
        except ValueError as error:
            raise ConfigError(str(error)) from None
        return cls(
            users=users,
            tokens=tokens,
            realm=realm,
            public=PublicPaths(public),
            tokens_path=tokens_path,
            roles_path=roles_path,
            hasher=password_hasher if password_hasher is not None else _hasher_of(users),
            max_header_size=max_header_size,
            retry_after=retry_after,
            cookie=cookie_mode,
            require_https=require_https,
            proxies=TrustedProxies(trusted_proxies),
            throttle=throttle,
            query_token=query_token,
            acl=acl if isinstance(acl, ACL) or acl is None else ACL(acl),
            challenge=challenge,
            password_cache=PasswordCache() if password_cache is DEFAULT else password_cache,
            bearers=tuple(bearer) if isinstance(bearer, Sequence) else (bearer,),
            basic_charset_fallback=fallback,
            admin_role=_check_admin_role(admin_role),
            cors=_check_cors(cors),
            accounts=_check_accounts(accounts, users, (tokens_path, roles_path)),
        )

    @property
    def bearer_scheme(self) -> bool:
        """Whether ``Authorization: Bearer`` is ours to read (tokens, or a provider's JWTs)."""
        return self.tokens is not None or bool(self.bearers)


def _check_tokens_needed(
    tokens: TokenManager | None, cookie: CookieMode | None, query_token: str | None
) -> None:
    if cookie is not None and tokens is None:
        raise ConfigError("cookie mode needs a token manager (tokens=None turns tokens off)")
    if query_token is not None and (tokens is None or not query_token.isidentifier()):
        raise ConfigError("query_token must be a parameter name, and needs a token manager")


_SESSION_METHODS = ("issue", "authenticate", "renew", "sessions", "end", "revoke")


def _check_token_manager(tokens: object) -> None:
    """A manager written for the one-token protocol (before sessions) is refused here, at
    start-up, naming what it lacks, rather than answering every login 503."""
    if tokens is None:
        return
    missing = [name for name in _SESSION_METHODS if not callable(getattr(tokens, name, None))]
    if missing:
        raise ConfigError(
            f"tokens={type(tokens).__name__} lacks {', '.join(missing)}: a TokenManager "
            "keeps sessions (issue, authenticate, renew, sessions, end, revoke; see "
            "docs/extending.md)"
        )


def _check_cors(cors: object) -> CORS | None:
    if cors is not None and not isinstance(cors, CORS):
        raise ConfigError("cors must be a restauth.CORS(origins=[...]) or None")
    return cors


def _check_accounts(
    accounts: object, users: UserStore, other_paths: tuple[str, ...]
) -> Accounts | None:
    if accounts is None:
        return None
    if not isinstance(accounts, Accounts):
        raise ConfigError("accounts must be a restauth.Accounts(...) or None")
    if not isinstance(users, AccountStore):
        raise ConfigError(
            f"accounts need a user store that keeps accounts (restauth.users.base.AccountStore:"
            f" memory, SQLite, PostgreSQL); {type(users).__name__} does not"
        )
    if any(_overlaps(accounts.path, path) for path in other_paths):
        raise ConfigError(f"the accounts path {accounts.path!r} overlaps tokens_path or roles_path")
    return accounts


def _overlaps(one: str, other: str) -> bool:
    return one == other or one.startswith(other + "/") or other.startswith(one + "/")


def _check_admin_role(role: str | None) -> str | None:
    if role is not None and (not isinstance(role, str) or not role.strip()):
        raise ConfigError("admin_role must be a role name, or None for no admin")
    return role


def _check_path(name: str, value: str) -> None:
    if not value.startswith("/") or value.endswith("/") or len(value) < 2:
        raise ConfigError(f"{name} must start with '/' and not end with '/': {value!r}")


def _hasher_of(users: UserStore) -> PasswordHasher:
    """The user store's own hasher (its cost and scheme), so unknown users cost the same."""
    hasher = users.hasher if isinstance(users, HasPasswordHasher) else None
    return hasher if isinstance(hasher, PasswordHasher) else PasswordHasher()
