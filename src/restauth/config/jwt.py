"""The JWT parts of a configuration: ``[tokens] kind = "jwt"`` and ``[[bearer]]`` providers.

Kept apart from :mod:`restauth.config.loader` because it needs the ``jwt`` extra only when a
file asks for it, and because a JWT token manager has more to say (keys, rotation,
revocation) than the stored managers. Key material follows the file's rule for
secrets: an HS256 secret comes from an environment variable; a private key lives in
its own PEM file (its password, if any, in an environment variable).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restauth.config.schema import ConfigError, Table, holds_password

REVOCATION_KINDS = ("memory", "sqlite", "redis")
MIN_SECRET_BYTES = 32


@dataclass(frozen=True)
class JWTSpec:
    """How to build a :class:`restauth.tokens.jwt.JWTTokenManager`."""

    issuer: str
    private_key_file: Path | None
    private_key_password: str | None = field(repr=False)
    old_key_files: tuple[Path, ...]
    old_secrets: tuple[str, ...] = field(repr=False)
    revocation: str
    revocation_path: Path | None
    revocation_url: str | None = field(repr=False)
    revocation_prefix: str
    revocation_cache: float | None

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "issuer": self.issuer,
            "signing_key": str(self.private_key_file) if self.private_key_file else "HS256 secret",
            "old_keys": [str(p) for p in self.old_key_files] + ["(secret)"] * len(self.old_secrets),
            "revocation": self.revocation,
            "revocation_cache": self.revocation_cache,
        }
        if self.revocation_path is not None:
            described["revocation_path"] = str(self.revocation_path)
        return described


@dataclass(frozen=True)
class BearerSpec:
    """One external identity provider (``[[bearer]]``)."""

    jwks_url: str
    issuer: str
    audience: str
    userid_claim: str
    roles_claim: str | None
    leeway: float
    allow_insecure_loopback: bool


def read_jwt(
    table: Table, base: Path, env: Mapping[str, str], secret_key: str | None, key_env: str
) -> JWTSpec:
    """The JWT keys of a ``[tokens]`` table whose ``kind`` is ``jwt``."""
    private_key_file, password = _signing_key(table, base, env)
    if private_key_file is None:
        _check_hs256_secret(table, secret_key, key_env)
    old_key_files, old_secrets = _old_keys(table, base, env)
    revocation = table.choice("revocation", REVOCATION_KINDS, "memory")
    revocation_path = revocation_url = None
    if revocation == "sqlite":
        revocation_path = table.path("revocation_path", base)
    elif revocation == "redis":
        revocation_url, _ = table.value_or_env("revocation_url", env)  # never with a password
    cache = table.number("revocation_cache", 1.0) if "revocation_cache" in table else None
    return JWTSpec(
        issuer=table.string("issuer", "restauth") or "restauth",
        private_key_file=private_key_file,
        private_key_password=password,
        old_key_files=old_key_files,
        old_secrets=old_secrets,
        revocation=revocation,
        revocation_path=revocation_path,
        revocation_url=revocation_url,
        revocation_prefix=table.string("prefix", "restauth:") or "restauth:",
        revocation_cache=cache,
    )


def _signing_key(
    table: Table, base: Path, env: Mapping[str, str]
) -> tuple[Path | None, str | None]:
    """The private key file (``None``: HS256 with the secret key) and its password."""
    key_file = table.string("private_key_file")
    private_key_file = table.path("private_key_file", base) if key_file else None
    password_env = table.string("private_key_password_env")
    password = env.get(password_env) if password_env else None
    if password_env and not password:
        raise table.error("private_key_password_env", f"${password_env} is not set")
    return private_key_file, password


def _check_hs256_secret(table: Table, secret_key: str | None, key_env: str) -> None:
    """An HS256 manager signs with the secret key: it must be set, and long enough."""
    if secret_key is None:
        raise table.error(
            "secret_key_env",
            f"${key_env} is not set; an HS256 JWT manager signs with it (or set "
            "private_key_file for RS256/ES256/EdDSA)",
        )
    if len(secret_key.encode()) < MIN_SECRET_BYTES:
        raise table.error(
            "secret_key_env",
            f"${key_env} must hold at least {MIN_SECRET_BYTES} bytes for HS256",
        )


def _old_keys(
    table: Table, base: Path, env: Mapping[str, str]
) -> tuple[tuple[Path, ...], tuple[str, ...]]:
    """Keys that still verify after a rotation: PEM files, and secrets from the environment."""
    old_key_files = tuple(
        Path(p).expanduser() if Path(p).expanduser().is_absolute() else base / p
        for p in table.strings("old_key_files")
    )
    old_secrets: list[str] = []
    for name in table.strings("old_secret_key_envs"):
        value = env.get(name)
        if not value:
            raise table.error("old_secret_key_envs", f"${name} is not set")
        old_secrets.append(value)
    return old_key_files, tuple(old_secrets)


def read_bearers(rows: list[dict[str, Any]]) -> tuple[BearerSpec, ...]:
    specs: list[BearerSpec] = []
    for index, row in enumerate(rows):
        table = Table(row, f"[[bearer]] #{index}")
        values = {key: table.string(key) for key in ("jwks_url", "issuer", "audience")}
        for key, value in values.items():
            if not value:
                raise table.error(key, "is required")
        if holds_password(values["jwks_url"] or ""):
            raise table.error(
                "jwks_url", "holds a password; a JWKS is public (no secret in its URL)"
            )
        roles_claim = table.string("roles_claim", "realm_access.roles")
        specs.append(
            BearerSpec(
                jwks_url=values["jwks_url"] or "",
                issuer=values["issuer"] or "",
                audience=values["audience"] or "",
                userid_claim=table.string("userid_claim", "sub") or "sub",
                roles_claim=roles_claim or None,  # "" means: no roles from this provider
                leeway=table.number("leeway", 30.0),
                allow_insecure_loopback=table.boolean("allow_insecure_loopback", False),
            )
        )
        table.finish()
    return tuple(specs)


def build_jwt_manager(
    spec: JWTSpec,
    *,
    ttl: float,
    max_lifetime: float,
    secret_key: str | None,
    max_sessions: int | None = None,
) -> Any:
    """A JWTTokenManager as ``spec`` says; ``ConfigError`` for unreadable keys.
    ``max_sessions`` ``None``: the manager's default (the per-user session cap)."""
    jwt_tokens = _jwt_module("restauth.tokens.jwt")
    revocation_module = _jwt_module("restauth.tokens.revocation")
    password = spec.private_key_password.encode() if spec.private_key_password else None
    if spec.private_key_file is not None:
        key = jwt_tokens.JWTKey(
            _read_key(spec.private_key_file, "private_key_file"), password=password
        )
    else:
        key = jwt_tokens.JWTKey(secret_key)
    old_keys = [jwt_tokens.JWTKey(_read_key(p, "old_key_files")) for p in spec.old_key_files]
    old_keys += [jwt_tokens.JWTKey(secret) for secret in spec.old_secrets]
    if spec.revocation == "sqlite":
        store = revocation_module.SQLiteRevocation(spec.revocation_path)
    elif spec.revocation == "redis":
        store = revocation_module.RedisRevocation(
            spec.revocation_url, prefix=spec.revocation_prefix
        )
    else:
        store = revocation_module.MemoryRevocation()
    if spec.revocation_cache is not None:
        store = revocation_module.CachedRevocation(
            store, max_staleness=spec.revocation_cache, horizon=max_lifetime
        )
    sessions = {} if max_sessions is None else {"max_sessions": max_sessions}
    return jwt_tokens.JWTTokenManager(
        key,
        old_keys=old_keys,
        ttl=ttl,
        max_lifetime=max_lifetime,
        issuer=spec.issuer,
        revocation=store,
        **sessions,
    )


def build_bearers(specs: tuple[BearerSpec, ...]) -> list[Any]:
    if not specs:
        return []
    module = _jwt_module("restauth.bearers.jwt")
    bearers = []
    for index, spec in enumerate(specs):
        try:
            bearers.append(
                module.JWTBearer(
                    jwks_url=spec.jwks_url,
                    issuer=spec.issuer,
                    audience=spec.audience,
                    userid_claim=spec.userid_claim,
                    roles_claim=spec.roles_claim,
                    leeway=spec.leeway,
                    allow_insecure_loopback=spec.allow_insecure_loopback,
                )
            )
        except ValueError as error:
            raise ConfigError(f"[[bearer]] #{index}: {error}") from None
    return bearers


def _read_key(path: Path, key: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise ConfigError(f"[tokens] {key}: cannot read {path} ({error.strerror})") from None


def _jwt_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise ConfigError(
            f"JWT needs the jwt extra: pip install 'restauth[jwt]' ({error.name} is missing)"
        ) from None
