"""The apps gunicorn serves in the benchmark: ``bare``, and ``token``: restauth in front,
with the token manager named by ``RESTAUTH_BENCH_STORE`` (memory, sqlite or redis).

Users are in memory. gunicorn runs with ``--preload``: this module is imported once in
the master, which issues the token and writes it to the file named by
``RESTAUTH_BENCH_TOKEN_FILE`` before the workers fork, so both workers know it (the memory
manager's dicts are copied into each; the SQLite and Redis managers reconnect in each
worker after the fork). Plain HTTP on loopback, as behind a TLS-terminating proxy: wrk
sends ``X-Forwarded-Proto: https`` to every app, and restauth believes it from 127.0.0.1,
its trusted proxy here.
"""

from __future__ import annotations

import os

from harness import bare_app
from restauth_scenarios import PASSWORD, SECRET_KEY, USERID

from restauth import AuthMiddleware, MemoryTokenManager, MemoryUserStore, PasswordHasher
from restauth.tokens.base import TokenManager

bare = bare_app


def _tokens(store: str) -> TokenManager:
    if store == "sqlite":
        from restauth import SQLiteTokenManager

        path = os.path.join(os.environ["RESTAUTH_BENCH_DIR"], "tokens.db")
        return SQLiteTokenManager(path, secret_key=SECRET_KEY)
    if store == "redis":
        from restauth.tokens.redis import RedisTokenManager

        url = os.environ.get("RESTAUTH_REDIS_URL", "redis://127.0.0.1:6379/15")
        prefix = f"restauth-bench-{os.getpid()}:"
        return RedisTokenManager(url, secret_key=SECRET_KEY, prefix=prefix)
    return MemoryTokenManager(secret_key=SECRET_KEY)


_file = os.environ.get("RESTAUTH_BENCH_TOKEN_FILE")
if _file:
    _users = MemoryUserStore(hasher=PasswordHasher(rounds=4))  # set-up only: no password checked
    _users.add(USERID, PASSWORD)
    _manager = _tokens(os.environ.get("RESTAUTH_BENCH_STORE", "memory"))
    token = AuthMiddleware(
        bare_app, users=_users, tokens=_manager, realm="bench", trusted_proxies=["127.0.0.1"]
    )
    grant = _manager.issue(USERID, _users.get(USERID).stamp)  # type: ignore[union-attr]
    with open(_file + ".tmp", "w") as handle:
        handle.write(grant.token)
    os.replace(_file + ".tmp", _file)
