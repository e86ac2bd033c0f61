"""JWT keys and the JWS helpers restauth's tokens and identity providers share (the ``jwt``
extra): one :class:`JWTKey` per signing or verification key, its algorithm pinned, and
the strict parsing every presented JWT goes through before PyJWT verifies it.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import re
from base64 import urlsafe_b64decode, urlsafe_b64encode
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

TOKEN_TYPE = "restauth+jwt"
MIN_SECRET_BYTES = 32  # HS256 secret: 256 bits (RFC 7518 §3.2)
MIN_RSA_BITS = 2048
ASYMMETRIC_ALGORITHMS = ("RS256", "ES256", "EdDSA")

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
