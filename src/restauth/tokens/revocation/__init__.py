"""Revocation records and JWT sessions: how a stateless token is ended on every node.

``DELETE /tokens/<userid>`` cannot delete a signed token that lives only in its client,
so the store records what makes it dead instead, in two kinds of record:

- a user's **"not before" instant** (log out everywhere, as in the previous release):
  every token of the user whose login time (``auth_time``) is not later is dead. Kept
  until the horizon the caller gives (the token manager's ``max_lifetime``).
- a **session record** per login (see :mod:`restauth.tokens.revocation.records`): who,
  which client, when, and a *floor* that ends the session's older tokens (a rotation)
  or all of them (the session ended). Kept until the session's absolute expiry.

A check reads the user's instant and the session's floor in one round trip.

Backends: :class:`MemoryRevocation` (one process), :class:`SQLiteRevocation` (one
machine), :class:`RedisRevocation` (many machines). :class:`CachedRevocation` wraps any
of them for zero round trips per check, at the price of a documented staleness bound.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from restauth.tokens.revocation.cached import DEFAULT_STALENESS, CachedRevocation
from restauth.tokens.revocation.memory import MemoryRevocation
from restauth.tokens.revocation.records import ENDED, SessionCheck, SessionRecord, Snapshot
from restauth.tokens.revocation.redis import RedisRevocation
from restauth.tokens.revocation.sqlite import SCHEMA, SCHEMA_VERSION, TABLE, SQLiteRevocation

__all__ = [
    "DEFAULT_STALENESS",
    "ENDED",
    "SCHEMA",
    "SCHEMA_VERSION",
    "TABLE",
    "CachedRevocation",
    "HasHorizon",
    "MemoryRevocation",
    "RedisRevocation",
    "RevocationStore",
    "SQLiteRevocation",
    "SessionCheck",
    "SessionRecord",
    "Snapshot",
]


@runtime_checkable
class RevocationStore(Protocol):
    """Where the records are kept. Every method may raise ``StoreUnavailable``; every
    change is atomic (concurrent logins, rotations and ends on any node never lose or
    resurrect a session). ``now`` is the token manager's clock.

    Optional members, each a protocol of its own, read once when the token manager or
    the middleware is built (never per request):

    - ``horizon`` (:class:`HasHorizon`): how far back the store remembers; the token
      manager refuses one shorter than its ``max_lifetime``.
    - ``throttle_store()`` (:class:`restauth.throttle.policy.SharesThrottleCounters`):
      failure counters beside the records, so every node sharing them throttles together
      (the JWT token manager offers them as its own).
    """

    def check(self, userid: str, session: str) -> SessionCheck:
        """The user's instant and the session's floor (and deadline): one round trip."""
        ...

    def not_before(self, userid: str) -> float | None:
        """The user's recorded instant, or ``None``."""
        ...

    def start(self, new: SessionRecord, *, cap: int, ttl: float, now: float) -> SessionRecord:
        """Record a new session (``new.created`` is ``now``) and return it as recorded.

        Its ``created`` becomes the ``auth_time`` of its tokens: ``now``, or just past the
        user's instant (:func:`~restauth.tokens.revocation.records.auth_time_after`).
        The user's sessions of another stamp are ended; for ``kind="basic"`` the user's
        live basic session is returned instead when there is one (its deadline slid as
        :func:`~restauth.tokens.revocation.records.slid_deadline` says); otherwise,
        unless ``new`` is a service session, the oldest login and basic sessions are
        ended until fewer than ``cap`` remain.
        """
        ...

    def touch(self, session: SessionRecord, now: float) -> bool:
        """Record that a token of ``session`` lives until ``session.valid_until`` (the
        recorded deadline only moves forward). A session with no record (the previous
        release's token) is recorded as given, unless the user's instant covers it.
        ``False`` if the session has ended."""
        ...

    def rotate(self, session: SessionRecord, generation: int, now: float) -> bool:
        """End the tokens of ``session`` up to ``generation`` (its floor becomes
        ``generation + 1``) and record ``session.valid_until``. ``False`` if the session
        has ended, its floor is already past ``generation`` (rotated by someone else), or
        the user's instant covers it. A session with no record is recorded."""
        ...

    def end(self, userid: str, session: str, now: float) -> bool:
        """End one of the user's sessions; ``True`` if it was live."""
        ...

    def revoke(self, userid: str, not_before: float, forget_before: float, now: float) -> int:
        """Record that the user's tokens from ``not_before`` or earlier are dead, and end
        every session of the user; how many were live.

        A later instant replaces an earlier one, never the reverse. Instants before
        ``forget_before`` may be dropped (they can no longer matter).
        """
        ...

    def sessions(self, userid: str, now: float) -> list[SessionRecord]:
        """The user's live sessions, in start order."""
        ...

    def snapshot(self, since: float, now: float) -> Snapshot:
        """Every user instant at or after ``since`` and every floor of a session not yet
        past its absolute expiry at ``now`` (for :class:`CachedRevocation`)."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class HasHorizon(Protocol):
    """An optional member of a :class:`RevocationStore`: it remembers user records of the
    last ``horizon`` seconds only (a cache such as :class:`CachedRevocation`).

    A token manager whose ``max_lifetime`` is longer refuses the store at construction:
    a revocation would be forgotten while tokens it must kill are still alive.
    """

    @property
    def horizon(self) -> float: ...
