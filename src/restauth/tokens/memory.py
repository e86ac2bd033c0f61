"""An in-memory token manager: one process, sessions die with it."""

from __future__ import annotations

import hmac
import threading
import time
from typing import Literal

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
    renewal_step,
)

PURGE_INTERVAL = 60.0  # seconds between sweeps of expired and ended records (by issue)


class _Record:
    """One token of a session. Mutable so a renewal is one attribute store (atomic under
    the GIL); ``ended`` is set, never cleared, when the session ends or rotates away."""

    __slots__ = (
        "client",
        "created",
        "ended",
        "expires",
        "idle_deadline",
        "kind",
        "mac",
        "reason",
        "session",
        "stamp",
        "step",
        "token_id",
        "ttl",
        "userid",
    )

    def __init__(
        self,
        token_id: str,
        mac: str,
        session: Session,
        ttl: float,
        expires: float,
    ) -> None:
        self.token_id = token_id
        self.mac = mac
        self.userid = session.userid
        self.stamp = session.stamp
        self.session = session.id
        self.kind: SessionKind = session.kind
        self.client = session.client
        self.created = session.created
        self.ttl = ttl
        self.step = renewal_step(ttl)
        self.expires = expires
        self.idle_deadline = session.created + ttl
        self.ended = False
        self.reason: Literal["expired", "ended"] = "ended"  # why, once ``ended``

    def alive(self, now: float) -> bool:
        return not self.ended and now < self.idle_deadline and now < self.expires

    def reason_at(self, now: float) -> Literal["expired", "ended"]:
        """Why a record that is not alive at ``now`` is dead."""
        return self.reason if self.ended else "expired"

    def view(self) -> Session:
        valid_until = min(self.idle_deadline, self.expires)
        last_used = max(self.created, self.idle_deadline - self.ttl)
        return Session(
            self.session, self.userid, self.kind, self.client, self.created, last_used,
            valid_until, self.stamp,
        )  # fmt: skip


class MemoryTokenManager:
    """Sessions in dicts: by token id (the check) and by user (listing, the cap).

    Reads take no lock: a renewal writes the record's deadline only, and an ended
    record is marked ``ended`` before it leaves the user's sessions, so a renewal racing
    an end cannot bring the token back. Starting and ending sessions hold a lock. Ended
    and expired records are kept until their expiry (a later use is reported as a
    :class:`DeadToken`) and swept by :meth:`purge_expired`, which a login runs at most
    every :data:`PURGE_INTERVAL` seconds.

    Renewal is coarse, as in every manager (:func:`~restauth.tokens.base.renewal_step`):
    a use moves the idle deadline only when it would move by more than the step, so most
    checks only read, and the grant reports the deadline the record holds.

    The records live in this process beside the key that signs them, so each keeps its
    token's MAC: a check is a lookup by id and a constant-time compare of the MAC, with
    no HMAC computed per request (the persistent managers keep only ids in their stores).
    """

    def __init__(
        self,
        ttl: Duration = DEFAULT_TTL,
        *,
        max_lifetime: Duration = DEFAULT_MAX_LIFETIME,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        clock: Clock = time.time,
        secret_key: bytes | str | None = None,
    ) -> None:
        self.ttl = as_seconds(ttl, "ttl")
        self.max_lifetime = as_seconds(max_lifetime, "max_lifetime")
        self.max_sessions = check_max_sessions(max_sessions)
        self.clock = clock
        self._codec = TokenCodec(secret_key)
        self._by_id: dict[str, _Record] = {}
        self._by_user: dict[str, dict[str, _Record]] = {}  # live sessions, oldest first
        self._basic: dict[str, _Record] = {}  # each user's basic session: read without the lock
        self._lock = threading.Lock()
        self._next_purge = clock() + PURGE_INTERVAL

    def issue(
        self,
        userid: str,
        stamp: str,
        *,
        kind: SessionKind = "login",
        client: str = "",
        lifetime: float | None = None,
    ) -> TokenGrant:
        now = self.clock()
        if kind == "basic":  # every Basic request: its live session, found without the lock
            grant = self._live_basic(userid, stamp, now)
            if grant is not None:
                return grant
        kind = check_kind(kind)
        with self._lock:
            sessions = self._live_sessions(userid, stamp, now)
            if kind == "basic":
                record = self._basic.get(userid)
                if record is not None and record.stamp == stamp and record.alive(now):
                    return self._grant(record)  # another thread started it meanwhile
            if kind != "service":
                self._evict_beyond_cap(sessions, self.max_sessions - 1)
            ttl = self.ttl if lifetime is None else as_seconds(lifetime, "lifetime")
            expires = now + (self.max_lifetime if lifetime is None else ttl)
            session = Session(
                self._codec.new_session_id(), userid, kind, client_label(client), now, now,
                now + ttl, stamp,
            )  # fmt: skip
            record = self._new_record(session, ttl, expires)
            sessions[record.session] = record
            if kind == "basic":
                self._basic[userid] = record
        if now >= self._next_purge:
            self._next_purge = now + PURGE_INTERVAL
            self.purge_expired()
        return self._grant(record)

    def _live_basic(self, userid: str, stamp: str, now: float) -> TokenGrant | None:
        """The user's basic session, renewed if due, when it is alive under ``stamp``."""
        record = self._basic.get(userid)
        if record is None or record.stamp != stamp or record.ended:
            return None
        idle, hard = record.idle_deadline, record.expires  # alive(), inlined: hot
        if now >= idle or now >= hard:
            return None
        if now + record.ttl - idle > record.step:
            idle = record.idle_deadline = now + record.ttl
        token = f"{record.token_id}.{record.mac}"
        valid_until = idle if idle < hard else hard
        return TokenGrant(token, userid, stamp, record.created, valid_until, record.session)

    def authenticate(self, token: str) -> TokenGrant | DeadToken | None:
        token_id, dot, mac = token.partition(".")
        if not dot or not token.isascii():
            return None
        record = self._by_id.get(token_id)  # an id alone proves nothing: the MAC decides
        if record is None or not hmac.compare_digest(mac, record.mac):
            return None
        now = self.clock()
        idle, hard = record.idle_deadline, record.expires  # _alive and _grant, inlined: hot path
        if record.ended or now >= idle or now >= hard:
            return DeadToken(record.userid, record.session, record.reason_at(now))
        ttl = record.ttl
        if now + ttl - idle > record.step:  # renewed_deadline, inlined: most uses keep it
            idle = record.idle_deadline = now + ttl
            if record.ended:  # ended while this check ran: the renewal must not revive it
                return DeadToken(record.userid, record.session, record.reason)
        valid_until = idle if idle < hard else hard
        return TokenGrant(
            token, record.userid, record.stamp, record.created, valid_until, record.session
        )

    def renew(self, token: str) -> TokenGrant | None:
        now = self.clock()
        with self._lock:
            old = self._record_of(token)
            if old is None or not old.alive(now):
                return None
            session = old.view()
            record = self._new_record(session, old.ttl, old.expires)
            record.idle_deadline = now + old.ttl
            old.ended = True
            self._by_user[old.userid][old.session] = record  # same place: still as old
            if self._basic.get(old.userid) is old:
                self._basic[old.userid] = record
        return self._grant(record)

    def sessions(self, userid: str) -> list[Session]:
        now = self.clock()
        records = list(self._by_user.get(userid, {}).values())
        return [record.view() for record in records if record.alive(now)]

    def end(self, userid: str, session: str) -> bool:
        with self._lock:
            record = self._by_user.get(userid, {}).get(session)
            if record is None:
                return False
            alive = record.alive(self.clock())
            self._end(record)
            return alive

    def revoke(self, userid: str) -> int:
        now = self.clock()
        with self._lock:
            records = list(self._by_user.get(userid, {}).values())
            live = sum(1 for record in records if record.alive(now))
            for record in records:
                self._end(record)
            return live

    def purge_expired(self) -> int:
        """Forget the records whose tokens died more than their ``ttl`` ago (until then a
        use is still reported as a :class:`DeadToken`); how many."""
        now = self.clock()
        with self._lock:
            gone = 0
            for record in list(self._by_id.values()):
                death = min(record.idle_deadline, record.expires)
                if now >= death and not record.ended:
                    self._end(record, "expired")
                if now >= death + record.ttl:
                    del self._by_id[record.token_id]
                    gone += 1
            for userid in [u for u, sessions in self._by_user.items() if not sessions]:
                del self._by_user[userid]
        return gone

    def __len__(self) -> int:
        """How many sessions are live."""
        now = self.clock()
        return sum(
            1 for records in list(self._by_user.values()) for r in records.values() if r.alive(now)
        )

    def close(self) -> None:
        """Nothing to release; present so every manager can be closed alike."""

    # -- under the lock ---------------------------------------------------------------

    def _live_sessions(self, userid: str, stamp: str, now: float) -> dict[str, _Record]:
        """The user's session dict, without those expired or of an older stamp."""
        sessions = self._by_user.setdefault(userid, {})
        for record in list(sessions.values()):
            if record.stamp != stamp:
                self._end(record)  # a password change ended it already: say so
            elif not record.alive(now):
                self._end(record, "expired")  # for good: no late renewal revives it
        return sessions

    def _evict_beyond_cap(self, sessions: dict[str, _Record], keep: int) -> None:
        """End the oldest login and basic sessions until at most ``keep`` remain."""
        capped = [r for r in sessions.values() if r.kind != "service"]
        for record in capped[: max(0, len(capped) - keep)]:
            self._end(record)

    def _new_record(self, session: Session, ttl: float, expires: float) -> _Record:
        token_id = self._codec.new_id()
        mac = self._codec.token_for(token_id).partition(".")[2]
        record = _Record(token_id, mac, session, ttl, expires)
        self._by_id[token_id] = record
        return record

    def _record_of(self, token: str) -> _Record | None:
        token_id, dot, mac = token.partition(".")
        record = self._by_id.get(token_id) if dot and token.isascii() else None
        if record is None or not hmac.compare_digest(mac, record.mac):
            return None
        return record

    def _end(self, record: _Record, reason: Literal["expired", "ended"] = "ended") -> None:
        """Over for good, and out of the user's sessions. ``ended`` is set before the
        record leaves them: a check that renews it afterwards sees it and refuses."""
        if not record.ended:
            record.reason = reason
            record.ended = True
        self._detach(record)

    def _detach(self, record: _Record) -> None:
        """Out of the user's live sessions (the record stays findable by its token id)."""
        sessions = self._by_user.get(record.userid)
        if sessions is not None and sessions.get(record.session) is record:
            del sessions[record.session]
        if self._basic.get(record.userid) is record:
            del self._basic[record.userid]

    @staticmethod
    def _grant(record: _Record) -> TokenGrant:
        valid_until = min(record.idle_deadline, record.expires)
        token = f"{record.token_id}.{record.mac}"
        return TokenGrant(
            token, record.userid, record.stamp, record.created, valid_until, record.session
        )
