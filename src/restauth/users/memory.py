"""An in-memory user store: one process, nothing survives a restart."""

from __future__ import annotations

import dataclasses
import hmac
import threading
from collections.abc import Iterable, Iterator

from restauth.errors import UnknownUser, UserExists
from restauth.passwords.hasher import PasswordHasher
from restauth.users.base import User, check_roles, check_userid, stamp_of


class MemoryUserStore:
    """Users kept in a dict, passwords as bcrypt hashes.

    >>> users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    >>> users.add("alice", "s3cret", roles=["admin"]).roles
    frozenset({'admin'})
    """

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher if hasher is not None else PasswordHasher()
        self._users: dict[str, User] = {}
        self._lock = threading.Lock()

    def get(self, userid: str) -> User | None:
        return self._users.get(userid)

    def add(self, userid: str, password: str, roles: Iterable[str] = ()) -> User:
        """Enrol a user; :class:`~restauth.errors.UserExists` if the userid is taken,
        ``ValueError`` if a value is not acceptable."""
        userid = check_userid(userid)
        role_set = check_roles(roles)
        password_hash = self.hasher.hash(password)
        return self._put(userid, password_hash, role_set, new=True)

    def add_hashed(self, userid: str, password_hash: str, roles: Iterable[str] = ()) -> User:
        """Enrol a user from an existing hash (configuration files, migrations)."""
        return self._put(check_userid(userid), password_hash, check_roles(roles), new=True)

    def set_password(self, userid: str, password: str) -> User:
        """Change a password; the user's tokens die with the old stamp."""
        user = self._require(userid)
        return self._put(user.userid, self.hasher.hash(password), user.roles, new=False)

    def set_roles(self, userid: str, roles: Iterable[str]) -> User:
        """Change roles; the stamp stays (it may no longer be the hash's, after a rehash)."""
        role_set = check_roles(roles)
        with self._lock:
            user = dataclasses.replace(self._require(userid), roles=role_set)
            self._users[user.userid] = user
        return user

    def replace_hash(self, userid: str, old_hash: str, new_hash: str) -> bool:
        """Swap in a stronger hash of the same password if ``old_hash`` is still stored;
        the stamp stays, so the user's tokens live on."""
        with self._lock:
            user = self._users.get(userid)
            if user is None or not _same(user.password_hash, old_hash):
                return False
            self._users[userid] = dataclasses.replace(user, password_hash=new_hash)
            return True

    def remove(self, userid: str) -> bool:
        with self._lock:
            return self._users.pop(userid, None) is not None

    def userids(self) -> Iterator[str]:
        return iter(sorted(self._users))

    def _require(self, userid: str) -> User:
        user = self._users.get(userid)
        if user is None:
            raise UnknownUser(userid)
        return user

    def _put(self, userid: str, password_hash: str, roles: frozenset[str], *, new: bool) -> User:
        user = User(userid, password_hash, roles, stamp_of(password_hash))
        with self._lock:
            if new and userid in self._users:
                raise UserExists(f"user {userid!r} already exists")
            if not new and userid not in self._users:
                raise UnknownUser(userid)
            self._users[userid] = user
        return user


def _same(stored: str, expected: str) -> bool:
    """Hashes are compared in constant time, like every secret in restauth."""
    return hmac.compare_digest(
        stored.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )
