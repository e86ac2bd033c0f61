"""Revocation records and JWT sessions in a SQLite file: every process on one machine.

Two components, each with its own version in ``restauth_schema``:

- ``revocations`` (version 1, unchanged since the previous release):
  ``restauth_revocations (userid, not_before)``, a user's "not before" instant.
- ``jwt_sessions`` (version 1, new; created on first use beside the old table, so a
  file of the previous release needs no migration): ``restauth_jwt_sessions``, one row
  per session (see :class:`~restauth.tokens.revocation.records.SessionRecord`), kept
  until the session's absolute expiry. Its ``rowid`` orders a user's sessions by start.

A check is one ``SELECT`` that reads the user's instant and the session's floor
together, with no write lock. Every change is one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from restauth._storage.sqlite import DEFAULT_TIMEOUT, SQLiteDatabase
from restauth.tokens.revocation.records import (
    ENDED,
    SessionCheck,
    SessionRecord,
    Snapshot,
    auth_time_after,
    is_revoked,
)

if TYPE_CHECKING:
    from restauth.throttle.sqlite import SQLiteThrottleStore

SCHEMA_VERSION = 1
TABLE = "restauth_revocations"
SCHEMA = [
    f"CREATE TABLE {TABLE} (userid TEXT PRIMARY KEY NOT NULL, not_before REAL NOT NULL) "
    "WITHOUT ROWID",
]
SESSIONS_VERSION = 1
SESSIONS = "restauth_jwt_sessions"
SESSIONS_SCHEMA = [
    f"CREATE TABLE {SESSIONS} (sid TEXT NOT NULL UNIQUE, userid TEXT NOT NULL, "
    "kind TEXT NOT NULL, client TEXT NOT NULL, stamp TEXT NOT NULL, created REAL NOT NULL, "
    "last_used REAL NOT NULL, valid_until REAL NOT NULL, expires REAL NOT NULL, "
    "floor INTEGER NOT NULL DEFAULT 0)",
    f"CREATE INDEX {SESSIONS}_by_user ON {SESSIONS} (userid)",
    f"CREATE INDEX {SESSIONS}_by_expiry ON {SESSIONS} (expires)",
    f"CREATE INDEX {SESSIONS}_floored ON {SESSIONS} (expires) WHERE floor > 0",  # snapshots
]
PURGE_BATCH = 200  # expired session rows a login deletes at most (the next login goes on)

_COLUMNS = "sid, userid, kind, client, stamp, created, last_used, valid_until, expires, floor"
_CHECK = (
    f"SELECT (SELECT not_before FROM {TABLE} WHERE userid = ?1), s.floor, s.valid_until "
    f"FROM (SELECT 1) LEFT JOIN {SESSIONS} s ON s.sid = ?2 AND s.userid = ?1"
)
_NOT_BEFORE = f"SELECT not_before FROM {TABLE} WHERE userid = ?"
_ONE = f"SELECT {_COLUMNS} FROM {SESSIONS} WHERE sid = ?"
_OPEN = f"SELECT {_COLUMNS} FROM {SESSIONS} WHERE userid = ? AND floor < {ENDED} ORDER BY rowid"
_BASIC = (
    f"SELECT {_COLUMNS}, (SELECT not_before FROM {TABLE} WHERE userid = ?1) FROM {SESSIONS} "
    f"WHERE userid = ?1 AND kind = 'basic' AND stamp = ?2 AND floor < {ENDED} ORDER BY rowid"
)
_INSERT = f"INSERT INTO {SESSIONS} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_END = f"UPDATE {SESSIONS} SET floor = {ENDED} WHERE sid = ?"
_SLIDE = (
    f"UPDATE {SESSIONS} SET valid_until = max(valid_until, ?2), last_used = max(last_used, ?3) "
    "WHERE sid = ?1"
)
_PURGE = (
    f"DELETE FROM {SESSIONS} WHERE rowid IN "
    f"(SELECT rowid FROM {SESSIONS} WHERE expires <= ? LIMIT {PURGE_BATCH})"
)


class SQLiteRevocation:
    """Records in the ``restauth_revocations`` and ``restauth_jwt_sessions`` tables of a
    SQLite file (created on first use). The file may be the one that holds the users."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.database = SQLiteDatabase(path, timeout)
        self.database.require("revocations", SCHEMA_VERSION, SCHEMA)
        self.database.require("jwt_sessions", SESSIONS_VERSION, SESSIONS_SCHEMA)

    def throttle_store(self) -> SQLiteThrottleStore:
        """Failure counters in the same file: every process that shares the records
        throttles together (picked through :meth:`JWTTokenManager.throttle_store`)."""
        from restauth.throttle.sqlite import SQLiteThrottleStore

        return SQLiteThrottleStore(self.database)

    def check(self, userid: str, session: str) -> SessionCheck:
        (not_before, floor, valid_until), *_ = self.database.execute(_CHECK, (userid, session))
        return SessionCheck(
            None if not_before is None else float(not_before),
            0 if floor is None else int(floor),
            None if valid_until is None else float(valid_until),
        )

    def not_before(self, userid: str) -> float | None:
        rows = self.database.execute(_NOT_BEFORE, (userid,))
        return float(rows[0][0]) if rows else None

    def start(self, new: SessionRecord, *, cap: int, ttl: float, now: float) -> SessionRecord:
        if new.kind == "basic":  # every Basic request: a read, no write lock, when it can
            current = self._live_basic(new.userid, new.stamp, now)
            if current is not None and current.slid(now, ttl) is current:
                return current
        with self.database.transaction() as connection:
            connection.execute(_PURGE, (now,))
            not_before = _not_before(connection, new.userid)
            capped: list[SessionRecord] = []
            for record in map(_record, connection.execute(_OPEN, (new.userid,)).fetchall()):
                if not (record.live(now) and not is_revoked(record.created, not_before)):
                    continue
                if record.stamp != new.stamp:  # a password change ended it already
                    connection.execute(_END, (record.id,))
                elif new.kind == "basic" and record.kind == "basic":
                    slid = record.slid(now, ttl)
                    if slid is not record:
                        connection.execute(_SLIDE, (slid.id, slid.valid_until, now))
                    return slid
                elif record.kind != "service":
                    capped.append(record)
            if new.kind != "service":
                for record in capped[: max(0, len(capped) - cap + 1)]:
                    connection.execute(_END, (record.id,))
            created = auth_time_after(new.created, not_before)
            connection.execute(_INSERT, _row(new, created=created))
        return replace(new, created=created)

    def _live_basic(self, userid: str, stamp: str, now: float) -> SessionRecord | None:
        """The user's live basic session of ``stamp`` (one ``SELECT``), or ``None``."""
        for row in self.database.execute(_BASIC, (userid, stamp)):
            record, not_before = _record(row[:-1]), row[-1]
            if record.live(now) and not is_revoked(record.created, not_before):
                return record
        return None

    def touch(self, session: SessionRecord, now: float) -> bool:
        with self.database.transaction() as connection:
            rows = connection.execute(_ONE, (session.id,)).fetchall()
            if not rows:
                if is_revoked(session.created, _not_before(connection, session.userid)):
                    return False
                connection.execute(_INSERT, _row(session))
                return True
            record = _record(rows[0])
            if record.userid != session.userid or record.floor >= ENDED:
                return False
            connection.execute(_SLIDE, (session.id, session.valid_until, now))
            return True

    def rotate(self, session: SessionRecord, generation: int, now: float) -> bool:
        with self.database.transaction() as connection:
            if is_revoked(session.created, _not_before(connection, session.userid)):
                return False
            rows = connection.execute(_ONE, (session.id,)).fetchall()
            if not rows:  # the previous release's token: its session starts here
                connection.execute(_INSERT, _row(session, floor=generation + 1))
                return True
            record = _record(rows[0])
            if record.userid != session.userid or record.floor > generation:
                return False
            connection.execute(
                f"UPDATE {SESSIONS} SET floor = ?2 WHERE sid = ?1", (session.id, generation + 1)
            )
            connection.execute(_SLIDE, (session.id, session.valid_until, now))
            return True

    def end(self, userid: str, session: str, now: float) -> bool:
        with self.database.transaction() as connection:
            rows = connection.execute(_ONE, (session,)).fetchall()
            if not rows or rows[0][1] != userid:
                return False
            record = _record(rows[0])
            live = record.live(now) and not is_revoked(
                record.created, _not_before(connection, userid)
            )
            connection.execute(_END, (session,))
            return live

    def revoke(self, userid: str, not_before: float, forget_before: float, now: float) -> int:
        with self.database.transaction() as connection:
            previous = _not_before(connection, userid)
            rows = connection.execute(_OPEN, (userid,)).fetchall()
            live = sum(
                1
                for record in map(_record, rows)
                if record.live(now) and not is_revoked(record.created, previous)
            )
            connection.execute(
                f"UPDATE {SESSIONS} SET floor = {ENDED} WHERE userid = ? AND floor < {ENDED}",
                (userid,),
            )
            connection.execute(
                f"INSERT INTO {TABLE} (userid, not_before) VALUES (?, ?) "
                "ON CONFLICT (userid) DO UPDATE "
                "SET not_before = max(not_before, excluded.not_before)",
                (userid, not_before),
            )
            connection.execute(f"DELETE FROM {TABLE} WHERE not_before < ?", (forget_before,))
            return live

    def sessions(self, userid: str, now: float) -> list[SessionRecord]:
        rows = self.database.execute(_OPEN, (userid,))
        not_before = self.not_before(userid) if rows else None
        records = [_record(row) for row in rows]
        return [r for r in records if r.live(now) and not is_revoked(r.created, not_before)]

    def snapshot(self, since: float, now: float) -> Snapshot:
        users = self.database.execute(
            f"SELECT userid, not_before FROM {TABLE} WHERE not_before >= ?", (since,)
        )
        floors = self.database.execute(
            f"SELECT sid, floor FROM {SESSIONS} WHERE expires > ? AND floor > 0", (now,)
        )
        return Snapshot(
            {userid: float(instant) for userid, instant in users},
            {sid: int(floor) for sid, floor in floors},
        )

    def close(self) -> None:
        self.database.close()

    def __repr__(self) -> str:
        return f"SQLiteRevocation({str(self.database.path)!r})"


def _not_before(connection: sqlite3.Connection, userid: str) -> float | None:
    row = connection.execute(_NOT_BEFORE, (userid,)).fetchone()
    return None if row is None else float(row[0])


def _record(row: Any) -> SessionRecord:
    sid, userid, kind, client, stamp, created, last_used, valid_until, expires, floor = row
    return SessionRecord(
        sid, userid, kind, client, stamp, float(created), float(last_used),
        float(valid_until), float(expires), int(floor),
    )  # fmt: skip


def _row(
    record: SessionRecord, *, created: float | None = None, floor: int | None = None
) -> tuple[object, ...]:
    return (
        record.id, record.userid, record.kind, record.client, record.stamp,
        record.created if created is None else created, record.last_used,
        record.valid_until, record.expires, record.floor if floor is None else floor,
    )  # fmt: skip
