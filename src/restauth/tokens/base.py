"""The token manager protocol, sessions, and the token format every manager shares.

A token belongs to a *session*: each login starts one (per device or client), a Basic
caller reuses the user's "basic" session, and a service token is a session of its own.
A session has a public id (listed, ended by id: never the secret) and one live token;
rotation (:meth:`TokenManager.renew`) gives the session a new token and ends the old.

A token is ``<id>.<mac>``: ``id`` is 128 random bits from :mod:`secrets`, ``mac`` is
``HMAC-SHA256(secret_key, id)``. A store keeps only the id, so a dump of the store
cannot be replayed without the key, yet the manager can hand a Basic caller its basic
session's token again.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from binascii import b2a_base64
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from restauth._text import without_refused_characters
from restauth.errors import MissingSecretKey as MissingSecretKey  # its old home: importable here

DEFAULT_TTL = 15 * 60.0
DEFAULT_MAX_LIFETIME = 12 * 3600.0
DEFAULT_MAX_SESSIONS = 20  # per user; a new login beyond it ends the oldest session
ID_BYTES = 16  # 128 bits (ASVS 5.0 7.2.3)
SESSION_ID_BYTES = 12  # public, but unguessable: 96 bits
MAX_CLIENT_LABEL = 120  # characters of a session's client label kept

SessionKind = Literal["login", "basic", "service"]
"""How a session began: ``POST /tokens``, Basic elsewhere, or ``restauth token create``."""
SESSION_KINDS: tuple[SessionKind, ...] = ("login", "basic", "service")
_URLSAFE = bytes.maketrans(b"+/", b"-_")


@dataclass(slots=True)
class TokenGrant:
    """A live token and what the middleware needs to know about it.

    ``stamp`` is the user's credential stamp when the session began; ``valid_until``
    is the earlier of the idle deadline and the absolute one (epoch seconds);
    ``session`` is the session's public id. A manager builds one per token request and
    nobody changes it afterwards; it is not frozen because a frozen dataclass costs
    about 0.15 µs more per field to build.
    """

    token: str
    userid: str
    stamp: str
    created: float
    valid_until: float
    session: str

    def __repr__(self) -> str:
        return (
            f"TokenGrant(userid={self.userid!r}, session={self.session!r}, token=<hidden>, "
            f"created={self.created}, valid_until={self.valid_until})"
        )


@dataclass(frozen=True, slots=True)
class Session:
    """One live session as the endpoints and the CLI show it: never its token.

    ``last_used`` is when the idle deadline last moved (renewal is coarse, see
    :func:`renewal_step`, so it may lag the last request by up to one step).
    ``stamp`` is the user's credential stamp when it began: the endpoints list only the
    sessions of the user's current stamp (the others can no longer be used).
    """

    id: str
    userid: str
    kind: SessionKind
    client: str
    created: float
    last_used: float
    valid_until: float
    stamp: str  # the credential stamp it began under: a session of an older one is dead


@dataclass(frozen=True, slots=True)
class DeadToken:
    """A genuine token whose session is over: for the audit record, never let in.

    A manager returns it instead of ``None`` when it still knows whose the token was
    (``reason`` is ``"expired"`` or ``"ended"``: logged out, evicted, rotated away).
    """

    userid: str
    session: str
    reason: Literal["expired", "ended"]


@runtime_checkable
class TokenManager(Protocol):
    """Sessions and their tokens: start, check (and renew), rotate, list and end them.

    Every method may raise :class:`restauth.StoreUnavailable` (the request is answered
    503, never let in). Expiry is judged by the manager's ``clock()``: ``ttl`` is an idle
    timeout renewed on use (coarsely: see :func:`renewal_step`), ``max_lifetime`` an
    absolute cap since the session began. ``max_sessions`` caps a user's login and basic
    sessions: starting one more ends the oldest (service tokens do not count).

    Optional members, each a protocol of its own, read once when the middleware is built
    (never per request):

    - ``max_token_length`` (:class:`LimitsTokenLength`): the longest token worth trying
      when a Basic password may be a token (default 256; a JWT is longer).
    - ``throttle_store()`` (:class:`restauth.throttle.policy.SharesThrottleCounters`):
      failure counters beside the tokens (a SQLite file, a Redis), so every process and
      node sharing them throttles together. Preferred over the user store's.
    - ``close()`` (:class:`restauth._storage.Closeable`): release connections; the CLI
      calls it when a command is done.
    """

    ttl: float
    max_lifetime: float
    max_sessions: int

    def issue(
        self,
        userid: str,
        stamp: str,
        *,
        kind: SessionKind = "login",
        client: str = "",
        lifetime: float | None = None,
    ) -> TokenGrant:
        """Start a session and return its token.

        ``kind="basic"`` returns the user's basic session instead while it is alive under
        ``stamp`` (renewed), and starts it otherwise. ``lifetime`` (service tokens) is the
        session's own idle timeout and absolute cap, in place of ``ttl`` and
        ``max_lifetime``. ``client`` is a label, cleaned by :func:`client_label`.
        """
        ...

    def authenticate(self, token: str) -> TokenGrant | DeadToken | None:
        """Check a presented token; renew it if due and return it. ``None`` when the
        token is not one of this manager's; :class:`DeadToken` when it was, but its
        session is over (a manager may also answer ``None`` then)."""
        ...

    def renew(self, token: str) -> TokenGrant | None:
        """Rotate: a new token for the presented token's live session (same id, created
        and client); the presented token ends at once. ``None`` if it is not live."""
        ...

    def sessions(self, userid: str) -> list[Session]:
        """The user's live sessions, oldest first (read by the endpoints and the CLI only)."""
        ...

    def end(self, userid: str, session: str) -> bool:
        """End one of the user's sessions everywhere at once; ``True`` if it was live."""
        ...

    def revoke(self, userid: str) -> int:
        """End every session of the user everywhere at once; how many were live."""
        ...


class TokenCodec:
    """Mint ``id.mac`` tokens and recover the id from a presented one in constant time."""

    __slots__ = ("_keyed",)

    def __init__(self, secret_key: bytes | str | None = None) -> None:
        if secret_key is None:
            secret_key = secrets.token_bytes(32)
        key = secret_key.encode("utf-8") if isinstance(secret_key, str) else bytes(secret_key)
        if len(key) < 16:
            raise ValueError("secret_key must be at least 16 bytes")
        # Keyed once; each MAC copies it, so no request pays for the key schedule again.
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def new_id(self) -> str:
        return secrets.token_urlsafe(ID_BYTES)

    @staticmethod
    def new_session_id() -> str:
        """Hex: it goes in URLs and on command lines, where a leading ``-`` would read as
        an option."""
        return secrets.token_hex(SESSION_ID_BYTES)

    def token_for(self, token_id: str) -> str:
        return f"{token_id}.{self._mac(token_id)}"

    def id_of(self, token: str) -> str | None:
        """The id inside a genuine token, or ``None`` (wrong shape or a MAC that fails)."""
        token_id, dot, mac = token.partition(".")
        if not dot or not token_id or not token.isascii():
            return None
        if not hmac.compare_digest(mac, self._mac(token_id)):
            return None
        return token_id

    def _mac(self, token_id: str) -> str:
        """``HMAC-SHA256(key, id)``, unpadded base64url."""
        mac = self._keyed.copy()
        mac.update(token_id.encode("ascii", "replace"))
        encoded = b2a_base64(mac.digest(), newline=False).translate(_URLSAFE)
        return encoded[:-1].decode("ascii")  # 43 characters: the one "=" dropped


DEFAULT_MAX_TOKEN_LENGTH = 256


class AsyncTokenReader(Protocol):
    """A token manager's Token check through an async client, for one event loop (see
    :mod:`restauth.lookups`); raises :class:`~restauth.errors.StoreUnavailable` as the
    manager does."""

    async def authenticate(self, token: str) -> TokenGrant | DeadToken | None:
        """What the manager's own ``authenticate`` answers, renewal included."""
        ...

    async def aclose(self) -> None:
        """Close the reader's connections."""
        ...


@runtime_checkable
class AsyncTokenReads(Protocol):
    """A token manager that can check tokens through an async client."""

    def async_token_reader(self) -> AsyncTokenReader | None:
        """A reader for the running event loop, made without I/O; ``None`` when this
        manager cannot make one (its checks then run in a thread)."""
        ...


@runtime_checkable
class LimitsTokenLength(Protocol):
    """An optional member of a :class:`TokenManager`: how long its tokens may be.

    A Basic password is tried as a token (token-as-password) only when it looks like one
    and is at most ``max_token_length`` characters (256 without this member): enough
    for ``id.mac`` tokens, too short for a JWT. Read once, when the middleware is built.
    """

    @property
    def max_token_length(self) -> int: ...


def looks_like_token(value: str, max_length: int = DEFAULT_MAX_TOKEN_LENGTH) -> bool:
    """Cheap shape test before a Basic password is tried as a token."""
    return "." in value and len(value) <= max_length


def renewal_step(ttl: float) -> float:
    """How far an idle deadline must move before it is written: max(1 % of ``ttl``, 1 s).

    Renewing on every use would make every token request a write (a SQL ``UPDATE``, a
    Redis ``SET``); with this step most are reads, as knox's ``MIN_REFRESH_INTERVAL``
    does. A token may then expire up to one step before ``now + ttl``; what the client is
    told (``Auth-Token-Valid-Until``) is always the deadline actually stored.
    """
    return max(ttl / 100.0, 1.0)


def renewed_deadline(stored: float, now: float, ttl: float) -> float | None:
    """The idle deadline to write on a use at ``now``, or ``None`` when ``stored`` is within
    :func:`renewal_step` of it (keep it; no write)."""
    wanted = now + ttl
    return wanted if wanted - stored > renewal_step(ttl) else None


SECRET_KEY_ENV = "RESTAUTH_SECRET_KEY"


def persistent_secret_key(secret_key: bytes | str | None, manager: str) -> bytes | str:
    """The key a persistent manager signs tokens with: given, or from ``RESTAUTH_SECRET_KEY``.

    A persistent store keeps only token ids; without the same key on every node (and
    after a restart) no stored token could be checked, and a random per-process key
    would silently log everybody out. So a missing key is an error, not a default.
    """
    if secret_key is None:
        secret_key = os.environ.get(SECRET_KEY_ENV) or None
    if secret_key is None:
        raise MissingSecretKey(
            f"{manager} needs a secret key: pass secret_key= or set {SECRET_KEY_ENV} "
            "(at least 16 bytes, the same on every node; e.g. python -c "
            "'import secrets; print(secrets.token_urlsafe(32))'). The store keeps only "
            "token ids; the key turns an id into a token, so a dump of the store alone "
            "cannot be replayed."
        )
    return secret_key


_BIDI_CONTROLS = dict.fromkeys(
    map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)


def client_label(value: str | None) -> str:
    """A session's client label: control characters and bidirectional-text controls (which
    could make a listing read otherwise than it is) dropped, cut at
    :data:`MAX_CLIENT_LABEL` characters (from a login body's ``client`` or a User-Agent)."""
    if not value:
        return ""
    kept = without_refused_characters(value).translate(_BIDI_CONTROLS)
    return kept.strip()[:MAX_CLIENT_LABEL]


def check_kind(kind: str) -> SessionKind:
    """``kind`` as a :data:`SessionKind`, or ``ValueError`` (every manager refuses others)."""
    for known in SESSION_KINDS:
        if kind == known:
            return known
    raise ValueError(f"kind must be one of {', '.join(SESSION_KINDS)}, not {kind!r}")


def check_max_sessions(value: int) -> int:
    """``max_sessions`` as given, if it is a whole number of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("max_sessions must be a whole number of at least 1")
    return value
