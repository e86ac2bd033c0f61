"""Sessions in a SQLite file: shared by every process on one machine, kept across restarts."""

from __future__ import annotations

import os
import sqlite3
import time

from restauth._storage.sqlite import DEFAULT_TIMEOUT, SQLiteDatabase
from restauth._time import Clock, Duration, as_seconds
from restauth.throttle.sqlite import SQLiteThrottleStore
from restauth.tokens import _sqlite_schema as sql
from restauth.tokens._sqlite_schema import SCHEMA, SCHEMA_VERSION, TABLE, upgrade_from_v1
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
    renewal_step,
    renewed_deadline,
)

__all__ = ["LOGIN_PURGE_BATCHES", "PURGE_BATCH", "SCHEMA_VERSION", "TABLE", "SQLiteTokenManager"]

PURGE_BATCH = 200  # rows per delete: each holds the write lock for about a millisecond
LOGIN_PURGE_BATCHES = 25  # a login deletes at most this many batches; the next one goes on


class SQLiteTokenManager:
    """Sessions in the ``restauth_tokens`` table of a SQLite file (created on first use,
    upgraded from the previous release's one-token-per-user table in place).

    The table holds token ids only; a token is ``id.HMAC(secret_key, id)``, so the file
    alone authenticates nobody. A check is one ``SELECT`` by token id (no write lock);
    the idle deadline is written only when it would move by more than
    :func:`~restauth.tokens.base.renewal_step` (1 % of the session's ``ttl``, at least
    1 s), by an ``UPDATE`` that renews the row only while it is live: a renewal can
    never bring back a session that a concurrent end, revoke or rotation ended.

    Every change (start, rotate, end, revoke) is one ``BEGIN IMMEDIATE`` transaction, so
    threads and processes sharing the file never lose or resurrect a session, and the
    cap (``max_sessions`` login and basic sessions per user; the oldest is ended) holds.
    An ended or expired token's row stays as a tombstone until its death plus its
    ``ttl`` (a use of it meanwhile is a :class:`~restauth.tokens.base.DeadToken`, for the
    audit record); a login deletes older ones at most every ``purge_interval`` seconds,
    in batches of :data:`PURGE_BATCH` rows (each its own short transaction), so no cron
    job is needed and no login holds the write lock for long. Expiry is judged by
    ``clock()``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        ttl: Duration = DEFAULT_TTL,
        *,
        max_lifetime: Duration = DEFAULT_MAX_LIFETIME,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        clock: Clock = time.time,
        secret_key: bytes | str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        purge_interval: float = 600.0,
    ) -> None:
        self.ttl = as_seconds(ttl, "ttl")
        self.max_lifetime = as_seconds(max_lifetime, "max_lifetime")
        self.max_sessions = check_max_sessions(max_sessions)
        self.clock = clock
        self._codec = TokenCodec(persistent_secret_key(secret_key, "SQLiteTokenManager"))
        self.purge_interval = purge_interval
        self.database = SQLiteDatabase(path, timeout)
        upgrades = {1: upgrade_from_v1(self.ttl, self.max_lifetime)}
        self.database.require("tokens", SCHEMA_VERSION, SCHEMA, upgrades)  # no I/O yet
        self._next_purge = clock() + purge_interval

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
        if lifetime is not None:  # checked before the write lock is taken
            lifetime = as_seconds(lifetime, "lifetime")
        now = self.clock()
        grant = None
        if kind == "basic":  # a read: no write lock while the basic session needs nothing
            grant = self._current_basic(userid, stamp, now)
        if grant is None:
            grant = self._start(userid, stamp, kind, client_label(client), lifetime, now)
        if now >= self._next_purge:
            self._next_purge = now + self.purge_interval
            if self._purge(now, LOGIN_PURGE_BATCHES)[1]:  # more left: the next login goes on
                self._next_purge = now
        return grant

    def authenticate(self, token: str) -> TokenGrant | DeadToken | None:
        token_id = self._codec.id_of(token)
        if token_id is None:
            return None
        now = self.clock()
        rows = self.database.execute(sql.CHECK, (token_id,))
        if not rows:
            return None
        userid, stamp, created, idle, expires, ttl, ended, session = rows[0]
        if ended is not None or now >= idle or now >= expires:
            return DeadToken(userid, session, "expired" if ended is None else "ended")
        if now + ttl - idle > renewal_step(ttl):  # renewed_deadline, inlined: hot path
            renewed = self.database.execute(sql.RENEW, (token_id, now + ttl, now))
            if not renewed:  # ended or expired between the two statements
                return self._dead(token_id)
            idle = renewed[0][0]
        valid_until = idle if idle < expires else expires
        return TokenGrant(token, userid, stamp, created, valid_until, session)

    def renew(self, token: str) -> TokenGrant | None:
        token_id = self._codec.id_of(token)
        if token_id is None:
            return None
        now = self.clock()
        with self.database.transaction() as connection:
            row = connection.execute(sql.LIVE_TOKEN, {"id": token_id, "now": now}).fetchone()
            if row is None:
                return None
            session, userid, stamp, kind, client, created, seq, ttl, expires = row
            connection.execute(sql.END_TOKEN, {"id": token_id, "now": now})
            new_id = self._codec.new_id()
            connection.execute(
                sql.INSERT,
                {"id": new_id, "session": session, "userid": userid, "stamp": stamp,
                 "kind": kind, "client": client, "created": created, "seq": seq, "ttl": ttl,
                 "expires": expires, "deadline": now + ttl},
            )  # fmt: skip
        return self._grant(new_id, userid, stamp, created, min(now + ttl, expires), session)

    def sessions(self, userid: str) -> list[Session]:
        rows = self.database.execute(sql.SESSIONS, {"userid": userid, "now": self.clock()})
        return [self._session(userid, *row) for row in rows]

    def end(self, userid: str, session: str) -> bool:
        values = {"userid": userid, "session": session, "now": self.clock()}
        with self.database.transaction() as connection:
            return connection.execute(sql.END_SESSION, values).rowcount > 0

    def revoke(self, userid: str) -> int:
        values = {"userid": userid, "now": self.clock()}
        with self.database.transaction() as connection:
            return connection.execute(sql.END_ALL, values).rowcount

    def purge_expired(self) -> int:
        """Delete every row past its tombstone (dead for longer than its ``ttl``); returns
        how many (a login does it now and then; cron may too)."""
        return self._purge(self.clock(), None)[0]

    def __len__(self) -> int:
        """How many sessions are live (every user's; a scan, for tests and the CLI)."""
        rows = self.database.execute(sql.COUNT_LIVE, {"now": self.clock()})
        return int(rows[0][0])

    def throttle_store(self) -> SQLiteThrottleStore:
        """Failure counters in the same file and connections, so every process using it
        throttles together (the middleware uses this when it builds its default throttle)."""
        return SQLiteThrottleStore(self.database)

    def close(self) -> None:
        self.database.close()

    def __repr__(self) -> str:
        return f"SQLiteTokenManager({str(self.database.path)!r}, ttl={self.ttl})"

    # -- helpers ----------------------------------------------------------------------

    def _current_basic(self, userid: str, stamp: str, now: float) -> TokenGrant | None:
        """The user's live basic session under ``stamp`` when no renewal is due (one
        read); ``None`` sends the caller to the write path, which looks again."""
        rows = self.database.execute(sql.BASIC, {"userid": userid, "stamp": stamp, "now": now})
        if not rows:
            return None
        token_id, session, created, idle, expires, ttl = rows[0]
        if renewed_deadline(idle, now, ttl) is not None:
            return None
        return self._grant(token_id, userid, stamp, created, min(idle, expires), session)

    def _start(
        self,
        userid: str,
        stamp: str,
        kind: SessionKind,
        client: str,
        lifetime: float | None,
        now: float,
    ) -> TokenGrant:
        """Under the write lock: reuse (and renew) the live basic session, or end the
        sessions of an older stamp and the oldest beyond the cap, and start one."""
        values: dict[str, object] = {"userid": userid, "stamp": stamp, "now": now}
        with self.database.transaction() as connection:
            if kind == "basic":
                row = connection.execute(sql.BASIC, values).fetchone()
                if row is not None:  # another process started it since our read
                    return self._reuse_basic(connection, userid, stamp, row, now)
            connection.execute(sql.END_OTHER_STAMPS, values)
            if kind != "service":
                connection.execute(sql.EVICT, {**values, "keep": self.max_sessions - 1})
            ttl = self.ttl if lifetime is None else lifetime
            expires = now + (self.max_lifetime if lifetime is None else ttl)
            token_id, session = self._codec.new_id(), self._codec.new_session_id()
            connection.execute(
                sql.INSERT,
                {**values, "id": token_id, "session": session, "kind": kind, "client": client,
                 "created": now, "seq": None, "ttl": ttl, "expires": expires,
                 "deadline": now + ttl},
            )  # fmt: skip
        return self._grant(token_id, userid, stamp, now, min(now + ttl, expires), session)

    def _reuse_basic(
        self,
        connection: sqlite3.Connection,
        userid: str,
        stamp: str,
        row: tuple[str, str, float, float, float, float],
        now: float,
    ) -> TokenGrant:
        """The live basic session ``row`` (of :data:`sql.BASIC`), renewed if due."""
        token_id, session, created, idle, expires, ttl = row
        deadline = renewed_deadline(idle, now, ttl)
        if deadline is not None:
            connection.execute(sql.SET_DEADLINE, {"deadline": deadline, "id": token_id})
            idle = deadline
        return self._grant(token_id, userid, stamp, created, min(idle, expires), session)

    @staticmethod
    def _session(
        userid: str, session: str, kind: SessionKind, client: str, created: float, ttl: float,
        idle: float, expires: float, stamp: str,
    ) -> Session:  # fmt: skip
        """A row of :data:`sql.SESSIONS` as the endpoints show it: last used when the
        idle deadline last moved."""
        last_used = max(created, idle - ttl)
        return Session(session, userid, kind, client, created, last_used, min(idle, expires), stamp)

    def _dead(self, token_id: str) -> DeadToken | None:
        """What a token whose renewal found it no longer live has become."""
        rows = self.database.execute(sql.CHECK, (token_id,))
        if not rows:
            return None
        userid, ended, session = rows[0][0], rows[0][6], rows[0][7]
        return DeadToken(userid, session, "expired" if ended is None else "ended")

    def _grant(
        self, token_id: str, userid: str, stamp: str, created: float, valid_until: float,
        session: str,
    ) -> TokenGrant:  # fmt: skip
        token = self._codec.token_for(token_id)
        return TokenGrant(token, userid, stamp, created, valid_until, session)

    def _purge(self, now: float, max_batches: int | None) -> tuple[int, bool]:
        """Delete rows past their tombstone, :data:`PURGE_BATCH` at a time, each batch its
        own short transaction; the ids are found by a read first, so no scan runs under
        the write lock. How many went, and whether ``max_batches`` ran out before they did."""
        after, deleted, batches = "", 0, 0
        while max_batches is None or batches < max_batches:
            rows = self.database.execute(
                sql.GONE, {"after": after, "now": now, "batch": PURGE_BATCH}
            )
            if rows:
                ids = [row[0] for row in rows]
                with self.database.transaction() as connection:
                    deleted += connection.execute(sql.delete_gone(len(ids)), [*ids, now]).rowcount
                after, batches = rows[-1][0], batches + 1
            if len(rows) < PURGE_BATCH:
                return deleted, False
        return deleted, True
