"""The app ``test_throttle_processes`` serves with gunicorn: the README's one-machine setup.

Users and tokens in one SQLite file (``RESTAUTH_TEST_DB``), the middleware's default
throttle (which must be the SQLite one). Every response names the worker that made it.
The delays are made long so no second chance comes while the test runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from restauth import AuthMiddleware, PasswordHasher
from restauth.throttle.policy import ThrottlePolicy
from restauth.throttle.sqlite import SQLiteThrottleStore
from restauth.tokens.sqlite import SQLiteTokenManager
from restauth.users.sqlite import SQLiteUserStore

PATH = os.environ["RESTAUTH_TEST_DB"]


def hello(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


users = SQLiteUserStore(PATH, hasher=PasswordHasher(rounds=4))
middleware = AuthMiddleware(
    hello,
    users=users,
    tokens=SQLiteTokenManager(PATH),  # the key comes from RESTAUTH_SECRET_KEY
    require_https=False,
    password_cache=None,
)
assert middleware.throttle is not None
assert isinstance(middleware.throttle.store, SQLiteThrottleStore)
middleware.throttle.policy = ThrottlePolicy(base_delay=3600, user_max_delay=3600)


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, [*headers, ("X-Worker", str(os.getpid()))], exc_info)

    return middleware(environ, start)
