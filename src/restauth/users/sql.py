"""What the SQL user stores share: the table, the queries, and the enrolment rules.

SQLite and PostgreSQL differ only in how a statement reaches the database, so the
subclasses supply :meth:`SQLUserStore._query` and :meth:`SQLUserStore._modify` and the
parameter placeholder; everything else (validation, stamps, roles encoding) is here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from restauth._text import normalize
from restauth.errors import UnknownUser
from restauth.errors import UserExists as UserExists  # its old home: still importable here
from restauth.passwords.hasher import PasswordHasher
from restauth.users.base import User, check_roles, check_userid, stamp_of

SCHEMA_VERSION = 1
TABLE = "restauth_users"
COLUMNS = "userid, password_hash, roles, stamp"


def encode_roles(roles: frozenset[str]) -> str:
    """Roles as one comma-separated column: role names can hold neither commas nor spaces."""
    return ",".join(sorted(roles))


def decode_roles(column: str) -> frozenset[str]:
    return frozenset(role for role in column.split(",") if role)


class SQLUserStore:
    """A writable user store over one SQL table; subclasses connect it to a database."""

    placeholder = "?"

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self.hasher = hasher if hasher is not None else PasswordHasher()

    # -- what a subclass provides -------------------------------------------------------

    def _query(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[object, ...]]:
        raise NotImplementedError

    def _modify(self, sql: str, parameters: Sequence[object] = ()) -> int:
        """Run a write; the number of rows it touched. Raises :class:`UserExists` on a
        duplicate userid."""
        raise NotImplementedError

    # -- the store ----------------------------------------------------------------------

    def get(self, userid: str) -> User | None:
        rows = self._query(self._sql(f"SELECT {COLUMNS} FROM {TABLE} WHERE userid = ?"), (userid,))
        if not rows:
            return None
        found_userid, password_hash, roles, stamp = rows[0]
        return User(str(found_userid), str(password_hash), decode_roles(str(roles)), str(stamp))

    def add(self, userid: str, password: str, roles: Iterable[str] = ()) -> User:
        """Enrol a user; :class:`UserExists` if the userid is taken, ``ValueError`` if a
        value is not acceptable."""
        userid, role_set = check_userid(userid), check_roles(roles)
        return self._insert(userid, self.hasher.hash(password), role_set)

    def add_hashed(self, userid: str, password_hash: str, roles: Iterable[str] = ()) -> User:
        """Enrol a user from an existing hash (configuration files, migrations)."""
        return self._insert(check_userid(userid), password_hash, check_roles(roles))

    def set_password(self, userid: str, password: str) -> User:
        """Change a password: the new hash gives a new stamp, which kills the user's tokens."""
        user = self._require(userid)
        password_hash = self.hasher.hash(password)
        stamp = stamp_of(password_hash)
        self._update(
            user.userid, "password_hash = ?, stamp = ?", (password_hash, stamp, user.userid)
        )
        return User(user.userid, password_hash, user.roles, stamp)

    def set_roles(self, userid: str, roles: Iterable[str]) -> User:
        role_set = check_roles(roles)
        user = self._require(userid)
        self._update(user.userid, "roles = ?", (encode_roles(role_set), user.userid))
        return User(user.userid, user.password_hash, role_set, user.stamp)

    def replace_hash(self, userid: str, old_hash: str, new_hash: str) -> bool:
        """Swap in a stronger hash of the same password, in one compare-and-set statement
        (a password change made meanwhile wins); the stamp column stays."""
        sql = self._sql(
            f"UPDATE {TABLE} SET password_hash = ? WHERE userid = ? AND password_hash = ?"
        )
        return self._modify(sql, (new_hash, userid, old_hash)) > 0

    def remove(self, userid: str) -> bool:
        sql = self._sql(f"DELETE FROM {TABLE} WHERE userid = ?")
        return self._modify(sql, (normalize(userid),)) > 0

    def userids(self) -> Iterator[str]:
        rows = self._query(self._sql(f"SELECT userid FROM {TABLE} ORDER BY userid"))
        return iter([str(row[0]) for row in rows])

    # -- helpers ------------------------------------------------------------------------

    def _insert(self, userid: str, password_hash: str, roles: frozenset[str]) -> User:
        user = User(userid, password_hash, roles, stamp_of(password_hash))
        sql = self._sql(f"INSERT INTO {TABLE} ({COLUMNS}) VALUES (?, ?, ?, ?)")
        self._modify(sql, (userid, password_hash, encode_roles(roles), user.stamp))
        return user

    def _update(self, userid: str, assignments: str, parameters: Sequence[object]) -> None:
        sql = self._sql(f"UPDATE {TABLE} SET {assignments} WHERE userid = ?")
        if self._modify(sql, parameters) == 0:
            raise UnknownUser(userid)  # removed meanwhile

    def _require(self, userid: str) -> User:
        user = self.get(normalize(userid))
        if user is None:
            raise UnknownUser(userid)
        return user

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)
