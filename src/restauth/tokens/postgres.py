"""Sessions in PostgreSQL (extra ``restauth[postgres]``), for deployments with PostgreSQL
and no Redis: every process and node sharing the database sees every session.

The table holds token ids only; a token is ``id.HMAC(secret_key, id)``, so a dump of
the table authenticates nobody. One row per token: a session is the rows sharing its
``session_id``, at most one of them live (rotation ends the old token and inserts the
new one). ``ended`` is ``NULL`` while the token may be used.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from restauth._storage.overrides import keeps
from restauth._storage.postgres import Connection, PostgresDatabase, Rows
from restauth._storage.postgres_async import loop_supported
from restauth._time import Clock, Duration, as_seconds
from restauth.tokens.base import (
    DEFAULT_MAX_LIFETIME,
    DEFAULT_MAX_SESSIONS,
    DEFAULT_TTL,
    DeadToken,
    Session,
    SessionKind,
    TokenCodec,
    TokenGrant,
    check_kind,
    check_max_sessions,
    client_label,
    persistent_secret_key,
    renewed_deadline,
)

if TYPE_CHECKING:
    from restauth.tokens.postgres_reader import PostgresTokenReader

SCHEMA_VERSION = 1
TABLE = "restauth_tokens"
SCHEMA = [  # the SQLite manager's table, in PostgreSQL's types
    f"CREATE TABLE {TABLE} ("
    " token_id TEXT PRIMARY KEY,"
    " session_id TEXT NOT NULL,"  # public: listed and ended by it; the same across renewals
    " userid TEXT NOT NULL,"
    " stamp TEXT NOT NULL,"  # the user's credential stamp when the session began
    " kind TEXT NOT NULL CHECK (kind IN ('login', 'basic', 'service')),"
    " client TEXT NOT NULL,"
    " created DOUBLE PRECISION NOT NULL,"  # epoch seconds by the manager's clock; kept on renewal
    " seq BIGSERIAL,"  # the session's place: ties of created (kept on renewal)
    " ttl DOUBLE PRECISION NOT NULL,"  # the session's idle timeout (a service token's lifetime)
    " expires DOUBLE PRECISION NOT NULL,"  # absolute: created + max_lifetime (or the lifetime)
    " idle_deadline DOUBLE PRECISION NOT NULL,"
    " ended DOUBLE PRECISION"  # when it was ended or rotated away; NULL while live
    ") WITH (fillfactor = 90)",  # room for renewals to update in place (HOT: no index write)
    f"CREATE INDEX {TABLE}_by_user ON {TABLE} (userid, created, seq)",
]
_COLUMNS = "token_id, session_id, stamp, kind, client, created, seq, ttl, expires, idle_deadline"
# Named parameters: %(now)s, and those of each statement.
_LIVE = "ended IS NULL AND idle_deadline > %(now)s AND expires > %(now)s"
# Ending also pulls the idle deadline to that moment, as in SQLite: the purge then judges
# every dead row by least(idle_deadline, expires) alone.
_ENDING = "ended = %(now)s, idle_deadline = least(idle_deadline, %(now)s)"
# The Token check: one read by primary key, dead rows included (reported as dead tokens).
_CHECK = (
    "SELECT userid, stamp, session_id, created, ttl, expires, idle_deadline, ended "
    f"FROM {TABLE} WHERE token_id = %s"
)
_RENEW = (  # a due renewal, only while live: it never brings back an ended session
    f"UPDATE {TABLE} SET idle_deadline = greatest(idle_deadline, %(deadline)s) "
    f"WHERE token_id = %(id)s AND {_LIVE} RETURNING idle_deadline"
)
_USER_LIVE = (
    f"SELECT {_COLUMNS} FROM {TABLE} WHERE userid = %(userid)s AND {_LIVE} ORDER BY created, seq"
)
_BASIC_OR_STALE = (  # the basic session, and whether sessions of another stamp need ending
    f"SELECT {_COLUMNS} FROM {TABLE} WHERE userid = %(userid)s AND {_LIVE} "
    "AND (kind = 'basic' OR stamp <> %(stamp)s) ORDER BY created, seq"
)
_LIVE_TOKEN = f"SELECT {_COLUMNS} FROM {TABLE} WHERE token_id = %(id)s AND {_LIVE}"
_INSERT = (  # seq: the session's own when rotating, else the next
    f"INSERT INTO {TABLE} (token_id, session_id, userid, stamp, kind, client, created, seq, "
    "ttl, expires, idle_deadline) VALUES (%(id)s, %(session)s, %(userid)s, %(stamp)s, "
    "%(kind)s, %(client)s, %(created)s, "
    f"coalesce(%(seq)s, nextval(pg_get_serial_sequence('{TABLE}', 'seq'))), "
    "%(ttl)s, %(expires)s, %(deadline)s)"
)
_END_TOKENS = f"UPDATE {TABLE} SET {_ENDING} WHERE token_id = ANY(%(ids)s) AND ended IS NULL"
_END_SESSION = (
    f"UPDATE {TABLE} SET {_ENDING} WHERE userid = %(userid)s AND session_id = %(session)s "
    f"AND {_LIVE}"
)
_END_ALL = f"UPDATE {TABLE} SET {_ENDING} WHERE userid = %(userid)s AND {_LIVE}"
_PURGE = (  # dead rows past their tombstone (death + ttl); rows another purge holds skipped
    f"DELETE FROM {TABLE} WHERE token_id IN (SELECT token_id FROM {TABLE} "
    "WHERE least(idle_deadline, expires) + ttl <= %(now)s LIMIT %(batch)s FOR UPDATE SKIP LOCKED)"
)
_USER_LOCK_SPACE = 0x72617574  # pg_advisory_xact_lock(space, key): a user's sessions
PURGE_BATCH = 200  # rows per DELETE: a short transaction each
ISSUE_PURGE_BATCHES = 5  # an issue purges at most this many batches; the next one goes on


@dataclass(frozen=True, slots=True)
class Renewal:
    """A live token whose idle deadline is due to move: ``_RENEW`` with ``values`` moves
    it, unless the token died meanwhile; ``row`` is what ``_CHECK`` read."""

    token: str
    row: tuple[Any, ...]
    values: dict[str, Any]

    def outcome(self, renewed: Rows) -> TokenGrant | DeadToken:
        """The verdict, given what ``_RENEW`` returned."""
        userid, stamp, session, created, _, expires, _, _ = self.row
        if not renewed:
            return DeadToken(userid, session, "ended")  # ended between the two
        return TokenGrant(self.token, userid, stamp, created, min(renewed[0][0], expires), session)


def judged(
    token: str, token_id: str, rows: Rows, now: float
) -> TokenGrant | DeadToken | Renewal | None:
    """What ``_CHECK``'s ``rows`` say of ``token`` at ``now``; a :class:`Renewal` when one is
    due. Shared by the manager and its async reader, so both answer alike."""
    if not rows:
        return None
    userid, stamp, session, created, ttl, expires, idle, ended = rows[0]
    if ended is not None or now >= idle or now >= expires:
        return DeadToken(userid, session, "ended" if ended is not None else "expired")
    deadline = renewed_deadline(idle, now, ttl)
    if deadline is None:
        return TokenGrant(token, userid, stamp, created, min(idle, expires), session)
    return Renewal(token, rows[0], {"id": token_id, "deadline": deadline, "now": now})


class _Row:
    """One token's row as the writers read it (the columns of ``_COLUMNS``)."""

    __slots__ = (
        "client", "created", "expires", "idle_deadline", "kind", "seq", "session", "stamp",
        "token_id", "ttl",
    )  # fmt: skip

    def __init__(self, row: tuple[Any, ...]) -> None:
        (
            self.token_id, self.session, self.stamp, self.kind, self.client, self.created,
            self.seq, self.ttl, self.expires, self.idle_deadline,
        ) = row  # fmt: skip

    def session_of(self, userid: str) -> Session:
        last_used = max(self.created, self.idle_deadline - self.ttl)
        valid_until = min(self.idle_deadline, self.expires)
        return Session(
            self.session, userid, self.kind, self.client, self.created, last_used, valid_until,
            self.stamp,
        )  # fmt: skip


class PostgresTokenManager:
    """Sessions in the ``restauth_tokens`` table of a PostgreSQL database.

    ``dsn`` is a libpq connection string or URL (never shown: ``repr`` and errors hide
    it). Building the manager does no I/O; the pool opens in the process that first
    uses it, and the table is created then (see :mod:`restauth._storage.postgres`).

    **A Token check is one statement**: a ``SELECT`` by token id. Renewal is coarse
    (:func:`~restauth.tokens.base.renewal_step`): only when the idle deadline would move
    by more than the step does a second statement run, an ``UPDATE`` that renews the
    row only while it is still live, so it can never bring back a session ended or
    expired meanwhile. Everything else (issue, renew, end, revoke) is one transaction
    holding a per-user advisory lock, so concurrent logins and logouts of one user, in
    threads or on other nodes, apply one after the other: none lost, none resurrected.
    A Basic request whose basic session is alive and not due for renewal costs one
    ``SELECT``.

    Dead rows stay for ``ttl`` after their death, so a late use is reported as a
    :class:`~restauth.tokens.base.DeadToken` (for the audit record); an issue deletes
    older ones at most every ``purge_interval`` seconds, :data:`PURGE_BATCH` rows per
    statement, :data:`ISSUE_PURGE_BATCHES` batches at most (the next issue goes on).

    There is no ``throttle_store()`` (no PostgreSQL throttle store exists): the
    password-failure counters then live where the user store keeps them if it offers
    them (a SQLite user file does), else in each process's memory; see
    :func:`restauth.throttle.policy.shared_store`.
    """

    def __init__(
        self,
        dsn: str,
        ttl: Duration = DEFAULT_TTL,
        *,
        max_lifetime: Duration = DEFAULT_MAX_LIFETIME,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        clock: Clock = time.time,
        secret_key: bytes | str | None = None,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 5.0,
        purge_interval: float = 600.0,
    ) -> None:
        self.ttl = as_seconds(ttl, "ttl")
        self.max_lifetime = as_seconds(max_lifetime, "max_lifetime")
        self.max_sessions = check_max_sessions(max_sessions)
        self.clock = clock
        self._codec = TokenCodec(persistent_secret_key(secret_key, "PostgresTokenManager"))
        self.purge_interval = purge_interval
        self.database = PostgresDatabase(dsn, min_size=min_size, max_size=max_size, timeout=timeout)
        self.database.require("tokens", SCHEMA_VERSION, SCHEMA)  # no I/O until first use
        self._next_purge = clock() + purge_interval

    @property
    def dsn(self) -> str:
        return self.database.dsn

    # -- the hot path -----------------------------------------------------------------

    def authenticate(self, token: str) -> TokenGrant | DeadToken | None:
        token_id = self._codec.id_of(token)
        if token_id is None:
            return None
        verdict = judged(token, token_id, self.database.execute(_CHECK, (token_id,)), self.clock())
        if isinstance(verdict, Renewal):  # due: one write, only if the token is still live
            return verdict.outcome(self.database.execute(_RENEW, verdict.values))
        return verdict

    def _now(self) -> float:
        """This manager's clock as it is when asked (a test may set another one)."""
        return self.clock()

    def async_token_reader(self) -> PostgresTokenReader | None:
        """A reader of this manager's tokens through psycopg's async pool, for the running
        event loop (see :mod:`restauth.lookups`). No I/O here: it connects on first use.

        ``None`` on an event loop psycopg cannot use (Windows' ``ProactorEventLoop``), or
        for a subclass with an ``authenticate`` of its own: the reader runs this class's
        SQL, which would bypass it."""
        if not keeps(self, PostgresTokenManager, "authenticate") or not loop_supported():
            return None
        from restauth.tokens.postgres_reader import PostgresTokenReader  # the ASGI adapter's

        return PostgresTokenReader(self.database, self._codec, self._now)

    # -- sessions ---------------------------------------------------------------------

    def issue(
        self,
        userid: str,
        stamp: str,
        *,
        kind: SessionKind = "login",
        client: str = "",
        lifetime: float | None = None,
    ) -> TokenGrant:
        kind = check_kind(kind)
        if lifetime is not None:
            lifetime = as_seconds(lifetime, "lifetime")
        now = self.clock()
        grant = self._live_basic(userid, stamp, now) if kind == "basic" else None
        if grant is None:
            with self.database.transaction() as connection:
                grant = self._start(connection, userid, stamp, kind, client, lifetime, now)
        if now >= self._next_purge:
            self._next_purge = now + self.purge_interval
            if self._purge(now, ISSUE_PURGE_BATCHES)[1]:  # more left: the next issue goes on
                self._next_purge = now
        return grant

    def renew(self, token: str) -> TokenGrant | None:
        token_id = self._codec.id_of(token)
        if token_id is None:
            return None
        now = self.clock()
        with self.database.transaction() as connection:
            found = connection.execute(_CHECK, (token_id,)).fetchone()
            if found is None:
                return None
            userid = found[0]
            _lock_user(connection, userid)  # then read it again: the state after the lock
            row = connection.execute(_LIVE_TOKEN, {"id": token_id, "now": now}).fetchone()
            if row is None:
                return None
            old = _Row(row)
            connection.execute(_END_TOKENS, {"ids": [old.token_id], "now": now})
            new_id = self._codec.new_id()
            connection.execute(_INSERT, {
                "id": new_id, "session": old.session, "userid": userid, "stamp": old.stamp,
                "kind": old.kind, "client": old.client, "created": old.created, "seq": old.seq,
                "ttl": old.ttl, "expires": old.expires, "deadline": now + old.ttl,
            })  # fmt: skip
        return self._grant(new_id, userid, old.stamp, old.created, now + old.ttl, old.expires,
                           old.session)  # fmt: skip

    def sessions(self, userid: str) -> list[Session]:
        rows = self.database.execute(_USER_LIVE, {"userid": userid, "now": self.clock()})
        return [_Row(row).session_of(userid) for row in rows]

    def end(self, userid: str, session: str) -> bool:
        now = self.clock()
        with self.database.transaction() as connection:
            _lock_user(connection, userid)
            values = {"userid": userid, "session": session, "now": now}
            return connection.execute(_END_SESSION, values).rowcount > 0

    def revoke(self, userid: str) -> int:
        now = self.clock()
        with self.database.transaction() as connection:
            _lock_user(connection, userid)
            return connection.execute(_END_ALL, {"userid": userid, "now": now}).rowcount

    def purge_expired(self) -> int:
        """Delete every row dead for longer than its ``ttl``; how many (issues do it
        anyway, a few batches at a time: call this from cron only to catch up at once)."""
        return self._purge(self.clock(), None)[0]

    def __len__(self) -> int:
        """How many sessions are live."""
        rows = self.database.execute(
            f"SELECT count(*) FROM {TABLE} WHERE {_LIVE}", {"now": self.clock()}
        )
        return int(rows[0][0])

    def close(self) -> None:
        self.database.close()

    def __repr__(self) -> str:
        return f"PostgresTokenManager(<dsn hidden>, ttl={self.ttl})"  # a DSN may hold a password

    # -- helpers ----------------------------------------------------------------------

    def _live_basic(self, userid: str, stamp: str, now: float) -> TokenGrant | None:
        """The user's live basic session under ``stamp``, renewed if due, when nothing else
        needs doing (no session of another stamp to end): one read, without the lock."""
        values = {"userid": userid, "stamp": stamp, "now": now}
        rows = [_Row(row) for row in self.database.execute(_BASIC_OR_STALE, values)]
        if not rows or any(row.stamp != stamp for row in rows):
            return None
        basic = rows[0]
        deadline = renewed_deadline(basic.idle_deadline, now, basic.ttl)
        if deadline is not None:
            renewed = self.database.execute(
                _RENEW, {"id": basic.token_id, "deadline": deadline, "now": now}
            )
            if not renewed:
                return None  # ended meanwhile: start another under the lock
            basic.idle_deadline = renewed[0][0]
        return self._grant_of(basic, userid)

    def _start(
        self,
        connection: Connection,
        userid: str,
        stamp: str,
        kind: SessionKind,
        client: str,
        lifetime: float | None,
        now: float,
    ) -> TokenGrant:
        """Under the user's lock: end the sessions of another stamp, reuse a live basic
        session (``kind="basic"``) or end those beyond the cap and start one."""
        _lock_user(connection, userid)
        rows = [_Row(r) for r in connection.execute(_USER_LIVE, {"userid": userid, "now": now})]
        ending = [row.token_id for row in rows if row.stamp != stamp]
        current = [row for row in rows if row.stamp == stamp]
        basic = next((row for row in current if row.kind == "basic"), None)
        if kind == "basic" and basic is not None:
            self._end_tokens(connection, ending, now)
            return self._keep(connection, basic, userid, now)
        if kind != "service":
            ending += self._beyond_cap(current)
        self._end_tokens(connection, ending, now)
        ttl = self.ttl if lifetime is None else lifetime
        expires = now + (self.max_lifetime if lifetime is None else lifetime)
        token_id, session = self._codec.new_id(), self._codec.new_session_id()
        connection.execute(_INSERT, {
            "id": token_id, "session": session, "userid": userid, "stamp": stamp, "kind": kind,
            "client": client_label(client), "created": now, "seq": None, "ttl": ttl,
            "expires": expires, "deadline": now + ttl,
        })  # fmt: skip
        return self._grant(token_id, userid, stamp, now, now + ttl, expires, session)

    def _keep(self, connection: Connection, row: _Row, userid: str, now: float) -> TokenGrant:
        """The basic session's token again, renewed if due (under the lock: it is live)."""
        deadline = renewed_deadline(row.idle_deadline, now, row.ttl)
        if deadline is not None:
            values = {"id": row.token_id, "deadline": deadline, "now": now}
            row.idle_deadline = connection.execute(_RENEW, values).fetchall()[0][0]
        return self._grant_of(row, userid)

    def _beyond_cap(self, current: list[_Row]) -> list[str]:
        """The oldest login and basic sessions to end so that a new one fits the cap."""
        capped = [row for row in current if row.kind != "service"]
        excess = max(0, len(capped) - self.max_sessions + 1)
        return [row.token_id for row in capped[:excess]]

    @staticmethod
    def _end_tokens(connection: Connection, token_ids: list[str], now: float) -> None:
        if token_ids:
            connection.execute(_END_TOKENS, {"ids": token_ids, "now": now})

    def _purge(self, now: float, max_batches: int | None) -> tuple[int, bool]:
        """Delete dead rows, :data:`PURGE_BATCH` per statement (each its own short
        transaction); how many went, and whether ``max_batches`` ran out before they did."""
        deleted, batches = 0, 0
        while max_batches is None or batches < max_batches:
            count = self.database.modify(_PURGE, {"now": now, "batch": PURGE_BATCH})
            deleted, batches = deleted + count, batches + 1
            if count < PURGE_BATCH:
                return deleted, False
        return deleted, True

    def _grant_of(self, row: _Row, userid: str) -> TokenGrant:
        return self._grant(row.token_id, userid, row.stamp, row.created, row.idle_deadline,
                           row.expires, row.session)  # fmt: skip

    def _grant(
        self,
        token_id: str,
        userid: str,
        stamp: str,
        created: float,
        idle_deadline: float,
        expires: float,
        session: str,
    ) -> TokenGrant:
        token = self._codec.token_for(token_id)
        return TokenGrant(token, userid, stamp, created, min(idle_deadline, expires), session)


def _lock_user(connection: Connection, userid: str) -> None:
    """Take the user's advisory lock until the transaction ends. Every writer of a user's
    sessions takes it first (a renewal of one row needs none: see ``_RENEW``), so each
    reads what the previous one committed: concurrent logins, rotations and logouts of a
    user, on any node, never lose or resurrect a session. (Row locks alone would not do:
    a logout must also see the token a concurrent rotation inserts.) Two users whose keys
    collide merely wait for each other."""
    digest = hashlib.blake2b(userid.encode("utf-8", "surrogatepass"), digest_size=4).digest()
    key = int.from_bytes(digest, "big", signed=True)
    connection.execute(
        "SELECT pg_advisory_xact_lock(%s::integer, %s::integer)", (_USER_LOCK_SPACE, key)
    )
