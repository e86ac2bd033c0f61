"""An in-memory user store: one process, nothing survives a restart."""

from __future__ import annotations

import dataclasses
import hmac
import threading
import time
from collections.abc import Iterable, Iterator
from types import EllipsisType

from restauth._storage.overrides import keeps
from restauth._text import normalize
from restauth._time import Clock
from restauth.errors import UnknownUser, UserExists
from restauth.passwords.hasher import PasswordHasher
from restauth.passwords.policy import DEFAULT_POLICY, PasswordPolicy
from restauth.users.base import (
    OneTimeToken,
    User,
    check_email,
    check_roles,
    check_userid,
    new_stamp,
    stamp_of,
)


class MemoryUserStore:
    """Users kept in a dict, passwords as bcrypt hashes.

    ``policy`` judges every password set through ``add`` and ``set_password``
    (``None``: only the hasher's hard limits).

    >>> users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    >>> users.add("alice", "correct horse", roles=["admin"]).roles
    frozenset({'admin'})
    """

    def __init__(
        self,
        hasher: PasswordHasher | None = None,
        *,
        policy: PasswordPolicy | None = DEFAULT_POLICY,
        clock: Clock = time.time,
    ) -> None:
        self.hasher = hasher if hasher is not None else PasswordHasher()
        self.policy = policy
        self._clock = clock
        self._users: dict[str, User] = {}
        self._one_time: dict[str, OneTimeToken] = {}
        self._lock = threading.Lock()

    def get(self, userid: str) -> User | None:
        return self._users.get(userid)

    def async_user_reader(self) -> _MemoryUserReader | None:
        """For the ASGI adapter's awaited Token checks (see :mod:`restauth.lookups`): the
        users are in this process, so the reader only answers as :meth:`get` does; none
        for a subclass with a ``get`` of its own, which it would bypass."""
        return _MemoryUserReader(self) if keeps(self, MemoryUserStore, "get") else None

    def add(
        self,
        userid: str,
        password: str,
        roles: Iterable[str] = (),
        *,
        email: str | None = None,
        verified: bool = True,
    ) -> User:
        """Enrol a user; :class:`~restauth.errors.UserExists` if the userid is taken,
        ``ValueError`` (:class:`~restauth.errors.WeakPassword` for the password) if a
        value is not acceptable."""
        userid = check_userid(userid)
        role_set, email = check_roles(roles), check_email(email)
        if self.policy is not None:
            self.policy.check(password, userid)
        password_hash = self.hasher.hash(password)
        user = User(
            userid, password_hash, role_set, stamp_of(password_hash), self._clock(), email, verified
        )
        return self._put(user, new=True)

    def add_hashed(
        self,
        userid: str,
        password_hash: str,
        roles: Iterable[str] = (),
        *,
        email: str | None = None,
        verified: bool = True,
    ) -> User:
        """Enrol a user from an existing hash (configuration files, migrations)."""
        user = User(
            check_userid(userid),
            password_hash,
            check_roles(roles),
            stamp_of(password_hash),
            self._clock(),
            check_email(email),
            verified,
        )
        return self._put(user, new=True)

    def set_password(self, userid: str, password: str) -> User:
        """Change a password; the user's tokens die with the old stamp (and their
        one-time tokens with it)."""
        user = self._require(userid)
        if self.policy is not None:
            self.policy.check(password, user.userid)
        password_hash = self.hasher.hash(password)  # slow: outside the lock
        with self._lock:  # on the record as it is now: a flag set meanwhile stays set
            current = self._require(user.userid)
            changed = dataclasses.replace(
                current, password_hash=password_hash, stamp=stamp_of(password_hash)
            )
            self._users[changed.userid] = changed
        self._drop_one_time(changed.userid)
        return changed

    def set_roles(self, userid: str, roles: Iterable[str]) -> User:
        """Change roles; the stamp stays (it may no longer be the hash's, after a rehash)."""
        return self.update(userid, roles=roles)

    def update(
        self,
        userid: str,
        *,
        roles: Iterable[str] | None = None,
        email: str | EllipsisType | None = ...,
        verified: bool | None = None,
        disabled: bool | None = None,
    ) -> User:
        """Change the fields given; an account turned inactive gets a new stamp."""
        changes: dict[str, object] = {}
        if roles is not None:
            changes["roles"] = check_roles(roles)
        if not isinstance(email, EllipsisType):
            changes["email"] = check_email(email)
        if verified is not None:
            changes["verified"] = bool(verified)
        if disabled is not None:
            changes["disabled"] = bool(disabled)
        with self._lock:
            user = self._require(userid)
            changed = dataclasses.replace(user, **changes)  # type: ignore[arg-type]
            if user.active and not changed.active:
                changed = dataclasses.replace(changed, stamp=new_stamp())
            self._users[user.userid] = changed
        return changed

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
        userid = normalize(userid)
        with self._lock:
            removed = self._users.pop(userid, None) is not None
        if removed:
            self._drop_one_time(userid)
        return removed

    def userids(self) -> Iterator[str]:
        return iter(sorted(self._users))

    def page(self, after: str | None, limit: int) -> list[User]:
        """Up to ``limit`` users in userid order, after ``after``."""
        with self._lock:  # registrations may add users meanwhile
            users = [
                user for userid, user in self._users.items() if after is None or userid > after
            ]
        return sorted(users, key=lambda user: user.userid)[:limit]

    # -- one-time tokens ----------------------------------------------------------------

    def put_one_time(self, token: OneTimeToken) -> None:
        """Keep ``token``, ending the user's earlier one of the same purpose (and any
        token past its time)."""
        now = self._clock()
        with self._lock:
            self._one_time = {
                digest: kept
                for digest, kept in self._one_time.items()
                if kept.expires > now
                and not (kept.userid == token.userid and kept.purpose == token.purpose)
            }
            self._one_time[token.digest] = token

    def get_one_time(self, digest: str) -> OneTimeToken | None:
        return self._one_time.get(digest)

    def end_one_time(self, digest: str) -> bool:
        with self._lock:
            return self._one_time.pop(digest, None) is not None

    # -- helpers ------------------------------------------------------------------------

    def _drop_one_time(self, userid: str) -> None:
        """A password change or a removal ends the user's one-time tokens, as in SQL."""
        with self._lock:
            self._one_time = {d: t for d, t in self._one_time.items() if t.userid != userid}

    def _require(self, userid: str) -> User:
        user = self._users.get(normalize(userid))
        if user is None:
            raise UnknownUser(userid)
        return user

    def _put(self, user: User, *, new: bool) -> User:
        with self._lock:
            if new and user.userid in self._users:
                raise UserExists(f"user {user.userid!r} already exists")
            if not new and user.userid not in self._users:
                raise UnknownUser(user.userid)
            self._users[user.userid] = user
        return user


def _same(stored: str, expected: str) -> bool:
    """Hashes are compared in constant time, like every secret in restauth."""
    return hmac.compare_digest(
        stored.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


class _MemoryUserReader:
    """:meth:`MemoryUserStore.get`, awaitable: nothing to wait for."""

    __slots__ = ("_store",)

    def __init__(self, store: MemoryUserStore) -> None:
        self._store = store

    async def get(self, userid: str) -> User | None:
        return self._store.get(userid)

    async def aclose(self) -> None:
        return None
