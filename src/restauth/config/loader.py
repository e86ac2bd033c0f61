"""A whole middleware from one TOML file: ``restauth.from_config(app, "restauth.toml")``.

The file says *what* to build (realm, public paths, ACL, which user store and token
manager); secrets never live in it. The token key comes from an environment
variable named in the file (``secret_key_env``, ``RESTAUTH_SECRET_KEY`` by default),
and so may a database DSN or a Redis URL that carries a password. Relative paths
are read from the file's own directory, so a ``.ini`` pipeline or a service
manager may start the process anywhere. See ``docs/configuration.md``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from restauth.access.acl import ACL, ACLRule
from restauth.config.accounts import AccountsSpec, read_accounts, read_policy
from restauth.config.jwt import (
    BearerSpec,
    JWTSpec,
    build_bearers,
    build_jwt_manager,
    read_bearers,
    read_jwt,
)
from restauth.config.schema import ConfigError, Table
from restauth.middleware import AuthMiddleware
from restauth.options import Options
from restauth.passwords.cache import DEFAULT_MAX_ENTRIES, PasswordCache
from restauth.passwords.cache import DEFAULT_TTL as DEFAULT_CACHE_TTL
from restauth.passwords.hasher import SCHEMES, PasswordHasher, looks_like_hash
from restauth.passwords.policy import PasswordPolicy
from restauth.throttle.policy import Throttle, ThrottlePolicy, shared_store
from restauth.tokens.base import (
    DEFAULT_MAX_LIFETIME,
    DEFAULT_MAX_SESSIONS,
    DEFAULT_TTL,
    SECRET_KEY_ENV,
    TokenManager,
)
from restauth.users.base import UserStore
from restauth.wire.cookies import CookieMode
from restauth.wire.cors import CORS, DEFAULT_METHODS
from restauth.wire.credentials import DEFAULT_MAX_HEADER_SIZE

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

    from restauth.asgi import ASGIApp
    from restauth.asgi import AuthMiddleware as ASGIMiddleware

CONFIG_ENV = "RESTAUTH_CONFIG"
USER_KINDS = ("memory", "sqlite", "postgres")
TOKEN_KINDS = ("memory", "sqlite", "redis", "postgres", "jwt", "none")
SESSION_KINDS = ("memory", "sqlite", "redis", "postgres", "jwt")  # take max_sessions
KEYED_KINDS = ("sqlite", "redis", "postgres")  # keep token ids: need the same key everywhere
MASK = "********"

__all__ = ["CONFIG_ENV", "Config", "ConfigError", "from_config", "load_config"]


@dataclass(frozen=True)
class Account:
    """An inline user of a ``memory`` store: the hash, never the password."""

    userid: str
    password_hash: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class UsersSpec:
    kind: str
    rounds: int
    path: Path | None = None
    dsn: str | None = field(default=None, repr=False)
    dsn_env: str | None = None
    accounts: tuple[Account, ...] = ()
    pool: dict[str, Any] = field(default_factory=dict)  # postgres: min_size, max_size, timeout
    scheme: str = "bcrypt"  # of new hashes; weaker ones are replaced at login


@dataclass(frozen=True)
class TokensSpec:
    kind: str
    ttl: float
    max_lifetime: float
    path: Path | None = None
    url: str | None = field(default=None, repr=False)
    url_env: str | None = None
    prefix: str = "restauth:"
    secret_key_env: str = SECRET_KEY_ENV
    secret_key: str | None = field(default=None, repr=False)
    jwt: JWTSpec | None = None
    dsn: str | None = field(default=None, repr=False)
    dsn_env: str | None = None
    pool: dict[str, Any] = field(default_factory=dict)  # postgres: min_size, max_size, timeout
    max_sessions: int | None = None  # None: the manager's default (DEFAULT_MAX_SESSIONS)


@dataclass(frozen=True)
class Config:
    """A checked configuration; build the stores and the middleware from it."""

    source: str
    options: dict[str, Any]
    users: UsersSpec
    tokens: TokensSpec
    throttle: ThrottlePolicy | None
    acl: ACL | None
    bearers: tuple[BearerSpec, ...] = ()
    accounts: AccountsSpec | None = None
    policy: PasswordPolicy = field(default_factory=PasswordPolicy)

    def build_users(self) -> UserStore:
        spec, policy = self.users, self.policy
        hasher = PasswordHasher(rounds=spec.rounds, scheme=spec.scheme)
        if spec.kind == "memory":
            from restauth.users.memory import MemoryUserStore

            store = MemoryUserStore(hasher=hasher, policy=policy)
            for account in spec.accounts:
                store.add_hashed(account.userid, account.password_hash, account.roles)
            return store
        if spec.kind == "sqlite":
            from restauth.users.sqlite import SQLiteUserStore

            assert spec.path is not None
            return SQLiteUserStore(spec.path, hasher=hasher, policy=policy)
        postgres = _extra("restauth.users.postgres", "postgres", "[users] kind = postgres")
        assert spec.dsn is not None
        store_class: type[UserStore] = postgres.PostgresUserStore
        return store_class(spec.dsn, hasher=hasher, policy=policy, **spec.pool)  # type: ignore[call-arg]

    def build_tokens(self) -> TokenManager | None:
        spec = self.tokens
        if spec.kind == "none":
            return None
        sessions: dict[str, Any] = {}  # given only when set: each manager has its default
        if spec.max_sessions is not None:
            sessions["max_sessions"] = spec.max_sessions
        if spec.kind == "memory":
            from restauth.tokens.memory import MemoryTokenManager

            return MemoryTokenManager(
                spec.ttl, max_lifetime=spec.max_lifetime, secret_key=spec.secret_key, **sessions
            )
        if spec.jwt is not None:
            try:
                manager: TokenManager = build_jwt_manager(
                    spec.jwt,
                    ttl=spec.ttl,
                    max_lifetime=spec.max_lifetime,
                    secret_key=spec.secret_key,
                    **sessions,
                )
            except (TypeError, ValueError) as error:
                if isinstance(error, ConfigError):
                    raise
                raise ConfigError(f"{self.source}: [tokens]: {error}") from None
            return manager
        if spec.kind == "sqlite":
            from restauth.tokens.sqlite import SQLiteTokenManager

            assert spec.path is not None
            return SQLiteTokenManager(
                spec.path,
                spec.ttl,
                max_lifetime=spec.max_lifetime,
                secret_key=spec.secret_key,
                **sessions,
            )
        if spec.kind == "postgres":
            postgres = _extra("restauth.tokens.postgres", "postgres", "[tokens] kind = postgres")
            manager = postgres.PostgresTokenManager(
                spec.dsn,
                spec.ttl,
                max_lifetime=spec.max_lifetime,
                secret_key=spec.secret_key,
                **sessions,
                **spec.pool,
            )
            return manager
        redis_tokens = _extra("restauth.tokens.redis", "redis", "[tokens] kind = redis")
        manager = redis_tokens.RedisTokenManager(
            spec.url,
            spec.ttl,
            max_lifetime=spec.max_lifetime,
            secret_key=spec.secret_key,
            prefix=spec.prefix,
            **sessions,
        )
        return manager

    def middleware(self, app: WSGIApplication, **overrides: Any) -> AuthMiddleware:
        """The configured middleware around ``app``; keywords override the file."""
        return AuthMiddleware(app, **self.settings(**overrides))

    def asgi_middleware(self, app: ASGIApp, **overrides: Any) -> ASGIMiddleware:
        """The configured ASGI middleware (:mod:`restauth.asgi`) around ``app``."""
        from restauth.asgi import AuthMiddleware as ASGIAuthMiddleware

        return ASGIAuthMiddleware(app, **self.settings(**overrides))

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """The middleware's keywords, stores built; ``overrides`` replace the file's."""
        options: dict[str, Any] = dict(self.options)
        if self.acl is not None:
            options["acl"] = self.acl
        if self.bearers and "bearer" not in overrides:
            options["bearer"] = build_bearers(self.bearers)
        if "users" not in overrides:
            options["users"] = self.build_users()
        if "tokens" not in overrides:
            options["tokens"] = self.build_tokens()
        if self.accounts is not None and "accounts" not in overrides:
            options["accounts"] = self.accounts.build(overrides.get("users", options["users"]))
        if self.throttle is None:
            options["throttle"] = None
        elif "throttle" not in overrides:
            tokens = overrides.get("tokens", options.get("tokens"))
            users = overrides.get("users", options.get("users"))
            options["throttle"] = Throttle(self.throttle, store=shared_store(tokens, users))
        options.update(overrides)
        return options

    def describe(self) -> dict[str, Any]:
        """The effective settings, secrets masked: what ``restauth check-config`` prints."""
        restauth = {key: _describe_option(value) for key, value in self.options.items()}
        restauth["throttle"] = asdict(self.throttle) if self.throttle is not None else False
        return {
            "source": self.source,
            "restauth": restauth,
            "users": _describe_users(self.users),
            "tokens": _describe_tokens(self.tokens),
            "acl": [
                _describe_rule(rule) for rule in (self.acl.rules if self.acl is not None else ())
            ],
            "bearer": [_describe_bearer(bearer) for bearer in self.bearers],
            "accounts": None if self.accounts is None else self.accounts.describe(),
            "password_policy": asdict(self.policy),
        }


def _describe_users(spec: UsersSpec) -> dict[str, Any]:
    users: dict[str, Any] = {
        "kind": spec.kind,
        "scheme": spec.scheme,
        "bcrypt_rounds": spec.rounds,
    }
    if spec.path is not None:
        users["path"] = str(spec.path)
    if spec.dsn is not None:
        users |= _describe_dsn(spec.dsn, spec.dsn_env, spec.pool)
    if spec.accounts:
        users["accounts"] = [
            {"userid": a.userid, "roles": list(a.roles), "password_hash": MASK}
            for a in spec.accounts
        ]
    return users


def _describe_tokens(spec: TokensSpec) -> dict[str, Any]:
    tokens: dict[str, Any] = {"kind": spec.kind}
    if spec.kind != "none":
        tokens |= {"ttl": spec.ttl, "max_lifetime": spec.max_lifetime}
        tokens["secret_key"] = (
            f"{MASK} (from ${spec.secret_key_env})" if spec.secret_key else "random per process"
        )
    if spec.kind in SESSION_KINDS:
        tokens["max_sessions"] = (
            DEFAULT_MAX_SESSIONS if spec.max_sessions is None else spec.max_sessions
        )
    if spec.path is not None:
        tokens["path"] = str(spec.path)
    if spec.url is not None:
        tokens |= {"url": _mask_url(spec.url), "prefix": spec.prefix}
    if spec.dsn is not None:
        tokens |= _describe_dsn(spec.dsn, spec.dsn_env, spec.pool)
    if spec.jwt is not None:
        tokens |= spec.jwt.describe()
    return tokens


def _describe_dsn(dsn: str, env: str | None, pool: dict[str, Any]) -> dict[str, Any]:
    """A PostgreSQL DSN masked, where it came from, and the pool's settings."""
    described: dict[str, Any] = {"dsn": _mask_url(dsn), "dsn_from": f"${env}" if env else "file"}
    return described | {f"pool_{k}" if k != "timeout" else k: v for k, v in pool.items()}


def _describe_rule(rule: ACLRule) -> dict[str, Any]:
    return {
        "path": rule.path,
        "methods": sorted(rule.methods) if rule.methods else "*",
        "roles": sorted(rule.roles),
    }


def _describe_bearer(bearer: BearerSpec) -> dict[str, Any]:
    return {
        "issuer": bearer.issuer,
        "audience": bearer.audience,
        "jwks_url": bearer.jwks_url,
        "userid_claim": bearer.userid_claim,
        "roles_claim": bearer.roles_claim,
    }


def _describe_option(value: object) -> object:
    if isinstance(value, CookieMode):
        return asdict(value)
    if isinstance(value, CORS):
        return {
            "origins": list(value.origins),
            "origin_pattern": value.origin_pattern,
            "allow_credentials": value.allow_credentials,
            "max_age": value.max_age,
            "allow_methods": list(value.allow_methods),
            "allow_headers": list(value.allow_headers),
            "expose_headers": list(value.expose_headers),
        }
    if isinstance(value, PasswordCache):
        return {"ttl": value.ttl, "max_entries": value.max_entries}
    return value


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Read and check a configuration: a TOML file path, or an already parsed mapping.

    ``source=None`` reads the file named by ``$RESTAUTH_CONFIG``. ``environ`` (default
    ``os.environ``) is where ``*_env`` keys are looked up. Every mistake is a
    :class:`ConfigError` naming the key.
    """
    env = os.environ if environ is None else environ
    if source is None:
        source = env.get(CONFIG_ENV) or None
        if source is None:
            raise ConfigError(f"no configuration file given and ${CONFIG_ENV} is not set")
    if isinstance(source, Mapping):
        data, name, base = dict(source), "<mapping>", Path.cwd()
    else:
        path = Path(source)
        name, base = str(path), path.resolve().parent
        try:
            with path.open("rb") as file:
                data = tomllib.load(file)
        except OSError as error:
            raise ConfigError(f"{name}: cannot read ({error.strerror})") from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError(f"{name}: not valid TOML ({error})") from None
    try:
        return _read(data, name, base, env)
    except ConfigError as error:
        raise ConfigError(f"{name}: {error}") from None


def from_config(
    app: WSGIApplication,
    source: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> AuthMiddleware:
    """Wrap ``app`` in the middleware a configuration describes (see :func:`load_config`)."""
    return load_config(source, environ=environ).middleware(app, **overrides)


# -- reading ------------------------------------------------------------------------


def _read(data: dict[str, Any], name: str, base: Path, env: Mapping[str, str]) -> Config:
    root = Table(data, "")
    main = root.table("restauth") or Table({}, "[restauth]")
    options, throttle = _read_main(main)
    users_table = root.table("users") or Table({}, "[users]")
    tokens_table = root.table("tokens") or Table({}, "[tokens]")
    users = _read_users(users_table, base, env)
    tokens = _read_tokens(tokens_table, base, env)
    try:
        acl = ACL(root.tables("acl")) if "acl" in root else None
    except ValueError as error:
        raise ConfigError(str(error)) from None
    bearers = read_bearers(root.tables("bearer"))
    cors = _read_cors(root.table("cors"))
    if cors is not None:
        options["cors"] = cors
    accounts = read_accounts(root.table("accounts"), env)
    policy = read_policy(root.table("password_policy"))
    root.finish()
    _check_options(options, tokens_enabled=tokens.kind != "none")
    return Config(name, options, users, tokens, throttle, acl, bearers, accounts, policy)


def _check_options(options: dict[str, Any], *, tokens_enabled: bool) -> None:
    """Judge the file's keywords by the rules the code is judged by (:meth:`Options.build`),
    around stores that cost nothing: no middleware, no connection."""
    from restauth.tokens.memory import MemoryTokenManager
    from restauth.users.memory import MemoryUserStore

    tokens = MemoryTokenManager() if tokens_enabled else None
    try:
        Options.build(users=MemoryUserStore(), tokens=tokens, throttle=None, **options)
    except ValueError as error:
        raise ConfigError(f"[restauth]: {error}") from None


def _read_main(table: Table) -> tuple[dict[str, Any], ThrottlePolicy | None]:
    options: dict[str, Any] = {
        "realm": table.string("realm", "restauth"),
        "public": table.strings("public"),
        "tokens_path": table.string("tokens_path", "/tokens"),
        "roles_path": table.string("roles_path", "/roles"),
        "require_https": table.boolean("require_https", True),
        "trusted_proxies": table.strings("trusted_proxies"),
        "max_header_size": table.integer("max_header_size", DEFAULT_MAX_HEADER_SIZE, minimum=256),
        "retry_after": table.integer("retry_after", 5, minimum=1),
        "challenge": table.boolean("challenge", True),
    }
    query_token = table.string("query_token")
    if query_token is not None:
        options["query_token"] = query_token
    fallback = table.string("basic_charset_fallback")
    if fallback is not None:  # "latin-1"; checked by Options.build with the rest
        options["basic_charset_fallback"] = fallback
    admin_role = table.string("admin_role")
    if admin_role is not None:  # checked by Options.build with the rest
        options["admin_role"] = admin_role
    cookie = _read_cookie(table)
    if cookie is not None:
        options["cookie"] = cookie
    throttle = _read_throttle(table)
    options.update(_read_password_cache(table))
    table.finish()
    return options, throttle


def _read_password_cache(table: Table) -> dict[str, PasswordCache | None]:
    """``password_cache = false``, or a ``[restauth.password_cache]`` table; {} for the default."""
    if isinstance(table.data.get("password_cache"), bool):
        return {} if table.boolean("password_cache", True) else {"password_cache": None}
    cache = table.table("password_cache")
    if cache is None:
        return {}
    result = PasswordCache(
        ttl=cache.number("ttl", DEFAULT_CACHE_TTL),
        max_entries=cache.integer("max_entries", DEFAULT_MAX_ENTRIES, minimum=1),
    )
    cache.finish()
    return {"password_cache": result}


def _read_cors(table: Table | None) -> CORS | None:
    """The ``[cors]`` table: which other origins' scripts may call the API (none without it)."""
    if table is None:
        return None
    try:
        cors = CORS(
            origins=table.strings("origins"),
            origin_pattern=table.string("origin_pattern"),
            allow_credentials=table.boolean("allow_credentials", False),
            max_age=table.integer("max_age", 600),
            allow_methods=table.strings("allow_methods", DEFAULT_METHODS),
            allow_headers=table.strings("allow_headers"),
            expose_headers=table.strings("expose_headers"),
        )
    except ConfigError as error:
        raise ConfigError(f"[cors]: {error}") from None
    table.finish()
    return cors


def _read_cookie(table: Table) -> CookieMode | None:
    if isinstance(table.data.get("cookie"), bool):
        return CookieMode() if table.boolean("cookie", False) else None
    cookie = table.table("cookie")
    if cookie is None:
        return None
    defaults = CookieMode()
    try:
        mode = CookieMode(
            name=cookie.string("name", defaults.name) or defaults.name,
            csrf_header=cookie.string("csrf_header", defaults.csrf_header) or defaults.csrf_header,
            secure=cookie.boolean("secure", defaults.secure),
            same_site=cookie.choice("same_site", ("Strict", "Lax"), defaults.same_site),
        )
    except ValueError as error:
        if isinstance(error, ConfigError):
            raise
        raise ConfigError(f"[restauth.cookie]: {error}") from None
    cookie.finish()
    return mode


def _read_throttle(table: Table) -> ThrottlePolicy | None:
    if isinstance(table.data.get("throttle"), bool):
        return ThrottlePolicy() if table.boolean("throttle", True) else None
    throttle = table.table("throttle")
    if throttle is None:
        return ThrottlePolicy()
    defaults = ThrottlePolicy()
    policy = ThrottlePolicy(
        user_threshold=throttle.integer("user_threshold", defaults.user_threshold, minimum=1),
        address_threshold=throttle.integer(
            "address_threshold", defaults.address_threshold, minimum=1
        ),
        window=throttle.number("window", defaults.window),
        base_delay=throttle.number("base_delay", defaults.base_delay),
        user_max_delay=throttle.number("user_max_delay", defaults.user_max_delay),
        address_max_delay=throttle.number("address_max_delay", defaults.address_max_delay),
    )
    throttle.finish()
    return policy


def _read_users(table: Table, base: Path, env: Mapping[str, str]) -> UsersSpec:
    kind = table.choice("kind", USER_KINDS, "memory")
    rounds = table.integer("bcrypt_rounds", 12, minimum=4)
    if rounds > 31:
        raise table.error("bcrypt_rounds", "must be at most 31")
    scheme = table.choice("scheme", SCHEMES, "bcrypt")
    if scheme == "argon2id":
        _extra("argon2", "argon2", "[users] scheme = argon2id")
    path = dsn = dsn_env = None
    accounts: tuple[Account, ...] = ()
    pool: dict[str, Any] = {}
    if kind == "memory":
        accounts = tuple(_read_account(row, i) for i, row in enumerate(table.tables("accounts")))
    elif kind == "sqlite":
        path = table.path("path", base)
    else:
        dsn, dsn_env = table.value_or_env("dsn", env)  # refused if it holds a password
        pool = _read_pool(table)
    table.finish()
    return UsersSpec(kind, rounds, path, dsn, dsn_env, accounts, pool, scheme)


def _read_pool(table: Table) -> dict[str, Any]:
    """A PostgreSQL store's pool: ``pool_min_size``, ``pool_max_size``, ``timeout``."""
    pool = {
        "min_size": table.integer("pool_min_size", 1, minimum=0),
        "max_size": table.integer("pool_max_size", 10, minimum=1),
        "timeout": table.number("timeout", 5.0),
    }
    if pool["min_size"] > pool["max_size"]:
        raise table.error("pool_min_size", "must not exceed pool_max_size")
    return pool


def _read_account(row: dict[str, Any], index: int) -> Account:
    table = Table(row, f"[[users.accounts]] #{index}")
    table.forbid(
        "password", "never write a password here; use password_hash (from `restauth hash-password`)"
    )
    userid = table.string("userid")
    password_hash = table.string("password_hash")
    if not userid:
        raise table.error("userid", "is required")
    if password_hash is None or not looks_like_hash(password_hash):
        raise table.error(
            "password_hash",
            "must be a bcrypt hash from `restauth hash-password` (or Argon2, or Django's "
            "pbkdf2_sha256)",
        )
    roles = tuple(table.strings("roles"))
    table.finish()
    return Account(userid, password_hash, roles)


def _read_tokens(table: Table, base: Path, env: Mapping[str, str]) -> TokensSpec:
    kind = table.choice("kind", TOKEN_KINDS, "memory")
    table.forbid(
        "secret_key",
        "secrets are never written in the file; set secret_key_env to the name of an "
        f"environment variable (default {SECRET_KEY_ENV})",
    )
    ttl = table.number("ttl", DEFAULT_TTL)
    max_lifetime = table.number("max_lifetime", DEFAULT_MAX_LIFETIME)
    key_env = table.string("secret_key_env", SECRET_KEY_ENV) or SECRET_KEY_ENV
    secret_key = env.get(key_env) or None
    jwt = read_jwt(table, base, env, secret_key, key_env) if kind == "jwt" else None
    if secret_key is None and kind in KEYED_KINDS:
        raise table.error(
            "secret_key_env",
            f"${key_env} is not set; a {kind} token store needs the same key on every node",
        )
    if secret_key is not None and len(secret_key.encode()) < 16:
        raise table.error("secret_key_env", f"${key_env} must hold at least 16 bytes")
    path = url = url_env = dsn = dsn_env = None
    prefix = "restauth:"
    pool: dict[str, Any] = {}
    if kind == "sqlite":
        path = table.path("path", base)
    elif kind == "redis":
        url, url_env = table.value_or_env("url", env)  # refused if it holds a password
        prefix = table.string("prefix", prefix) or prefix
    elif kind == "postgres":
        dsn, dsn_env = table.value_or_env("dsn", env)  # as [users]: no password in the file
        pool = _read_pool(table)
    max_sessions = None  # the manager's default; the key is unknown to the other kinds
    if kind in SESSION_KINDS and "max_sessions" in table:
        max_sessions = table.integer("max_sessions", DEFAULT_MAX_SESSIONS, minimum=1)
    table.finish()
    return TokensSpec(
        kind, ttl, max_lifetime, path, url, url_env, prefix, key_env, secret_key, jwt,
        dsn, dsn_env, pool, max_sessions,
    )  # fmt: skip


def _mask_url(url: str) -> str:
    """A URL or DSN (from the environment) with its passwords masked, for ``describe()``."""
    url = re.sub(r"(://[^/?#@:]*):[^/?#]*@", rf"\1:{MASK}@", url)  # up to the userinfo's last @
    return re.sub(  # a libpq keyword (maybe quoted) or a query parameter
        r"(password\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\s&#]+)", rf"\1{MASK}", url, flags=re.IGNORECASE
    )


def _extra(module: str, extra: str, what: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ConfigError(
            f"{what} needs the {extra} extra: pip install 'restauth[{extra}]' ({error.name} "
            "is missing)"
        ) from None
