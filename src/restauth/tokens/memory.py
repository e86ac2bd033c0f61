"""An in-memory token manager: one process, tokens die with it."""

from __future__ import annotations

import hmac
import threading
import time

from restauth._time import Clock, Duration, as_seconds
from restauth.tokens.base import (
    DEFAULT_MAX_LIFETIME,
    DEFAULT_TTL,
    TokenCodec,
    TokenGrant,
    renewal_step,
)


class _Record:
    """One live token. Mutable so a renewal is a single attribute store (atomic under the GIL)."""

    __slots__ = ("created", "idle_deadline", "mac", "stamp", "token_id", "userid")

    def __init__(
        self, token_id: str, mac: str, userid: str, stamp: str, created: float, idle: float
    ) -> None:
        self.token_id = token_id
        self.mac = mac
        self.userid = userid
        self.stamp = stamp
        self.created = created
        self.idle_deadline = idle


class MemoryTokenManager:
    """Tokens in two dicts (by id, by user), one current token per user.

    Reads take no lock: a renewal writes the record's deadline only, and a revoked
    record is already out of the dicts, so a refresh racing a revoke cannot bring the
    token back. Issue and revoke hold a lock to keep one token per user. Expired
    records are replaced when their user logs in again and can be swept with
    :meth:`purge_expired`; there is at most one per user.

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
        clock: Clock = time.time,
        secret_key: bytes | str | None = None,
    ) -> None:
        self.ttl = as_seconds(ttl, "ttl")
        self.max_lifetime = as_seconds(max_lifetime, "max_lifetime")
        self.clock = clock
        self._codec = TokenCodec(secret_key)
        self._step = renewal_step(self.ttl)
        self._by_id: dict[str, _Record] = {}
        self._by_user: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def issue(self, userid: str, stamp: str) -> TokenGrant:
        now = self.clock()
        with self._lock:
            record = self._by_user.get(userid)
            if record is not None and record.stamp == stamp:
                deadline = record.created + self.max_lifetime  # _alive and a renewal, inlined
                idle = record.idle_deadline
                if now < idle and now < deadline:
                    if now + self.ttl - idle > self._step:  # renewed_deadline, inlined
                        idle = record.idle_deadline = now + self.ttl
                    token = f"{record.token_id}.{record.mac}"
                    valid_until = idle if idle < deadline else deadline
                    return TokenGrant(token, record.userid, stamp, record.created, valid_until)
            if record is not None:
                self._drop(record)
            token_id = self._codec.new_id()
            mac = self._codec.token_for(token_id).partition(".")[2]
            record = _Record(token_id, mac, userid, stamp, now, now + self.ttl)
            self._by_id[record.token_id] = record
            self._by_user[userid] = record
        return self._grant(record)

    def authenticate(self, token: str) -> TokenGrant | None:
        token_id, dot, mac = token.partition(".")
        if not dot or not token.isascii():
            return None
        record = self._by_id.get(token_id)  # an id alone proves nothing: the MAC decides
        if record is None or not hmac.compare_digest(mac, record.mac):
            return None
        now = self.clock()
        idle = record.idle_deadline
        deadline = record.created + self.max_lifetime  # _alive and _grant, inlined: hot path
        if now >= idle or now >= deadline:
            return None
        if now + self.ttl - idle > self._step:  # renewed_deadline, inlined: most uses keep it
            idle = record.idle_deadline = now + self.ttl
        valid_until = idle if idle < deadline else deadline
        return TokenGrant(token, record.userid, record.stamp, record.created, valid_until)

    def lookup(self, userid: str) -> TokenGrant | None:
        record = self._by_user.get(userid)
        if record is None or not self._alive(record, self.clock()):
            return None
        return self._grant(record)

    def revoke(self, userid: str) -> bool:
        with self._lock:
            record = self._by_user.get(userid)
            if record is None:
                return False
            self._drop(record)
            return True

    def purge_expired(self) -> int:
        """Forget every expired token; returns how many."""
        now = self.clock()
        with self._lock:
            dead = [r for r in self._by_user.values() if not self._alive(r, now)]
            for record in dead:
                self._drop(record)
        return len(dead)

    def __len__(self) -> int:
        return len(self._by_user)

    def close(self) -> None:
        """Nothing to release; present so every manager can be closed alike."""

    def _alive(self, record: _Record, now: float) -> bool:
        return now < record.idle_deadline and now < record.created + self.max_lifetime

    def _grant(self, record: _Record, token: str | None = None) -> TokenGrant:
        valid_until = min(record.idle_deadline, record.created + self.max_lifetime)
        return TokenGrant(
            token or f"{record.token_id}.{record.mac}",
            record.userid,
            record.stamp,
            record.created,
            valid_until,
        )

    def _drop(self, record: _Record) -> None:
        self._by_id.pop(record.token_id, None)
        if self._by_user.get(record.userid) is record:
            del self._by_user[record.userid]
