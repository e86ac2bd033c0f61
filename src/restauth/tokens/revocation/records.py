"""What a revocation store keeps about JWT sessions, and the rules every backend applies.

A JWT lives in its client, so ending one session cannot delete anything; instead each
session has a record, and each JWT names its session (``sid``) and its *generation*
(``gen``, raised by a rotation). A record's ``floor`` kills every token of the session
whose generation is lower: a rotation raises it past the presented token, ending a
session raises it to :data:`ENDED`, past any generation. A record is kept until the
session's absolute expiry (its tokens' ``max_exp``): after that no token of it can be
alive, so nothing is lost when it goes.

The rules are here, once, in plain Python for the memory and SQLite stores; the Redis
store's Lua scripts apply the same ones (see :mod:`restauth.tokens.revocation.lua`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

from restauth.tokens.base import SESSION_KINDS, Session, SessionKind, check_kind

ENDED = 2**53  # a floor past any generation; exact as a double (Lua, JSON) and in SQLite
KINDS = SESSION_KINDS  # the name this module had first


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """One JWT session as a revocation store keeps it (never a token).

    ``created`` is the ``auth_time`` of its tokens; ``valid_until`` is the latest ``exp``
    any of its tokens carries (the stores only ever move it forward, and no token is
    signed past it), so a record that is not live has no live token; ``expires`` is the
    absolute cap (``max_exp``); ``floor`` as the module says.
    """

    id: str
    userid: str
    kind: SessionKind
    client: str
    stamp: str
    created: float
    last_used: float
    valid_until: float
    expires: float
    floor: int = 0

    def live(self, now: float) -> bool:
        return self.floor < ENDED and now < self.valid_until and now < self.expires

    def view(self) -> Session:
        """The session as the endpoints and the CLI list it."""
        return Session(
            self.id, self.userid, self.kind, self.client, self.created, self.last_used,
            min(self.valid_until, self.expires), self.stamp,
        )  # fmt: skip

    def slid(self, now: float, ttl: float) -> SessionRecord:
        """This record after a use at ``now`` (see :func:`slid_deadline`)."""
        deadline = slid_deadline(self.valid_until, self.expires, now, ttl)
        if deadline is None:
            return self
        return replace(self, valid_until=deadline, last_used=max(self.last_used, now))


class SessionCheck(NamedTuple):
    """What one round trip tells about a presented token's user and session.

    ``not_before``: the user's "not before" instant (``None``: never revoked); ``floor``:
    the session's (0 when it has no record: a token signed elsewhere, or by the previous
    release); ``valid_until``: the session's recorded deadline when the store knows it
    (``None``: no record, or a cache that was not told), so a node re-signing a token
    can tell whether the record needs a write.
    """

    not_before: float | None
    floor: int
    valid_until: float | None


class Snapshot(NamedTuple):
    """Everything a check needs, for :class:`~restauth.tokens.revocation.CachedRevocation`:
    the users' instants, and the floors of the sessions that have one (rotated or ended),
    until their absolute expiry."""

    not_before: dict[str, float]
    floors: dict[str, int]


def as_kind(value: str) -> SessionKind:
    """A stored session kind, checked (a store holds only what a manager wrote)."""
    return check_kind(value)


def auth_time_after(now: float, not_before: float | None) -> float:
    """A new session's ``auth_time``: ``now``, or just past the user's "not before"
    instant when that is not earlier (a login right after a logout on a node whose
    clock is behind still outlives the record, by the least amount a float can)."""
    if not_before is None or now > not_before:
        return now
    return math.nextafter(not_before, math.inf)


def slid_deadline(stored: float, expires: float, now: float, ttl: float) -> float | None:
    """The deadline to record when a session is used at ``now``, or ``None`` to keep
    ``stored``.

    Kept while more than half of ``ttl`` is left: a JWT is re-signed past half its idle
    life, so this writes at most once per ``ttl / 2`` per session whatever the clients
    do, and a token signed with the kept deadline still has over half its life ahead.
    """
    if stored - now > ttl / 2:
        return None
    wanted = min(round(now + ttl, 3), expires)
    return wanted if wanted > stored else None


def is_revoked(created: float, not_before: float | None) -> bool:
    """Started at or before the user's "not before" instant."""
    return not_before is not None and created <= not_before
