"""The apps uvicorn serves in the benchmark: ``bare`` (the bare ASGI app of the in-process
rows), ``headers`` (the bare app answering with the headers of restauth's Token response),
and ``token``: restauth.asgi in front, with the token manager named by
``RESTAUTH_BENCH_STORE`` (memory, sqlite or redis).

uvicorn starts its workers fresh (no fork of a loaded app, unlike gunicorn's
``--preload``), so each worker builds its own middleware here:

- memory tokens (one worker): this module issues the token when it is imported and
  writes it to the file named by ``RESTAUTH_BENCH_TOKEN_FILE``;
- SQLite and Redis tokens (several workers): the benchmark issued the token beforehand
  into the database under ``RESTAUTH_BENCH_DIR`` or into Redis under the key prefix
  ``RESTAUTH_BENCH_REDIS_PREFIX`` (through :func:`tokens`, with the same environment),
  for a user whose password hash it passes in ``RESTAUTH_BENCH_HASH`` (the credential
  stamp is derived from the hash: every worker's user must have the same one). Redis
  tokens are read through ``redis.asyncio`` (memory users: the check is awaited).

Plain HTTP on loopback, as behind a TLS-terminating proxy: wrk sends
``X-Forwarded-Proto: https`` to every app, and 127.0.0.1 is the trusted proxy here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from asgi_scenarios import bare_asgi_app
from harness import BODY
from restauth_scenarios import PASSWORD, SECRET_KEY, USERID

from restauth import MemoryTokenManager, MemoryUserStore, PasswordHasher
from restauth.asgi import AuthMiddleware
from restauth.tokens.base import TokenManager

bare = bare_asgi_app
DATABASE = "asgi-tokens.db"

# What restauth.asgi adds to a Token response, in size and number: the server's share of
# the cost of restauth's headers (h11 checks and writes each one).
_TOKEN_RESPONSE_HEADERS = [
    (b"content-type", b"text/plain"),
    (b"content-length", b"20"),
    (b"auth-token", b"x" * 22 + b"." + b"y" * 43),
    (b"auth-token-valid-until", b"2026-12-07T03:00:00.000Z"),
    (b"auth-token-location", b"/tokens/alice"),
    (b"access-control-expose-headers", b"Auth-Token, Auth-Token-Valid-Until, Auth-Token-Location"),
    (b"cache-control", b"no-store"),
    (b"pragma", b"no-cache"),
]


async def headers(scope: Any, receive: Any, send: Any) -> None:
    """The bare app with the eight headers of restauth's Token response."""
    if scope["type"] != "http":
        await bare_asgi_app(scope, receive, send)
        return
    start = {"type": "http.response.start", "status": 200, "headers": _TOKEN_RESPONSE_HEADERS}
    await send(start)
    await send({"type": "http.response.body", "body": BODY})


def tokens(store: str, env: Mapping[str, str] = os.environ) -> TokenManager:
    """The token manager named ``store``, from ``env`` (the workers' environment)."""
    if store == "sqlite":
        from restauth import SQLiteTokenManager

        path = os.path.join(env["RESTAUTH_BENCH_DIR"], DATABASE)
        return SQLiteTokenManager(path, secret_key=SECRET_KEY)
    if store == "redis":
        from restauth.tokens.redis import RedisTokenManager

        url = env.get("RESTAUTH_REDIS_URL", "redis://127.0.0.1:6379/15")
        prefix = env["RESTAUTH_BENCH_REDIS_PREFIX"]
        return RedisTokenManager(url, secret_key=SECRET_KEY, prefix=prefix)
    return MemoryTokenManager(secret_key=SECRET_KEY)


_store = os.environ.get("RESTAUTH_BENCH_STORE")
if _store:
    _users = MemoryUserStore(hasher=PasswordHasher(rounds=4))  # set-up only: no password checked
    _hash = os.environ.get("RESTAUTH_BENCH_HASH")
    if _hash:
        _users.add_hashed(USERID, _hash)
    else:
        _users.add(USERID, PASSWORD)
    _manager = tokens(_store)
    token = AuthMiddleware(
        bare_asgi_app, users=_users, tokens=_manager, realm="bench", trusted_proxies=["127.0.0.1"]
    )
    _file = os.environ.get("RESTAUTH_BENCH_TOKEN_FILE")
    if _file:
        grant = _manager.issue(USERID, _users.get(USERID).stamp)  # type: ignore[union-attr]
        with open(_file + ".tmp", "w") as handle:
            handle.write(grant.token)
        os.replace(_file + ".tmp", _file)
