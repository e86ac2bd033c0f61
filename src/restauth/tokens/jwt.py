"""Signed JWT tokens (extra ``restauth[jwt]``): any node holding the key verifies them.

A token is a JWT (RFC 7519) signed by PyJWT with one :class:`JWTKey`, whose algorithm is
pinned: HS256 (a shared secret), RS256, ES256 (P-256) or EdDSA (Ed25519). Header
``typ`` is ``restauth+jwt`` and ``kid`` names the key. Claims: ``iss``, ``sub`` (the
userid), ``iat`` (when this JWT was signed), ``exp`` (its idle deadline), ``auth_time``
(the login), ``max_exp`` (login + ``max_lifetime``: the absolute cap travels in the
token), ``jti`` and ``stamp`` (the user's credential stamp at login; a short digest of
the password hash that reveals nothing without the hash itself).

**Sliding TTL.** A JWT cannot be extended in place, so a token that is used when more
than half of its idle life (``ttl``) has passed, or that an old key signed, is answered
with a freshly signed one carrying the same ``auth_time``, ``max_exp`` and ``stamp`` and a
new ``exp`` (never past ``max_exp``). The middleware sends it in the ``Auth-Token``
header as usual; a client that keeps the latest ``Auth-Token`` it sees (as the contract
asks) stays logged in while active. The older token stays valid until its own ``exp``.

**Revocation.** ``revoke(userid)`` records a per-user "not before" instant in a
:class:`~restauth.tokens.revocation.RevocationStore`; every token whose ``auth_time`` is not
later is dead on every node that shares the store. The instant is ``now + skew``: a
token signed on a node whose clock runs up to ``skew`` seconds ahead still dies, and a
login right after a logout gets an ``auth_time`` just past the record.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import math
import re
import secrets
import time
from base64 import urlsafe_b64decode, urlsafe_b64encode
from collections.abc import Iterable
from typing import Any, NamedTuple

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from restauth._time import Clock, Duration, as_seconds
from restauth.throttle.policy import ThrottleStore, shared_store
from restauth.tokens.base import (
    DEFAULT_MAX_LIFETIME,
    DEFAULT_TTL,
    TokenGrant,
)
from restauth.tokens.revocation import HasHorizon, MemoryRevocation, RevocationStore

TOKEN_TYPE = "restauth+jwt"
MAX_TOKEN_SIZE = 4096  # checked before any decoding; restauth's own tokens are ~400-700 bytes
MIN_SECRET_BYTES = 32  # HS256 secret: 256 bits (RFC 7518 §3.2)
MIN_RSA_BITS = 2048
FUTURE_TOLERANCE = 60.0  # a token signed "later" than now: another node's clock is ahead
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256", "EdDSA")
_CLAIMS = ["iss", "sub", "iat", "exp", "auth_time", "max_exp", "jti", "stamp"]

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
_THUMBPRINT_MEMBERS = {
    "RSA": ("e", "kty", "n"),
    "EC": ("crv", "kty", "x", "y"),
    "OKP": ("crv", "kty", "x"),
}


class JWTKey:
    """One signing or verification key with its algorithm pinned; ``kid`` names it.

    ``key`` is an HS256 secret (``str``/``bytes``, 32 bytes or more), a PEM
    (``-----BEGIN ...``; a private key signs, a public key only verifies), or a
    ``cryptography`` RSA (2048 bits or more), EC P-256 or Ed25519 key object. ``alg``
    may be given to state the expectation; it must match the key. ``kid`` defaults to
    the RFC 7638 thumbprint for asymmetric keys and to an HMAC of a fixed label under
    the secret for HS256 (so it reveals nothing about the secret).
    """

    __slots__ = ("_signing", "_verifying", "alg", "kid", "public_key")

    def __init__(
        self,
        key: str | bytes | PrivateKey | PublicKey,
        *,
        alg: str | None = None,
        kid: str | None = None,
        password: bytes | None = None,
    ) -> None:
        if isinstance(key, str | bytes) and _is_pem(key):
            key = _load_pem(key, password)
        self.public_key: PublicKey | None
        if isinstance(key, str | bytes):
            secret = key.encode("utf-8") if isinstance(key, str) else bytes(key)
            if len(secret) < MIN_SECRET_BYTES:
                raise ValueError(f"an HS256 secret must be at least {MIN_SECRET_BYTES} bytes")
            self._expect(alg, "HS256")
            self.alg = "HS256"
            self._signing: Any = secret
            self._verifying: Any = secret
            self.public_key = None
            label = hmac.digest(secret, b"restauth jwt kid", "sha256")
            self.kid = kid or "hs-" + _b64(label)[:16]
            return
        if isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
            public: PublicKey = key.public_key()
            self._signing = key
        elif isinstance(key, ed25519.Ed25519PrivateKey):
            public = key.public_key()
            self._signing = key
        elif isinstance(
            key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
        ):
            public = key
            self._signing = None
        else:
            raise TypeError("expected a secret, a PEM, or an RSA, EC P-256 or Ed25519 key")
        self.alg = self._expect(alg, _algorithm_of(public))
        self.public_key = public
        self._verifying = public
        self.kid = kid or thumbprint(public)

    @staticmethod
    def _expect(given: str | None, actual: str) -> str:
        if given is not None and given != actual:
            raise ValueError(f"this key is for {actual}, not {given}")
        return actual

    @property
    def can_sign(self) -> bool:
        return self._signing is not None

    def sign(self, claims: dict[str, Any]) -> str:
        if self._signing is None:
            raise ValueError(f"key {self.kid!r} is a public key: it verifies, it cannot sign")
        headers = {"kid": self.kid, "typ": TOKEN_TYPE}
        return jwt.encode(claims, self._signing, algorithm=self.alg, headers=headers)

    def decode(self, token: str, **options: Any) -> dict[str, Any]:
        """PyJWT's checks with this key and only this key's algorithm."""
        claims: dict[str, Any] = jwt.decode(
            token, self._verifying, algorithms=[self.alg], **options
        )
        return claims

    def public_jwk(self) -> dict[str, str]:
        """The public key as a JWK (``kid``, ``alg``, ``use``), e.g. to publish in a JWKS."""
        if self.public_key is None:
            raise ValueError("an HS256 secret has no public form")
        return {**_jwk_of(self.public_key), "kid": self.kid, "alg": self.alg, "use": "sig"}

    def __repr__(self) -> str:
        return f"JWTKey(alg={self.alg!r}, kid={self.kid!r}, can_sign={self.can_sign})"


def thumbprint(public: PublicKey) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url) of a public key."""
    jwk = _jwk_of(public)
    members = {name: jwk[name] for name in _THUMBPRINT_MEMBERS[jwk["kty"]]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode("utf-8")).digest())


def _jwk_of(public: PublicKey) -> dict[str, str]:
    jwk: dict[str, str]
    if isinstance(public, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    return {k: v for k, v in jwk.items() if k in ("kty", "crv", "n", "e", "x", "y")}


def _algorithm_of(public: PublicKey) -> str:
    if isinstance(public, rsa.RSAPublicKey):
        if public.key_size < MIN_RSA_BITS:
            raise ValueError(f"an RSA key must have at least {MIN_RSA_BITS} bits")
        return "RS256"
    if isinstance(public, ec.EllipticCurvePublicKey):
        if not isinstance(public.curve, ec.SECP256R1):
            raise ValueError("only EC keys on P-256 (ES256) are supported")
        return "ES256"
    return "EdDSA"


def _is_pem(key: str | bytes) -> bool:
    if isinstance(key, bytes):
        return key[:64].lstrip().startswith(b"-----BEGIN")
    return key[:64].lstrip().startswith("-----BEGIN")


def _load_pem(key: str | bytes, password: bytes | None) -> Any:
    data = key.encode("ascii") if isinstance(key, str) else key
    if b"PRIVATE KEY" in data.split(b"\n", 1)[0]:
        return serialization.load_pem_private_key(data, password=password)
    return serialization.load_pem_public_key(data)


def _b64(data: bytes) -> str:
    return urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# Canonical base64url (RFC 7515 §2, RFC 4648 §5): the URL-safe alphabet, no padding, and a
# segment of 4n + 2 or 4n + 3 characters ends in a character whose 4 or 2 unused low bits are
# zero. Exactly the strings that encoding their own decoded bytes gives back.
_JWS_ALPHABET = re.compile(r"[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*")
_ZERO_TAIL = ("", "", "AQgw", "AEIMQUYcgkosw048")  # by len(segment) % 4; 1 is never valid


def is_canonical_jws(token: str) -> bool:
    """Whether ``token`` is three dot-separated segments, each canonical base64url.

    PyJWT accepts ``=`` padding (and, before 2.14, other non-canonical forms), so one
    signed token could be sent in many spellings; restauth accepts exactly one. About
    1 µs for a 400-character token (a regular expression and three length checks).
    """
    if _JWS_ALPHABET.fullmatch(token) is None:
        return False
    for segment in token.split("."):
        extra = len(segment) % 4
        if extra == 1 or (extra and segment[-1] not in _ZERO_TAIL[extra]):
            return False
    return True


def jws_header(token: str) -> dict[str, Any] | None:
    """The unverified header of a token restauth will go on to verify, or ``None``.

    ``None`` when any segment is not canonical base64url, or when the header has a
    ``crit`` member at all: restauth understands no JWS extension (RFC 7515 §4.1.11 says
    to refuse a token whose ``crit`` names one), whatever the installed PyJWT knows.
    """
    if not is_canonical_jws(token):
        return None
    header = unverified_part(token, 0)
    return None if header is None or "crit" in header else header


def unverified_part(token: str, index: int) -> dict[str, Any] | None:
    """The JSON object in segment ``index`` (0 header, 1 claims) of a JWT, NOT verified.

    Only for routing (which key, which provider); PyJWT verifies everything afterwards.
    Cheaper than PyJWT's own unverified decode, which parses every segment.
    """
    parts = token.split(".")
    if len(parts) != 3 or not parts[index].isascii():
        return None
    segment = parts[index]
    try:
        value = json.loads(urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


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

    def stale(self, now: float) -> bool:
        """A deadline passed, or signed (or usable only) too far in the future."""
        return (
            now >= self.exp
            or now >= self.max_exp
            or max(self.iat, self.nbf) > now + FUTURE_TOLERANCE
        )


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
    return _Claims(userid, stamp, iat, exp, auth_time, max_exp, nbf)


class JWTTokenManager:
    """A :class:`~restauth.TokenManager` whose tokens are JWTs signed with ``key``.

    ``old_keys`` still verify (key rotation: a token they signed is renewed under
    ``key`` at its next use). ``revocation`` holds the per-user "not before" records
    (default: a :class:`~restauth.tokens.revocation.MemoryRevocation`, one process only;
    share a SQLite or Redis one between nodes). Expiry is judged by ``clock()``.

    Unlike the stored managers, there is no "current token" per user: each login signs a
    new one, and :meth:`lookup` always answers ``None``.
    """

    def __init__(
        self,
        key: JWTKey,
        *,
        old_keys: Iterable[JWTKey] = (),
        ttl: Duration = DEFAULT_TTL,
        max_lifetime: Duration = DEFAULT_MAX_LIFETIME,
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

    def issue(self, userid: str, stamp: str) -> TokenGrant:
        """A new token (one round trip to the revocation store, to start after any record).

        ``auth_time`` is kept exact (never rounded): a login any time after a revocation
        instant outlives it, and one at or before that instant starts just past it.
        """
        now = self.clock()
        revoked = self.revocation.not_before(userid)
        auth_time = now if revoked is None or now > revoked else math.nextafter(revoked, math.inf)
        return self._mint(userid, stamp, auth_time, now + self.max_lifetime, now)

    def authenticate(self, token: str) -> TokenGrant | None:
        if len(token) > self.max_token_size:
            return None
        verified = self._verified_claims(token)
        if verified is None:
            return None
        key, raw = verified
        claims = _typed_claims(raw)
        if claims is None:
            return None
        now = self.clock()
        if claims.stale(now) or self._revoked(claims):
            return None
        past_half = now - claims.iat >= self.ttl / 2 and claims.exp < claims.max_exp
        if past_half or key is not self.key:  # slide the idle deadline; move off an old key
            return self._mint(claims.userid, claims.stamp, claims.auth_time, claims.max_exp, now)
        valid_until = min(claims.exp, claims.max_exp)
        return TokenGrant(token, claims.userid, claims.stamp, claims.auth_time, valid_until)

    def lookup(self, userid: str) -> TokenGrant | None:
        """Always ``None``: nothing stores a user's tokens (they live in the clients)."""
        return None

    def revoke(self, userid: str) -> bool:
        """Kill every token of the user signed until now, on every node sharing the store."""
        now = self.clock()
        self.revocation.revoke(userid, now + self.skew, now - self.max_lifetime)
        return True

    def throttle_store(self) -> ThrottleStore | None:
        """Failure counters beside the revocation records (a SQLite file, a Redis), so
        every process and node sharing them throttles together; ``None`` in memory."""
        return shared_store(self.revocation)

    def close(self) -> None:
        self.revocation.close()

    def __repr__(self) -> str:
        return f"JWTTokenManager(key={self.key!r}, issuer={self.issuer!r}, ttl={self.ttl})"

    def _mint(
        self, userid: str, stamp: str, auth_time: float, max_exp: float, now: float
    ) -> TokenGrant:
        exp = round(min(now + self.ttl, max_exp), 3)
        claims = {
            "iss": self.issuer,
            "sub": userid,
            "iat": round(now, 3),
            "exp": exp,
            "auth_time": auth_time,
            "max_exp": round(max_exp, 3),
            "jti": secrets.token_urlsafe(16),
            "stamp": stamp,
        }
        token = self.key.sign(claims)
        return TokenGrant(token, userid, stamp, auth_time, exp)

    def _revoked(self, claims: _Claims) -> bool:
        """Signed in at or before the user's "not before" record (one store round trip)."""
        revoked = self.revocation.not_before(claims.userid)
        return revoked is not None and claims.auth_time <= revoked

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
