"""A per-process copy of the revocation records: zero round trips per check."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from restauth._time import Clock, Duration, as_seconds
from restauth.tokens.base import DEFAULT_MAX_LIFETIME
from restauth.tokens.revocation.records import ENDED, SessionCheck, SessionRecord, Snapshot

if TYPE_CHECKING:
    from restauth.throttle.policy import ThrottleStore
    from restauth.tokens.revocation import RevocationStore

DEFAULT_STALENESS = 5.0
MAX_DEADLINES = 100_000  # session deadlines remembered; forgotten all at once beyond it


class CachedRevocation:
    """Zero round trips per check: a copy of the users' "not before" instants and of the
    sessions' floors, refreshed when stale.

    **Staleness bound:** a logout, an ended session or a rotation made on another node
    takes effect here at most ``max_staleness`` seconds later (default 5 s: a rotated-away
    token is still let in here for at most that long); one made through this object
    takes effect here at once. Each refresh is one round trip that reads every user
    record of the last ``horizon`` seconds (set it to at least the token manager's
    ``max_lifetime``) and the floor of every session rotated or ended that has not
    reached its absolute expiry, so memory grows with those: fine for thousands, not for
    millions. A refresh that fails raises ``StoreUnavailable`` (503): the copy is never
    used past its bound.

    Starting, rotating, listing and ending sessions go to the wrapped store (they are
    not per request). The copy also remembers the deadlines this process recorded, so a
    node re-signing a token writes the session's deadline at most once per ``ttl / 2``
    for the sessions it has seen.
    """

    def __init__(
        self,
        store: RevocationStore,
        *,
        max_staleness: Duration = DEFAULT_STALENESS,
        horizon: Duration = DEFAULT_MAX_LIFETIME,
        clock: Clock = time.time,
        monotonic: Clock = time.monotonic,
    ) -> None:
        self.store = store
        self.max_staleness = as_seconds(max_staleness, "max_staleness")
        self.horizon = as_seconds(horizon, "horizon")
        self.clock = clock
        self.monotonic = monotonic
        self._not_before: dict[str, float] = {}
        self._floors: dict[str, int] = {}
        self._deadlines: dict[str, float] = {}  # lower bounds of the recorded deadlines
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def throttle_store(self) -> ThrottleStore | None:
        """The wrapped store's shared counters (a copy of the counters would not be shared)."""
        from restauth.throttle.policy import shared_store

        return shared_store(self.store)

    def check(self, userid: str, session: str) -> SessionCheck:
        fetched = self._fetched_at
        if fetched is None or self.monotonic() - fetched >= self.max_staleness:
            self.refresh()
        return SessionCheck(
            self._not_before.get(userid),
            self._floors.get(session, 0),
            self._deadlines.get(session),
        )

    def not_before(self, userid: str) -> float | None:
        fetched = self._fetched_at
        if fetched is None or self.monotonic() - fetched >= self.max_staleness:
            self.refresh()
        return self._not_before.get(userid)

    def refresh(self) -> None:
        """Read every record of the horizon now (one round trip); raises on failure."""
        with self._lock:
            fetched = self._fetched_at
            if fetched is not None and self.monotonic() - fetched < self.max_staleness:
                return  # another thread refreshed while this one waited
            started = self.monotonic()
            now = self.clock()
            snapshot = self.store.snapshot(now - self.horizon, now)
            self._not_before, self._floors = snapshot.not_before, snapshot.floors
            self._deadlines = {s: d for s, d in list(self._deadlines.items()) if d > now}
            self._fetched_at = started

    def start(self, new: SessionRecord, *, cap: int, ttl: float, now: float) -> SessionRecord:
        record = self.store.start(new, cap=cap, ttl=ttl, now=now)
        self._remember(record.id, record.valid_until)
        return record

    def touch(self, session: SessionRecord, now: float) -> bool:
        touched = self.store.touch(session, now)
        if touched:
            self._remember(session.id, session.valid_until)
        return touched

    def rotate(self, session: SessionRecord, generation: int, now: float) -> bool:
        rotated = self.store.rotate(session, generation, now)
        if rotated:
            with self._lock:
                self._floors[session.id] = max(self._floors.get(session.id, 0), generation + 1)
            self._remember(session.id, session.valid_until)
        return rotated

    def end(self, userid: str, session: str, now: float) -> bool:
        ended = self.store.end(userid, session, now)
        if ended:
            with self._lock:
                self._floors[session] = ENDED
        return ended

    def revoke(self, userid: str, not_before: float, forget_before: float, now: float) -> int:
        live = self.store.revoke(userid, not_before, forget_before, now)
        with self._lock:
            self._not_before[userid] = max(not_before, self._not_before.get(userid, not_before))
        return live

    def sessions(self, userid: str, now: float) -> list[SessionRecord]:
        return self.store.sessions(userid, now)

    def snapshot(self, since: float, now: float) -> Snapshot:
        return self.store.snapshot(since, now)

    def close(self) -> None:
        self.store.close()

    def _remember(self, session: str, deadline: float) -> None:
        with self._lock:
            if len(self._deadlines) >= MAX_DEADLINES:
                self._deadlines = {}
            self._deadlines[session] = max(deadline, self._deadlines.get(session, deadline))
