"""User stores: where userids, password hashes and roles live."""

from restauth.users.base import User, UserStore, WritableUserStore, check_userid, stamp_of
from restauth.users.memory import MemoryUserStore
from restauth.users.sql import UserExists
from restauth.users.sqlite import SQLiteUserStore

__all__ = [
    "MemoryUserStore",
    "SQLiteUserStore",
    "User",
    "UserExists",
    "UserStore",
    "WritableUserStore",
    "check_userid",
    "stamp_of",
]
