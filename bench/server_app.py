"""The two apps gunicorn serves in the benchmark: ``bare`` and ``token`` (restauth in front).

The token is issued when the worker imports this module and written to the file named by
``RESTAUTH_BENCH_TOKEN_FILE``, so wrk can send it. Plain HTTP on loopback: gunicorn marks
a request ``https`` when 127.0.0.1 sends ``X-Forwarded-Proto: https`` (its defaults), which
wrk does for both apps.
"""

from __future__ import annotations

import os

from harness import bare_app
from restauth_scenarios import PASSWORD, SECRET_KEY, USERID

from restauth import AuthMiddleware, MemoryTokenManager, MemoryUserStore, PasswordHasher

bare = bare_app

_users = MemoryUserStore(hasher=PasswordHasher(rounds=4))  # set-up only: no password is checked
_users.add(USERID, PASSWORD)
_tokens = MemoryTokenManager(secret_key=SECRET_KEY)
token = AuthMiddleware(bare_app, users=_users, tokens=_tokens, realm="bench")

_file = os.environ.get("RESTAUTH_BENCH_TOKEN_FILE")
if _file:
    grant = _tokens.issue(USERID, _users.get(USERID).stamp)  # type: ignore[union-attr]
    with open(_file + ".tmp", "w") as handle:
        handle.write(grant.token)
    os.replace(_file + ".tmp", _file)
