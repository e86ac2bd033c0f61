"""User stores: where userids, password hashes and roles live.

``base`` holds the protocols (``UserStore``, ``WritableUserStore`` and the optional
``HasPasswordHasher``); ``memory``, ``sqlite`` and ``postgres`` the stores. May import
``restauth.passwords``, ``restauth.errors``, ``restauth._text``, ``restauth._storage``
and ``restauth.throttle`` (a SQLite store offers its file's counters); never
``restauth.tokens`` (see docs/architecture.md) or any HTTP module.
"""

from restauth.errors import UnknownUser, UserExists
from restauth.users.base import (
    AccountStore,
    HasPasswordHasher,
    OneTimeToken,
    User,
    UserStore,
    WritableUserStore,
    check_userid,
    stamp_of,
)
from restauth.users.memory import MemoryUserStore
from restauth.users.sqlite import SQLiteUserStore

__all__ = [
    "AccountStore",
    "HasPasswordHasher",
    "MemoryUserStore",
    "OneTimeToken",
    "SQLiteUserStore",
    "UnknownUser",
    "User",
    "UserExists",
    "UserStore",
    "WritableUserStore",
    "check_userid",
    "stamp_of",
]
