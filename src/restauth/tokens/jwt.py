"""Signed JWT tokens (extra ``restauth[jwt]``): any node holding the key verifies them.

A token is a JWT (RFC 7519) signed by PyJWT with one :class:`JWTKey` (see
:mod:`restauth.tokens.jwt_keys`). Header ``typ`` is ``restauth+jwt`` and ``kid`` names
the key. Claims: ``iss``, ``sub`` (the userid), ``iat`` (when this JWT was signed),
``exp`` (its idle deadline), ``auth_time`` (the session's start), ``max_exp`` (the
absolute cap: start + ``max_lifetime``, or a service token's own lifetime), ``jti``,
``stamp`` (the user's credential stamp at login; a short digest of the password hash
that reveals nothing without the hash itself), ``sid`` (the session's public id) and
``gen`` (its rotation generation).

**Sessions.** Each login starts a session; a Basic caller gets its basic session again
(a fresh JWT of the same session while it is alive); a service token is a session of its
own lifetime. The :class:`~restauth.tokens.revocation.RevocationStore` keeps a record
per session (client, times, and a *floor*: tokens of a lower generation are dead) until
its absolute expiry, for listing, the per-user cap, and ending one session everywhere.
A check is one round trip to the store: the user's "not before" instant and the
session's floor read together (none with a
:class:`~restauth.tokens.revocation.CachedRevocation`).

**Sliding TTL.** A JWT cannot be extended in place, so a token that is used with at
most half of its idle life (``ttl``) left, or that an old key signed, is answered with a
freshly signed one of the same session and generation and a later ``exp`` (never past
``max_exp``). The middleware sends it in the ``Auth-Token`` header as usual; a client
that keeps the latest ``Auth-Token`` it sees stays logged in while active. The older
token stays valid until its own ``exp``. The session record's deadline follows, written
at most once per ``ttl / 2`` per session: a token re-signed while another token of the
session already carries a later recorded deadline gets that deadline, with no write.

**Ending.** :meth:`~JWTTokenManager.end` sets one session's floor past any generation;
:meth:`~JWTTokenManager.renew` signs generation ``gen + 1`` and raises the floor to it,
so the presented token is dead at once; :meth:`~JWTTokenManager.revoke` records the
user's "not before" instant (``now + skew``: a token signed on a node whose clock runs
up to ``skew`` seconds ahead still dies) and ends every session of the user.

**Upgrade.** A token the previous release signed has no ``sid`` or ``gen``. It is
accepted until its own ``exp`` as generation 0 of a session whose id is derived from
its ``jti`` (:func:`legacy_session_id`); the first time it is re-signed (or renewed) the
session gets its record, and is listed and can be ended from then on. The previous
release's "not before" records still apply, and ``revoke`` ends such tokens at once.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Iterable
from typing import Any, NamedTuple

import jwt

from restauth._time import Clock, Duration, as_seconds
from restauth.throttle.policy import ThrottleStore, shared_store
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
)
from restauth.tokens.jwt_keys import (
    ASYMMETRIC_ALGORITHMS,
    MIN_RSA_BITS,
    MIN_SECRET_BYTES,
    TOKEN_TYPE,
    JWTKey,
    PrivateKey,
    PublicKey,
    is_canonical_jws,
    jws_header,
    thumbprint,
    unverified_part,
)
from restauth.tokens.revocation import HasHorizon, MemoryRevocation, RevocationStore
from restauth.tokens.revocation.records import ENDED, SessionRecord, is_revoked

__all__ = [
    "ASYMMETRIC_ALGORITHMS",
    "FUTURE_TOLERANCE",
    "MAX_TOKEN_SIZE",
    "MIN_RSA_BITS",
    "MIN_SECRET_BYTES",
    "TOKEN_TYPE",
    "JWTKey",
    "JWTTokenManager",
    "PrivateKey",
    "PublicKey",
    "is_canonical_jws",
    "jws_header",
    "legacy_session_id",
    "thumbprint",
    "unverified_part",
]

MAX_TOKEN_SIZE = 4096  # checked before any decoding; restauth's own tokens are ~400-700 bytes
FUTURE_TOLERANCE = 60.0  # a token signed "later" than now: another node's clock is ahead
MAX_SESSION_ID = 64  # characters of a ``sid`` claim (restauth's own are 24)
_CLAIMS = ["iss", "sub", "iat", "exp", "auth_time", "max_exp", "jti", "stamp"]  # and the
# previous release's tokens have exactly these: ``sid`` and ``gen`` are checked apart


def legacy_session_id(jti: str) -> str:
    """The session id of a token the previous release signed (it has no ``sid``): derived
    from its ``jti``, so every node names it alike; the same shape as a new one."""
    digest = hashlib.sha256(b"restauth legacy session\0" + jti.encode("utf-8")).digest()
    return digest[:12].hex()


def _number(value: object) -> float | None:
    """A finite JSON number, else ``None`` (refused). Python's JSON reader takes ``NaN``
    and ``Infinity``, and every comparison with NaN is false: an ``exp`` of NaN would
    never be "past"."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class _Claims(NamedTuple):
    """The claims :meth:`JWTTokenManager.authenticate` judges, each of its proper type."""

    userid: str
    stamp: str
    iat: float
    exp: float
    auth_time: float
    max_exp: float
    nbf: float
    session: str
    generation: int

    def from_the_future(self, now: float) -> bool:
        """Signed (or usable only) too far ahead of ``now``: refused, not a dead session."""
        return max(self.iat, self.nbf) > now + FUTURE_TOLERANCE

    def expired(self, now: float) -> bool:
        return now >= self.exp or now >= self.max_exp

    def session_record(self, valid_until: float, now: float) -> SessionRecord:
        """The session as this token describes it: what a store records when it has no
        record yet (a token of the previous release; kind and client are unknown)."""
        return SessionRecord(
            self.session, self.userid, "login", "", self.stamp, self.auth_time, now,
            valid_until, self.max_exp,
        )  # fmt: skip


def _typed_claims(claims: dict[str, Any]) -> _Claims | None:
    """The claims with their types checked (numbers as floats), or ``None``."""
    userid, stamp = claims["sub"], claims["stamp"]
    iat, exp = _number(claims["iat"]), _number(claims["exp"])
    auth_time, max_exp = _number(claims["auth_time"]), _number(claims["max_exp"])
    nbf = _number(claims.get("nbf", iat))  # restauth signs none; honoured if present
    if iat is None or exp is None or auth_time is None or max_exp is None or nbf is None:
        return None
    if not isinstance(stamp, str) or not isinstance(userid, str) or not userid:
        return None
    session = _session_claims(claims)
    if session is None:
        return None
    return _Claims(userid, stamp, iat, exp, auth_time, max_exp, nbf, *session)


def _session_claims(claims: dict[str, Any]) -> tuple[str, int] | None:
    """``sid`` and ``gen``, checked; derived for a token of the previous release (it has
    neither); ``None`` when they are malformed or only one is there."""
    session, generation, jti = claims.get("sid"), claims.get("gen"), claims["jti"]
    if session is None and generation is None and isinstance(jti, str):
        return legacy_session_id(jti), 0
    if not isinstance(session, str) or not 0 < len(session) <= MAX_SESSION_ID:
        return None
    if isinstance(generation, bool) or not isinstance(generation, int):
        return None
    return (session, generation) if 0 <= generation < ENDED else None


class JWTTokenManager:
    """A :class:`~restauth.TokenManager` whose tokens are JWTs signed with ``key``.

    ``old_keys`` still verify (key rotation: a token they signed is re-signed under
    ``key`` at its next use). ``revocation`` holds the session records and the per-user
    "not before" records (default: a
    :class:`~restauth.tokens.revocation.MemoryRevocation`, one process only; share a
    SQLite or Redis one between nodes). ``max_sessions`` caps a user's login and basic
    sessions (a new one ends the oldest). Expiry is judged by ``clock()``.
    """

    def __init__(
        self,
        key: JWTKey,
        *,
        old_keys: Iterable[JWTKey] = (),
        ttl: Duration = DEFAULT_TTL,
        max_lifetime: Duration = DEFAULT_MAX_LIFETIME,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        issuer: str = "restauth",
        revocation: RevocationStore | None = None,
        clock: Clock = time.time,
        max_token_size: int = MAX_TOKEN_SIZE,
        skew: float = 1.0,
    ) -> None:
        if not isinstance(key, JWTKey) or not key.can_sign:
            raise ValueError("key must be a JWTKey that can sign (a secret or a private key)")
        self.ttl = as_seconds(ttl, "ttl")
        self.max_lifetime = as_seconds(max_lifetime, "max_lifetime")
        self.max_sessions = check_max_sessions(max_sessions)
        self.key = key
        self.keys: dict[str, JWTKey] = {key.kid: key}
        for old in old_keys:
            if old.kid in self.keys:
                raise ValueError(f"two keys share the kid {old.kid!r}")
            self.keys[old.kid] = old
        self.issuer = issuer
        self.revocation: RevocationStore = (
            revocation if revocation is not None else MemoryRevocation()
        )
        if isinstance(self.revocation, HasHorizon) and self.revocation.horizon < self.max_lifetime:
            raise ValueError("the revocation cache's horizon must be at least max_lifetime")
        self.clock = clock
        self.max_token_size = max_token_size
        self.max_token_length = max_token_size  # lets token-as-password try a JWT
        self.skew = skew

    def issue(
        self,
        userid: str,
        stamp: str,
        *,
        kind: SessionKind = "login",
        client: str = "",
        lifetime: float | None = None,
    ) -> TokenGrant:
        """Start a session (one round trip to the store, which also applies the cap and
        finds the basic session to reuse) and sign its token.

        ``auth_time`` is kept exact (never rounded): a login any time after a revocation
        instant outlives it, and one at or before that instant starts just past it.
        """
        kind = check_kind(kind)
        now = self.clock()
        ttl = self.ttl if lifetime is None else as_seconds(lifetime, "lifetime")
        expires = round(now + (self.max_lifetime if lifetime is None else ttl), 3)
        new = SessionRecord(
            TokenCodec.new_session_id(), userid, kind, client_label(client), stamp, now, now,
            min(round(now + ttl, 3), expires), expires,
        )  # fmt: skip
        record = self.revocation.start(new, cap=self.max_sessions, ttl=self.ttl, now=now)
        return self._mint(record, record.floor, record.valid_until, now)

    def authenticate(self, token: str) -> TokenGrant | DeadToken | None:
        claims, key = self._claims(token)
        if claims is None:
            return None
        now = self.clock()
        if claims.from_the_future(now):
            return None
        if claims.expired(now):
            return DeadToken(claims.userid, claims.session, "expired")
        check = self.revocation.check(claims.userid, claims.session)
        if claims.generation < check.floor or is_revoked(claims.auth_time, check.not_before):
            return DeadToken(claims.userid, claims.session, "ended")
        exp, max_exp = claims.exp, claims.max_exp
        recorded = check.valid_until is not None  # not: the previous release signed it
        if recorded and key is self.key and (exp - now > self.ttl / 2 or exp >= max_exp):
            valid_until = exp if exp < max_exp else max_exp
            return TokenGrant(
                token, claims.userid, claims.stamp, claims.auth_time, valid_until, claims.session
            )
        stored = check.valid_until  # re-sign: slide the idle deadline, or move off an old key
        if stored is not None and stored - now > self.ttl / 2:
            session = claims.session_record(max(exp, min(stored, max_exp)), now)
        else:  # the record's deadline moves: at most once per ttl / 2 for a session
            session = claims.session_record(max(exp, min(round(now + self.ttl, 3), max_exp)), now)
            if not self.revocation.touch(session, now):
                return DeadToken(claims.userid, claims.session, "ended")
        return self._mint(session, claims.generation, session.valid_until, now)

    def renew(self, token: str) -> TokenGrant | None:
        """Sign generation ``gen + 1`` of the token's session and raise the session's floor
        to it (one round trip, atomic: of two renewals of one token, one wins)."""
        claims = self._claims(token)[0]
        now = self.clock()
        if claims is None or claims.from_the_future(now) or claims.expired(now):
            return None
        exp = max(claims.exp, min(round(now + self.ttl, 3), claims.max_exp))
        session = claims.session_record(exp, now)
        if not self.revocation.rotate(session, claims.generation, now):
            return None
        return self._mint(session, claims.generation + 1, exp, now)

    def sessions(self, userid: str) -> list[Session]:
        return [record.view() for record in self.revocation.sessions(userid, self.clock())]

    def end(self, userid: str, session: str) -> bool:
        return self.revocation.end(userid, session, self.clock())

    def revoke(self, userid: str) -> int:
        """End every session of the user, on every node sharing the store; how many were
        live. Tokens signed until now by the previous release die too."""
        now = self.clock()
        return self.revocation.revoke(userid, now + self.skew, now - self.max_lifetime, now)

    def throttle_store(self) -> ThrottleStore | None:
        """Failure counters beside the revocation records (a SQLite file, a Redis), so
        every process and node sharing them throttles together; ``None`` in memory."""
        return shared_store(self.revocation)

    def close(self) -> None:
        self.revocation.close()

    def __repr__(self) -> str:
        return f"JWTTokenManager(key={self.key!r}, issuer={self.issuer!r}, ttl={self.ttl})"

    def _mint(self, session: SessionRecord, generation: int, exp: float, now: float) -> TokenGrant:
        claims = {
            "iss": self.issuer,
            "sub": session.userid,
            "iat": round(now, 3),
            "exp": exp,
            "auth_time": session.created,
            "max_exp": session.expires,
            "jti": secrets.token_urlsafe(16),
            "stamp": session.stamp,
            "sid": session.id,
            "gen": generation,
        }
        token = self.key.sign(claims)
        valid_until = min(exp, session.expires)
        return TokenGrant(
            token, session.userid, session.stamp, session.created, valid_until, session.id
        )

    def _claims(self, token: str) -> tuple[_Claims | None, JWTKey | None]:
        """The typed claims of a token one of our keys signed, and that key."""
        if len(token) > self.max_token_size:
            return None, None
        verified = self._verified_claims(token)
        if verified is None:
            return None, None
        key, raw = verified
        return _typed_claims(raw), key

    def _verified_claims(self, token: str) -> tuple[JWTKey, dict[str, Any]] | None:
        """The key and claims of a token one of our keys signed with its own algorithm."""
        header = jws_header(token)
        kid = header.get("kid") if header is not None else None
        key = self.keys.get(kid) if isinstance(kid, str) else None
        if key is None or header is None or header.get("typ") != TOKEN_TYPE:
            return None
        try:
            claims = key.decode(
                token,
                issuer=self.issuer,
                options={
                    "verify_exp": False,  # exp, nbf, iat: judged by clock(), not time.time()
                    "verify_nbf": False,
                    "verify_iat": False,
                    "require": _CLAIMS,
                },
            )
        except (jwt.InvalidTokenError, ValueError, TypeError):
            return None
        return key, claims
