"""Password hashing with bcrypt, without its 72-byte trap.

bcrypt reads at most 72 bytes; bcrypt 4 silently truncated longer passwords and
bcrypt 5 raises. restauth hashes ``base64(SHA-256(password))`` (44 ASCII bytes, no
NUL) instead, under a versioned prefix, so a password of any length is verified
whole and no input can raise. Plain ``$2b$`` hashes made elsewhere (for example by
``htpasswd -B``) are still accepted, but only for passwords of at most 72 bytes:
a longer one never matches them, it is never truncated.
"""

from __future__ import annotations

import base64
import hashlib
import threading

import bcrypt

from restauth.credentials import has_refused_character, normalize

PREHASH_PREFIX = "$restauth-bcrypt-sha256$v1$"
MAX_PASSWORD_LENGTH = 1024  # characters; enough for any passphrase, bounds the work
BCRYPT_MAX_BYTES = 72


def _prehash(password: str) -> bytes:
    digest = hashlib.sha256(password.encode("utf-8")).digest()
    return base64.b64encode(digest)


class PasswordHasher:
    """Hash and verify passwords; ``rounds`` is bcrypt's cost (12 by default, >= 10 in production).

    ``verify`` against ``None`` (an unknown user) spends one bcrypt check on a dummy
    hash of the same cost, so the answer takes as long as for a wrong password.
    """

    def __init__(self, rounds: int = 12) -> None:
        if not 4 <= rounds <= 31:
            raise ValueError("bcrypt rounds must be between 4 and 31")
        self.rounds = rounds
        self._dummy: bytes | None = None
        self._lock = threading.Lock()

    def hash(self, password: str) -> str:
        """Return a storable hash of ``password`` (after NFC normalisation)."""
        check_password(password)
        hashed = bcrypt.hashpw(_prehash(normalize(password)), bcrypt.gensalt(self.rounds))
        return PREHASH_PREFIX + hashed.decode("ascii")

    def verify(self, password: str, stored: str | None) -> bool:
        """True when ``password`` matches ``stored``; always costs one bcrypt check."""
        secret, hashed = self._material(normalize(password), stored)
        if hashed is None:
            bcrypt.checkpw(secret, self._dummy_hash())
            return False
        try:
            return bcrypt.checkpw(secret, hashed)
        except ValueError:  # a corrupt stored hash: never a match, never a crash
            return False

    def _material(self, password: str, stored: str | None) -> tuple[bytes, bytes | None]:
        if not _encodable(password):  # a lone surrogate (JSON "\ud800"): never enrolled
            return _prehash(""), None  # still one bcrypt check, on the dummy hash
        if stored is None or len(password) > MAX_PASSWORD_LENGTH:
            return _prehash(password), None
        if stored.startswith(PREHASH_PREFIX):
            return _prehash(password), stored[len(PREHASH_PREFIX) :].encode("ascii", "replace")
        raw = password.encode("utf-8")
        if len(raw) > BCRYPT_MAX_BYTES or "\x00" in password:
            return _prehash(password), None  # cannot match a plain bcrypt hash
        return raw, stored.encode("ascii", "replace")

    def _dummy_hash(self) -> bytes:
        if self._dummy is None:
            with self._lock:
                if self._dummy is None:
                    self._dummy = bcrypt.hashpw(b"restauth-dummy", bcrypt.gensalt(self.rounds))
        return self._dummy


def _encodable(text: str) -> bool:
    """False for text with a lone surrogate, which UTF-8 (and so bcrypt) cannot carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_password(password: str) -> None:
    """Refuse, at enrolment, a password restauth would not accept at login."""
    if not isinstance(password, str):
        raise TypeError("password must be a str")
    if not password:
        raise ValueError("password must not be empty")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    if not _encodable(password):
        raise ValueError("password must not contain lone surrogates (it must be valid UTF-8)")
    if has_refused_character(password):  # C0, DEL and C1: login refuses them all
        raise ValueError("password must not contain control characters (RFC 7617)")
