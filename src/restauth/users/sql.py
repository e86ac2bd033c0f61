"""What the SQL user stores share: the tables, the queries, and the enrolment rules.

SQLite and PostgreSQL differ only in how a statement reaches the database, so the
subclasses supply :meth:`SQLUserStore._query`, :meth:`SQLUserStore._modify`,
:meth:`SQLUserStore._write` and :meth:`SQLUserStore._transaction`, the parameter
placeholder and their column types; everything else (validation, the password policy,
stamps, roles encoding, one-time tokens) is here.

Schema version 2 (accounts) adds to ``restauth_users`` when a user was created (``NULL``
for users older than the column), an email address, and the ``verified`` and
``disabled`` flags, and a table of its own for one-time tokens (password reset,
verification), their digests only. Version 1 tables are upgraded in place by
:func:`upgrade_from_v1`: the new columns are added with their defaults (verified, not
disabled), so a process of the previous release still running beside the upgraded one
reads and writes its four columns as before.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Sequence
from types import EllipsisType
from typing import Any, Protocol

from restauth._storage.schema import Upgrade
from restauth._text import normalize
from restauth._time import Clock
from restauth.errors import UnknownUser
from restauth.errors import UserExists as UserExists  # its old home: still importable here
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

SCHEMA_VERSION = 2
TABLE = "restauth_users"
ONE_TIME_TABLE = "restauth_one_time"
COLUMNS = "userid, password_hash, roles, stamp, created, email, verified, disabled"
ONE_TIME_COLUMNS = "digest, userid, purpose, stamp, expires"

_GET = f"SELECT {COLUMNS} FROM {TABLE} WHERE userid = ?"
_INSERT = f"INSERT INTO {TABLE} ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
_SET_PASSWORD = (
    f"UPDATE {TABLE} SET password_hash = ?, stamp = ? WHERE userid = ? RETURNING {COLUMNS}"
)
# Only the fields given change (a NULL parameter leaves its column; the email has a flag
# of its own, since NULL is a value it can take). Every expression reads the row as it
# was, so the stamp is renewed, in the same statement, exactly when the account was
# active (verified, not disabled) and is not after.
_UPDATE = (
    f"UPDATE {TABLE} SET roles = coalesce(?, roles),"
    " email = CASE WHEN ? THEN ? ELSE email END,"
    " verified = coalesce(?, verified),"
    " disabled = coalesce(?, disabled),"
    " stamp = CASE WHEN verified AND NOT disabled"
    " AND NOT (coalesce(?, verified) AND NOT coalesce(?, disabled)) THEN ? ELSE stamp END"
    f" WHERE userid = ? RETURNING {COLUMNS}"
)
_REPLACE_HASH = f"UPDATE {TABLE} SET password_hash = ? WHERE userid = ? AND password_hash = ?"
_REMOVE = f"DELETE FROM {TABLE} WHERE userid = ?"
_END_USERS_ONE_TIME = f"DELETE FROM {ONE_TIME_TABLE} WHERE userid = ?"
# The user's earlier token of the same purpose, and every token past its time.
_REPLACED_OR_EXPIRED = (
    f"DELETE FROM {ONE_TIME_TABLE} WHERE (userid = ? AND purpose = ?) OR expires <= ?"
)
_PUT_ONE_TIME = (
    f"INSERT INTO {ONE_TIME_TABLE} ({ONE_TIME_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (digest) DO UPDATE SET userid = excluded.userid, "
    "purpose = excluded.purpose, stamp = excluded.stamp, expires = excluded.expires"
)
_GET_ONE_TIME = f"SELECT {ONE_TIME_COLUMNS} FROM {ONE_TIME_TABLE} WHERE digest = ?"
_END_ONE_TIME = f"DELETE FROM {ONE_TIME_TABLE} WHERE digest = ?"


def one_time_schema(text: str, real: str, options: str = "") -> list[str]:
    """The one-time tokens' table and index, in a database's types (``options`` follow
    the table's columns): a token is kept as its digest, so the table alone redeems
    nothing."""
    return [
        f"CREATE TABLE {ONE_TIME_TABLE} ("
        f" digest {text} PRIMARY KEY NOT NULL,"
        f" userid {text} NOT NULL,"
        f" purpose {text} NOT NULL,"  # "password-reset" or "verify"
        f" stamp {text} NOT NULL,"  # the user's credential stamp when it was made
        f" expires {real} NOT NULL"  # epoch seconds
        f"){options}",
        f"CREATE INDEX {ONE_TIME_TABLE}_by_user ON {ONE_TIME_TABLE} (userid, purpose)",
    ]


def upgrade_from_v1(columns: Sequence[str], statements: Sequence[str]) -> Upgrade:
    """The step from version 1 (``userid, password_hash, roles, stamp``): add ``columns``
    (column definitions, with the defaults every old row takes) and run ``statements``
    (the tables and indexes new in version 2), inside the caller's transaction."""

    def upgrade(connection: Any) -> None:
        for column in columns:
            connection.execute(f"ALTER TABLE {TABLE} ADD COLUMN {column}")
        for statement in statements:
            connection.execute(statement)

    return upgrade


def encode_roles(roles: frozenset[str]) -> str:
    """Roles as one comma-separated column: role names can hold neither commas nor spaces."""
    return ",".join(sorted(roles))


def decode_roles(column: str) -> frozenset[str]:
    return frozenset(role for role in column.split(",") if role)


def user_of(row: Sequence[Any]) -> User:
    """A :data:`COLUMNS` row as a :class:`User` (SQLite's flags are 0 and 1)."""
    userid, password_hash, roles, stamp, created, email, verified, disabled = row
    return User(
        userid,
        password_hash,
        decode_roles(roles),
        stamp,
        None if created is None else float(created),
        email,
        bool(verified),
        bool(disabled),
    )


class Connection(Protocol):
    """What a transaction offers (sqlite3's and psycopg's connections alike)."""

    def execute(self, sql: str, parameters: Any = ..., /) -> Any: ...


class SQLUserStore:
    """An account store over two SQL tables; subclasses connect it to a database.

    ``policy`` judges every password set through ``add`` and ``set_password``
    (``None``: only the hasher's hard limits); ``clock`` gives ``created`` and decides
    which one-time tokens are past their time.
    """

    placeholder = "?"
    order = "userid"  # how userids are ordered: by code point, as sorted() orders them
    lock_user: str | None = None  # a statement locking a user's row, if writes need one

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
        self._get = self._sql(_GET)  # the hot path: translated once

    # -- what a subclass provides -------------------------------------------------------

    def _query(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run one read; its rows."""
        raise NotImplementedError

    def _modify(self, sql: str, parameters: Sequence[object] = ()) -> int:
        """Run a write; the number of rows it touched. Raises :class:`UserExists` on a
        duplicate userid."""
        raise NotImplementedError

    def _write(self, sql: str, parameters: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run one write that returns rows (``RETURNING``); its rows."""
        raise NotImplementedError

    def _transaction(self) -> contextlib.AbstractContextManager[Connection]:
        """A connection inside a write transaction, committed at the end of the block
        (rolled back on any error)."""
        raise NotImplementedError

    # -- the store ----------------------------------------------------------------------

    def get(self, userid: str) -> User | None:
        rows = self._query(self._get, (userid,))
        return user_of(rows[0]) if rows else None

    def add(
        self,
        userid: str,
        password: str,
        roles: Iterable[str] = (),
        *,
        email: str | None = None,
        verified: bool = True,
    ) -> User:
        """Enrol a user; :class:`UserExists` if the userid is taken, ``ValueError``
        (:class:`~restauth.errors.WeakPassword` for the password) if a value is not
        acceptable."""
        userid = check_userid(userid)
        role_set, email = check_roles(roles), check_email(email)
        if self.policy is not None:
            self.policy.check(password, userid)
        return self._insert(userid, self.hasher.hash(password), role_set, email, verified)

    def add_hashed(
        self,
        userid: str,
        password_hash: str,
        roles: Iterable[str] = (),
        *,
        email: str | None = None,
        verified: bool = True,
    ) -> User:
        """Enrol a user from an existing hash (configuration files, migrations); no
        policy: the password is not known."""
        userid = check_userid(userid)
        role_set, email = check_roles(roles), check_email(email)
        # a stamp of its own: a user removed and imported again with the same hash must not
        # find the sessions of before alive (the stamp of a hash would be the same again)
        stamp = new_stamp()
        return self._insert(userid, password_hash, role_set, email, verified, stamp)

    def set_password(self, userid: str, password: str) -> User:
        """Change a password: the new hash gives a new stamp, which kills the user's
        tokens; their one-time tokens (bound to the old stamp) are deleted with it."""
        user = self._require(userid)
        if self.policy is not None:
            self.policy.check(password, user.userid)
        password_hash = self.hasher.hash(password)
        with self._transaction() as connection:
            rows = connection.execute(
                self._sql(_SET_PASSWORD), (password_hash, stamp_of(password_hash), user.userid)
            ).fetchall()
            if not rows:
                raise UnknownUser(userid)  # removed meanwhile
            connection.execute(self._sql(_END_USERS_ONE_TIME), (user.userid,))
        return user_of(rows[0])

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
        """Change the fields given, in one statement; an account turned inactive gets a
        new stamp (its sessions end on every node)."""
        encoded = None if roles is None else encode_roles(check_roles(roles))
        email_given = not isinstance(email, EllipsisType)
        address = None if isinstance(email, EllipsisType) else check_email(email)
        flags = (
            None if verified is None else bool(verified),
            None if disabled is None else bool(disabled),
        )
        rows = self._write(
            self._sql(_UPDATE),
            (encoded, email_given, address, *flags, *flags, new_stamp(), normalize(userid)),
        )
        if not rows:
            raise UnknownUser(userid)
        return user_of(rows[0])

    def replace_hash(self, userid: str, old_hash: str, new_hash: str) -> bool:
        """Swap in a stronger hash of the same password, in one compare-and-set statement
        (a password change made meanwhile wins); the stamp column stays."""
        return self._modify(self._sql(_REPLACE_HASH), (new_hash, userid, old_hash)) > 0

    def remove(self, userid: str) -> bool:
        """Delete a user and, if there was one, their one-time tokens."""
        userid = normalize(userid)
        with self._transaction() as connection:
            removed: bool = connection.execute(self._sql(_REMOVE), (userid,)).rowcount > 0
            if removed:
                connection.execute(self._sql(_END_USERS_ONE_TIME), (userid,))
        return removed

    def userids(self) -> Iterator[str]:
        rows = self._query(f"SELECT userid FROM {TABLE} ORDER BY {self.order}")
        return iter([str(row[0]) for row in rows])

    def page(self, after: str | None, limit: int) -> list[User]:
        """Up to ``limit`` users in userid order, after ``after`` (``None``: from the start)."""
        if limit < 0:
            raise ValueError("limit must not be negative")
        order = self.order
        where = "" if after is None else f"WHERE {order} > ? "
        parameters: tuple[object, ...] = (limit,) if after is None else (after, limit)
        sql = f"SELECT {COLUMNS} FROM {TABLE} {where}ORDER BY {order} LIMIT ?"
        return [user_of(row) for row in self._query(self._sql(sql), parameters)]

    # -- one-time tokens ----------------------------------------------------------------

    def put_one_time(self, token: OneTimeToken) -> None:
        """Keep ``token``, ending the user's earlier one of the same purpose (and any
        token past its time), in one transaction."""
        now = self._clock()
        with self._transaction() as connection:
            if self.lock_user is not None:  # concurrent puts for one user: one at a time
                connection.execute(self.lock_user, (token.userid,))
            connection.execute(self._sql(_REPLACED_OR_EXPIRED), (token.userid, token.purpose, now))
            connection.execute(
                self._sql(_PUT_ONE_TIME),
                (token.digest, token.userid, token.purpose, token.stamp, token.expires),
            )

    def get_one_time(self, digest: str) -> OneTimeToken | None:
        rows = self._query(self._sql(_GET_ONE_TIME), (digest,))
        if not rows:
            return None
        found, userid, purpose, stamp, expires = rows[0]
        return OneTimeToken(found, userid, purpose, stamp, float(expires))

    def end_one_time(self, digest: str) -> bool:
        """Delete a one-time token; ``True`` only for the one caller that deleted it."""
        return self._modify(self._sql(_END_ONE_TIME), (digest,)) == 1

    # -- helpers ------------------------------------------------------------------------

    def _insert(
        self,
        userid: str,
        password_hash: str,
        roles: frozenset[str],
        email: str | None,
        verified: bool,
        stamp: str | None = None,
    ) -> User:
        row = (
            userid,
            password_hash,
            encode_roles(roles),
            stamp or stamp_of(password_hash),
            self._clock(),
            email,
            bool(verified),
            False,
        )
        self._modify(self._sql(_INSERT), row)
        return user_of(row)

    def _require(self, userid: str) -> User:
        user = self.get(normalize(userid))
        if user is None:
            raise UnknownUser(userid)
        return user

    def _sql(self, sql: str) -> str:
        return sql if self.placeholder == "?" else sql.replace("?", self.placeholder)
