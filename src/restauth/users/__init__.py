"""User stores: where userids, password hashes and roles live."""

from restauth.errors import UnknownUser, UserExists
from restauth.users.base import (
    HasPasswordHasher,
    User,
    UserStore,
    WritableUserStore,
    check_userid,
    stamp_of,
)
from restauth.users.memory import MemoryUserStore
from restauth.users.sqlite import SQLiteUserStore

__all__ = [
    "HasPasswordHasher",
    "MemoryUserStore",
    "SQLiteUserStore",
    "UnknownUser",
    "User",
    "UserExists",
    "UserStore",
    "WritableUserStore",
    "check_userid",
    "stamp_of",
]
