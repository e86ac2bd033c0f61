"""restauth's rows: the same middleware configuration a user gets by default (throttle and
password cache on), over the bare WSGI app and, for comparison with Flask-HTTPAuth, over
a bare Flask app."""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Callable
from typing import Any, NamedTuple

from harness import Floor, Scenario, WSGIApp, bare_app, base_environ, requester, status_of

from restauth import AuthMiddleware, MemoryTokenManager, MemoryUserStore, PasswordHasher
from restauth.tokens.base import TokenManager
from restauth.users.base import UserStore

USERID = "alice"
PASSWORD = "correct horse battery staple"
SECRET_KEY = "benchmark-secret-key-0123456789"

BARE = "bare WSGI app"
FLOOR_WSGI = "floor: minimal WSGI middleware"
BASIC_CACHED = "restauth Basic (cached)"
BASIC_BCRYPT = "restauth Basic (uncached, bcrypt cost 12)"
TOKEN = "restauth Token"
BEARER = "restauth Bearer"
TOKEN_AS_PASSWORD = "restauth token-as-password"
UNAUTHORIZED = "restauth 401"
SQLITE = "restauth Token (SQLite tokens)"
REDIS = "restauth Token (Redis tokens)"
POSTGRES = "restauth Token (PostgreSQL tokens)"
POSTGRES_USERS = "restauth Token (PostgreSQL users and tokens)"
PING = "redis-py PING"  # one round trip to the same Redis: the floor for the Redis row
JWT_ROWS = ("HS256", "RS256", "EdDSA")


def basic(userid: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{userid}:{password}".encode()).decode("ascii")


def users_with_alice(rounds: int = 12) -> MemoryUserStore:
    users = MemoryUserStore(hasher=PasswordHasher(rounds=rounds))
    users.add(USERID, PASSWORD, roles=["user"])
    return users


def checked(app: WSGIApp, environ: dict[str, Any], expect: str, name: str) -> Callable[[], None]:
    status, headers = status_of(app, environ)
    if not status.startswith(expect):
        raise RuntimeError(f"{name}: expected {expect}, got {status}")
    missing = {"Auth-Token", "Auth-Token-Valid-Until", "Auth-Token-Location"} - set(headers)
    if expect == "200" and missing:
        raise RuntimeError(f"{name}: token headers missing: {sorted(missing)}")
    return requester(app, environ)


class Case(NamedTuple):
    """One restauth row over the bare app, before it is checked and timed."""

    name: str
    app: WSGIApp
    authorization: str | None  # the Authorization header; None: none sent
    expect: str  # the status line's start
    slow: bool  # bcrypt on every request


def request_environ(authorization: str | None, **extra: Any) -> dict[str, Any]:
    """base_environ() with ``authorization`` (if any) as the Authorization header."""
    if authorization is not None:
        extra["HTTP_AUTHORIZATION"] = authorization
    return base_environ(**extra)


def memory_cases(users: MemoryUserStore) -> list[Case]:
    """restauth with memory tokens (and ``users``) over the bare app, as configured by
    default (throttle and password cache on), and uncached for the bcrypt row."""
    tokens = MemoryTokenManager(secret_key=SECRET_KEY)
    app = AuthMiddleware(bare_app, users=users, tokens=tokens, realm="bench")
    uncached = AuthMiddleware(
        bare_app, users=users, tokens=tokens, realm="bench", password_cache=None, throttle=None
    )
    token = tokens.issue(USERID, users.get(USERID).stamp).token  # type: ignore[union-attr]
    return [
        Case(BASIC_CACHED, app, basic(USERID, PASSWORD), "200", False),
        Case(BASIC_BCRYPT, uncached, basic(USERID, PASSWORD), "200", True),
        Case(TOKEN, app, f"Token {token}", "200", False),
        Case(BEARER, app, f"Bearer {token}", "200", False),
        Case(TOKEN_AS_PASSWORD, app, basic(USERID, token), "200", False),
        Case(UNAUTHORIZED, app, None, "401", False),
    ]


def scenarios(users: MemoryUserStore, log: Callable[[str], None]) -> list[Scenario]:
    """Memory tokens over the bare app, plus SQLite, Redis and PostgreSQL stores when they
    work; and the floor: the least any WSGI middleware costs."""
    rows = [Scenario(BARE, requester(bare_app, base_environ()), BARE)]
    floor_note = "one environ key; start_response wrapped to add one header"
    rows.append(Scenario(FLOOR_WSGI, requester(Floor(bare_app), base_environ()), BARE,
                         note=floor_note))  # fmt: skip
    stamp = users.get(USERID).stamp  # type: ignore[union-attr]
    for name, wsgi, authorization, expect, slow in memory_cases(users):
        environ = request_environ(authorization)
        rows.append(Scenario(name, checked(wsgi, environ, expect, name), BARE, slow=slow))
    builders: list[tuple[str, Callable[[], tuple[TokenManager, str]]]] = [
        (SQLITE, _sqlite_tokens),
        (REDIS, _redis_tokens),
        (POSTGRES, _postgres_tokens),
    ]
    builders += [(f"restauth Bearer (JWT {alg})", _jwt_tokens(alg)) for alg in JWT_ROWS]
    for name, build in builders:
        try:
            manager, note = build()
        except Exception as error:  # a missing server or package: skip the row, say why
            log(f"skipped {name}: {type(error).__name__}: {error}")
            continue
        store_app = AuthMiddleware(bare_app, users=users, tokens=manager, realm="bench")
        scheme = "Bearer" if "JWT" in name else "Token"
        presented = manager.issue(USERID, stamp).token
        environ = base_environ(HTTP_AUTHORIZATION=f"{scheme} {presented}")
        rows.append(Scenario(name, checked(store_app, environ, "200", name), BARE, note=note))
        if name == REDIS:
            client: Any = getattr(manager, "client")  # noqa: B009 - TokenManager has no client
            note = "the same client and Redis: one round trip, the floor of the row above"
            rows.append(Scenario(PING, client.ping, BARE, note=note))
    try:
        pg_users, pg_tokens, note = postgres_users_and_tokens()
    except Exception as error:
        log(f"skipped {POSTGRES_USERS}: {type(error).__name__}: {error}")
    else:
        store_app = AuthMiddleware(bare_app, users=pg_users, tokens=pg_tokens, realm="bench")
        user = pg_users.get(USERID)
        assert user is not None
        presented = pg_tokens.issue(USERID, user.stamp).token
        environ = base_environ(HTTP_AUTHORIZATION=f"Token {presented}")
        rows.append(
            Scenario(POSTGRES_USERS, checked(store_app, environ, "200", POSTGRES_USERS), BARE,
                     note=note)
        )  # fmt: skip
    return rows


def over_flask(flask_app: WSGIApp, users: MemoryUserStore, baseline: str) -> list[Scenario]:
    """restauth wrapped around a bare Flask app: the apples-to-apples row for Flask-HTTPAuth."""
    tokens = MemoryTokenManager(secret_key=SECRET_KEY)
    app = AuthMiddleware(flask_app, users=users, tokens=tokens, realm="bench")
    token = tokens.issue(USERID, users.get(USERID).stamp).token  # type: ignore[union-attr]
    rows = []
    for name, authorization, expect, note in (
        ("restauth Token over Flask", f"Token {token}", "200", ""),
        ("restauth Basic (cached) over Flask", basic(USERID, PASSWORD), "200", ""),
        ("restauth 401 over Flask", None, "401", "answered before Flask runs"),
    ):
        environ = request_environ(authorization)
        rows.append(Scenario(name, checked(app, environ, expect, name), baseline, note=note))
    return rows


def _sqlite_tokens() -> tuple[TokenManager, str]:
    from restauth import SQLiteTokenManager

    directory = tempfile.mkdtemp(prefix="restauth-bench-")
    manager = SQLiteTokenManager(os.path.join(directory, "tokens.db"), secret_key=SECRET_KEY)
    return manager, "SQLite file (WAL); no renewal due: one SELECT (a write at most every 9 s)"


def _redis_tokens() -> tuple[TokenManager, str]:
    import redis

    from restauth.tokens.redis import RedisTokenManager

    url = os.environ.get("RESTAUTH_REDIS_URL", "redis://127.0.0.1:6379/15")
    client = redis.Redis.from_url(url, socket_timeout=2)
    client.ping()
    prefix = f"restauth-bench-{os.getpid()}:"
    manager = RedisTokenManager(client, secret_key=SECRET_KEY, prefix=prefix)
    return manager, "Redis on loopback; no renewal due: one EVALSHA that only reads"


def _postgres_schema() -> str:
    """The DSN of a new schema of its own (left behind: a few rows)."""
    import uuid

    import psycopg

    dsn = os.environ.get("RESTAUTH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test")
    schema = "restauth_bench_" + uuid.uuid4().hex[:10]
    with psycopg.connect(dsn, autocommit=True, connect_timeout=2) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    separator = "&" if "?" in dsn else "?"
    return f"{dsn}{separator}options=-csearch_path%3D{schema}"


def _postgres_tokens() -> tuple[TokenManager, str]:
    from restauth.tokens.postgres import PostgresTokenManager

    manager = PostgresTokenManager(_postgres_schema(), secret_key=SECRET_KEY)
    return manager, "PostgreSQL on loopback; no renewal due: one SELECT by primary key"


def postgres_users_and_tokens() -> tuple[UserStore, TokenManager, str]:
    """Users and tokens in one new PostgreSQL schema, alice among the users."""
    from restauth.tokens.postgres import PostgresTokenManager
    from restauth.users.postgres import PostgresUserStore

    dsn = _postgres_schema()
    users = PostgresUserStore(dsn, hasher=PasswordHasher(rounds=4))  # no password is checked
    users.add(USERID, PASSWORD, roles=["user"])
    manager = PostgresTokenManager(dsn, secret_key=SECRET_KEY)
    note = "PostgreSQL on loopback; no renewal due: two SELECTs by primary key (token, user)"
    return users, manager, note


def _jwt_tokens(alg: str) -> Callable[[], tuple[TokenManager, str]]:
    """A JWT manager signing with ``alg``; a young token, so nothing is re-signed per request."""

    def build() -> tuple[TokenManager, str]:
        from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

        from restauth.tokens.jwt import JWTKey, JWTTokenManager

        material: Any = SECRET_KEY + "-jwt-0123456789"
        if alg == "RS256":
            material = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "EdDSA":
            material = ed25519.Ed25519PrivateKey.generate()
        manager = JWTTokenManager(JWTKey(material), ttl=3600)
        return manager, "signature verified per request; memory revocation records (two dict reads)"

    return build
