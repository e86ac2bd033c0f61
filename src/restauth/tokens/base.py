"""The token manager protocol and the token format every manager shares.

A token is ``<id>.<mac>``: ``id`` is 128 random bits from :mod:`secrets`, ``mac`` is
``HMAC-SHA256(secret_key, id)``. A store keeps only the id, so a dump of the store
cannot be replayed without the key, yet the manager can hand a user their *current*
token again (the contract reuses one token per user while it is valid).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from binascii import b2a_base64
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from restauth.errors import MissingSecretKey as MissingSecretKey  # its old home: importable here

DEFAULT_TTL = 15 * 60.0
DEFAULT_MAX_LIFETIME = 12 * 3600.0
ID_BYTES = 16  # 128 bits (ASVS 5.0 7.2.3)
_URLSAFE = bytes.maketrans(b"+/", b"-_")


@dataclass(slots=True)
class TokenGrant:
    """A live token and what the middleware needs to know about it.

    ``stamp`` is the user's credential stamp when the token was issued; ``valid_until``
    is the earlier of the idle deadline and the absolute one (epoch seconds). A manager
    builds one per token request and nobody changes it afterwards; it is not frozen
    because a frozen dataclass costs about 0.15 µs more per field to build.
    """

    token: str
    userid: str
    stamp: str
    created: float
    valid_until: float

    def __repr__(self) -> str:
        return (
            f"TokenGrant(userid={self.userid!r}, token=<hidden>, created={self.created}, "
            f"valid_until={self.valid_until})"
        )


@runtime_checkable
class TokenManager(Protocol):
    """Issue, check (and renew), look up and revoke tokens; one current token per user.

    Every method may raise :class:`restauth.StoreUnavailable` (the request is answered
    503, never let in). Expiry is judged by the manager's ``clock()``: ``ttl`` is an idle
    timeout renewed on use (coarsely: see :func:`renewal_step`), ``max_lifetime`` an
    absolute cap since issue.

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

    def issue(self, userid: str, stamp: str) -> TokenGrant:
        """The user's current token if valid under ``stamp`` (renewed), else a new one."""
        ...

    def authenticate(self, token: str) -> TokenGrant | None:
        """Check a presented token; renew it if due and return it, or ``None`` if
        unknown/expired/revoked."""
        ...

    def lookup(self, userid: str) -> TokenGrant | None:
        """The user's current valid token, without renewing it."""
        ...

    def revoke(self, userid: str) -> bool:
        """Kill the user's token everywhere at once; ``True`` if there was one."""
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
