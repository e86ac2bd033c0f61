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

from restauth import PasswordPolicy, SQLiteTokenManager, SQLiteUserStore, UserExists, WeakPassword

EXAMPLE_USERS = {"alice": ["admin", "user"], "bob": ["user"]}


def new_password(userid: str) -> str:
    """A random password the stores' default policy accepts (a random one could, rarely,
    contain the userid: ``bob`` in 16 characters about once in 2,300 draws)."""
    while True:
        password = secrets.token_urlsafe(12)
        try:
            PasswordPolicy().check(password, userid)
        except WeakPassword:
            continue
        return password


def example_stores() -> tuple[SQLiteUserStore, SQLiteTokenManager]:
    path = os.environ.get("RESTAUTH_EXAMPLE_DB", "restauth-example.db")
    users = SQLiteUserStore(path)
    for userid, roles in EXAMPLE_USERS.items():
        if users.get(userid) is not None:
            continue
        password = new_password(userid)
        try:
            users.add(userid, password, roles=roles)
        except UserExists:  # another worker process added it a moment ago
            continue
        print(f"example user {userid} (roles {', '.join(roles)}) password {password}", flush=True)
    return users, SQLiteTokenManager(path, ttl=900)
