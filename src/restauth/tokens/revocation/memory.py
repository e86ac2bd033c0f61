"""Revocation records and JWT sessions in dicts: one process (tests, a single worker)."""

from __future__ import annotations

import threading
from dataclasses import replace

from restauth.tokens.revocation.records import (
    ENDED,
    SessionCheck,
    SessionRecord,
    Snapshot,
    auth_time_after,
    is_revoked,
)

PURGE_INTERVAL = 60.0  # seconds between sweeps of sessions past their absolute expiry


class MemoryRevocation:
    """Every record in this process. A check reads two dicts without a lock (each read is
    atomic under the GIL, and a record is replaced whole, never changed in place); every
    change holds one lock, so a rotation, an end and a login never undo each other."""

    def __init__(self) -> None:
        self._records: dict[str, float] = {}  # userid -> "not before" instant
        self._sessions: dict[str, SessionRecord] = {}  # by session id, until expiry
        self._by_user: dict[str, dict[str, None]] = {}  # not ended, in start order
        self._lock = threading.Lock()
        self._next_purge = 0.0

    def check(self, userid: str, session: str) -> SessionCheck:
        record = self._sessions.get(session)
        if record is None or record.userid != userid:
            return SessionCheck(self._records.get(userid), 0, None)
        return SessionCheck(self._records.get(userid), record.floor, record.valid_until)

    def not_before(self, userid: str) -> float | None:
        return self._records.get(userid)

    def start(self, new: SessionRecord, *, cap: int, ttl: float, now: float) -> SessionRecord:
        with self._lock:
            if now >= self._next_purge:
                self._next_purge = now + PURGE_INTERVAL
                self._purge(now)
            not_before = self._records.get(new.userid)
            index = self._by_user.setdefault(new.userid, {})
            capped: list[str] = []
            reuse = None
            for sid in list(index):
                record = self._sessions.get(sid)
                if record is None or not self._live(record, not_before, now):
                    if record is not None:  # for good: a node whose clock runs behind
                        self._end(record)  # must not re-sign it outside the list
                    index.pop(sid, None)
                elif record.stamp != new.stamp:  # a password change ended it already
                    self._end(record)
                elif new.kind == "basic" and record.kind == "basic" and reuse is None:
                    reuse = record
                elif record.kind != "service":
                    capped.append(sid)
            if reuse is not None:
                slid = reuse.slid(now, ttl)
                self._sessions[slid.id] = slid
                return slid
            if new.kind != "service":
                for sid in capped[: max(0, len(capped) - cap + 1)]:
                    self._end(self._sessions[sid])
            record = replace(new, created=auth_time_after(new.created, not_before))
            self._sessions[record.id] = record
            index[record.id] = None
            return record

    def touch(self, session: SessionRecord, now: float) -> bool:
        with self._lock:
            record = self._sessions.get(session.id)
            if record is None:
                if is_revoked(session.created, self._records.get(session.userid)):
                    return False
                self._sessions[session.id] = session
                self._by_user.setdefault(session.userid, {})[session.id] = None
                return True
            if record.userid != session.userid or record.floor >= ENDED:
                return False
            self._sessions[session.id] = replace(
                record,
                valid_until=max(record.valid_until, session.valid_until),
                last_used=max(record.last_used, now),
            )
            return True

    def rotate(self, session: SessionRecord, generation: int, now: float) -> bool:
        with self._lock:
            if is_revoked(session.created, self._records.get(session.userid)):
                return False
            record = self._sessions.get(session.id)
            if record is None:  # the previous release's token: its session starts here
                self._by_user.setdefault(session.userid, {})[session.id] = None
                record = session
            elif record.userid != session.userid or record.floor > generation:
                return False
            self._sessions[session.id] = replace(
                record,
                floor=generation + 1,
                valid_until=max(record.valid_until, session.valid_until),
                last_used=max(record.last_used, now),
            )
            return True

    def end(self, userid: str, session: str, now: float) -> bool:
        with self._lock:
            record = self._sessions.get(session)
            if record is None or record.userid != userid:
                return False
            live = self._live(record, self._records.get(userid), now)
            self._end(record)
            return live

    def revoke(self, userid: str, not_before: float, forget_before: float, now: float) -> int:
        with self._lock:
            previous = self._records.get(userid)
            if previous is None or not_before > previous:
                self._records[userid] = not_before
            for old in [u for u, instant in self._records.items() if instant < forget_before]:
                del self._records[old]
            live = 0
            for sid in list(self._by_user.pop(userid, {})):
                record = self._sessions.get(sid)
                if record is not None:
                    live += self._live(record, previous, now)
                    self._end(record)
            return live

    def sessions(self, userid: str, now: float) -> list[SessionRecord]:
        not_before = self._records.get(userid)
        records = [self._sessions.get(sid) for sid in list(self._by_user.get(userid, {}))]
        return [r for r in records if r is not None and self._live(r, not_before, now)]

    def snapshot(self, since: float, now: float) -> Snapshot:
        users = {u: instant for u, instant in list(self._records.items()) if instant >= since}
        floors = {
            sid: record.floor
            for sid, record in list(self._sessions.items())
            if record.floor > 0 and record.expires > now
        }
        return Snapshot(users, floors)

    def close(self) -> None:
        """Nothing to release."""

    # -- under the lock ---------------------------------------------------------------

    @staticmethod
    def _live(record: SessionRecord, not_before: float | None, now: float) -> bool:
        return record.live(now) and not is_revoked(record.created, not_before)

    def _end(self, record: SessionRecord) -> None:
        self._sessions[record.id] = replace(record, floor=ENDED)
        self._by_user.get(record.userid, {}).pop(record.id, None)

    def _purge(self, now: float) -> None:
        """Forget sessions past their absolute expiry: none of their tokens can live."""
        for sid, record in list(self._sessions.items()):
            if record.expires <= now:
                del self._sessions[sid]
                self._by_user.get(record.userid, {}).pop(sid, None)
        for userid in [u for u, index in self._by_user.items() if not index]:
            del self._by_user[userid]
