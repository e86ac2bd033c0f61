"""User stores: where userids, password hashes and roles live."""

from restauth.users.base import User, UserStore, WritableUserStore, check_userid, stamp_of
from restauth.users.memory import MemoryUserStore

__all__ = ["MemoryUserStore", "User", "UserStore", "WritableUserStore", "check_userid", "stamp_of"]
