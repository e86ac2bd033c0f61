"""Users and tokens for the examples: one SQLite file that every worker process shares.

The file is ``$RESTAUTH_EXAMPLE_DB`` (default ``restauth-example.db`` in the current
directory). The first process to find it empty adds alice (roles admin, user) and bob
(role user) with random passwords and prints them, once; later starts reuse them
(delete the file for new ones). Tokens live in the same file, so a token one worker
issued is known to all of them; they need ``RESTAUTH_SECRET_KEY`` (16 bytes or more).
"""

from __future__ import annotations

import os
import secrets

from restauth import SQLiteTokenManager, SQLiteUserStore

EXAMPLE_USERS = {"alice": ["admin", "user"], "bob": ["user"]}


def example_stores() -> tuple[SQLiteUserStore, SQLiteTokenManager]:
    path = os.environ.get("RESTAUTH_EXAMPLE_DB", "restauth-example.db")
    users = SQLiteUserStore(path)
    for userid, roles in EXAMPLE_USERS.items():
        if users.get(userid) is not None:
            continue
        password = secrets.token_urlsafe(12)
        try:
            users.add(userid, password, roles=roles)
        except ValueError:  # another worker process added it a moment ago
            continue
        print(f"example user {userid} (roles {', '.join(roles)}) password {password}", flush=True)
    return users, SQLiteTokenManager(path, ttl=900)
