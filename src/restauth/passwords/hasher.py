"""Password hashing: bcrypt (default) or Argon2id, verified whole, upgraded on login.

bcrypt reads at most 72 bytes; bcrypt 4 silently truncated longer passwords and
bcrypt 5 raises. restauth gives bcrypt a 44-byte pre-hash (ASCII, no NUL) instead,
under a versioned prefix, so a password of any length is verified whole and no
input can raise:

- v2 (every new hash): ``base64(HMAC-SHA256(key=bcrypt salt, password))``. The key
  is the hash's own ``$2b$<cost>$<salt>`` prefix, so an unsalted SHA-256 of the same
  password leaked elsewhere cannot be tested against it ("password shucking").
- v1 (still verified, replaced on the next login): ``base64(SHA-256(password))``.

Plain ``$2b$`` hashes made elsewhere (for example by ``htpasswd -B``) are still
accepted, but only for passwords of at most 72 bytes: a longer one never matches
them, it is never truncated. Argon2id (``scheme="argon2id"``, the ``argon2`` extra)
has no such limit and takes the password itself. :meth:`PasswordHasher.needs_rehash`
says when a stored hash is weaker than what :meth:`PasswordHasher.hash` makes now.

Django's ``pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`` hashes (its default
``PBKDF2PasswordHasher``) are verified too, so a Django site's users can be imported
as they are; they always need a rehash, so the first successful login replaces each
with restauth's own. Two differences from Django: restauth NFC-normalises a password
before checking it and Django does not, so a Django password typed in decomposed form
(``e`` + combining accent, rare outside some macOS input methods) no longer matches
until it is reset; and a hash of more than :data:`MAX_PBKDF2_ITERATIONS` iterations is
unreadable (:attr:`Check.CORRUPT`), so a hostile import cannot make one login cost
minutes (Django 5.2 uses 1,000,000; 10,000,000 take a few seconds).
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import re
import threading
from typing import TYPE_CHECKING

import bcrypt

from restauth._text import has_refused_character, normalize

if TYPE_CHECKING:
    import argon2

V1_PREFIX = "$restauth-bcrypt-sha256$v1$"  # bcrypt(base64(SHA-256(password)))
V2_PREFIX = "$restauth-bcrypt-sha256$v2$"  # bcrypt(base64(HMAC-SHA256(salt, password)))
PREHASH_PREFIX = V2_PREFIX  # the prefix of the bcrypt hashes restauth makes now
SCHEMES = ("bcrypt", "argon2id")
MAX_PASSWORD_LENGTH = 1024  # characters; enough for any passphrase, bounds the work
BCRYPT_MAX_BYTES = 72
_SALT_LENGTH = 29  # "$2b$12$" and 22 salt characters
_DUMMY = "restauth-dummy"
DJANGO_PBKDF2_PREFIX = "pbkdf2_sha256$"
MAX_PBKDF2_ITERATIONS = 10_000_000  # about 2.5 s of one core; Django 5.2 uses 1,000,000

_BCRYPT_SHAPE = r"\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}"
_ARGON2_SHAPE = r"\$argon2(?:id|i|d)\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+"
# Django: base64 of a 32-byte PBKDF2-HMAC-SHA256; a salt of printable ASCII without "$"
# (Django makes 22 alphanumerics; older versions 12).
_PBKDF2_SHAPE = re.compile(
    re.escape(DJANGO_PBKDF2_PREFIX)
    + r"(?P<iterations>[1-9][0-9]{0,8})\$(?P<salt>[!-#%-~]{1,128})\$(?P<hash>[A-Za-z0-9+/]{43}=)"
)
_HASH_SHAPE = re.compile(
    f"(?:{re.escape(V1_PREFIX)}|{re.escape(V2_PREFIX)})?{_BCRYPT_SHAPE}|{_ARGON2_SHAPE}"
)


class Check(enum.Enum):
    """What :meth:`PasswordHasher.check` found."""

    MATCH = "match"
    MISMATCH = "mismatch"
    CORRUPT = "corrupt"  # the stored hash cannot be read: never a match, worth an alert


def looks_like_hash(text: str) -> bool:
    """True for a well-formed hash restauth can verify (configuration files and imports
    check with it): bcrypt, Argon2, restauth's own, or Django's ``pbkdf2_sha256`` with at
    most :data:`MAX_PBKDF2_ITERATIONS` iterations."""
    return _HASH_SHAPE.fullmatch(text) is not None or _django_pbkdf2(text) is not None


def _django_pbkdf2(stored: str) -> tuple[int, bytes, bytes] | None:
    """A Django ``pbkdf2_sha256`` hash's iterations, salt and digest; ``None`` for
    anything else, or for more iterations than :data:`MAX_PBKDF2_ITERATIONS`."""
    found = _PBKDF2_SHAPE.fullmatch(stored)
    if found is None:
        return None
    iterations = int(found["iterations"])
    if iterations > MAX_PBKDF2_ITERATIONS:
        return None
    digest = base64.b64decode(found["hash"], validate=True)
    return iterations, found["salt"].encode("ascii"), digest


def _verify_django_pbkdf2(password: str, parsed: tuple[int, bytes, bytes]) -> bool:
    """Django's ``PBKDF2PasswordHasher.verify``: the UTF-8 password, the salt as stored."""
    iterations, salt, expected = parsed
    found = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return hmac.compare_digest(found, expected)


def _sha256(password: str) -> bytes:
    """v1's pre-hash: unkeyed, so only verified, never made any more."""
    return base64.b64encode(hashlib.sha256(password.encode("utf-8")).digest())


def _hmac_sha256(password: str, bcrypt_hash: bytes) -> bytes:
    """v2's pre-hash, keyed with the salt (and cost) at the start of the bcrypt hash."""
    key = bcrypt_hash[:_SALT_LENGTH]
    return base64.b64encode(hmac.new(key, password.encode("utf-8"), hashlib.sha256).digest())


def _argon2_hasher() -> argon2.PasswordHasher:
    """argon2-cffi's defaults: RFC 9106's low-memory profile (m=64 MiB, t=3, p=4), above
    OWASP's minimum (m=19 MiB, t=2, p=1)."""
    try:
        import argon2
    except ImportError:
        raise ImportError(
            "Argon2id password hashes need the argon2 extra: pip install 'restauth[argon2]'"
        ) from None
    return argon2.PasswordHasher()


def _weaker_argon2(stored: str, hasher: argon2.PasswordHasher) -> bool:
    """Less memory, fewer passes or an older version than ``hasher`` uses now. (argon2-cffi's
    ``check_needs_rehash`` flags any difference, and would weaken a stronger hash.)"""
    import argon2

    try:
        found = argon2.extract_parameters(stored)
    except argon2.exceptions.InvalidHashError:
        return True
    return (
        found.memory_cost < hasher.memory_cost
        or found.time_cost < hasher.time_cost
        or found.hash_len < hasher.hash_len
        or found.version < argon2.low_level.ARGON2_VERSION
    )


class PasswordHasher:
    """Hash and verify passwords with ``scheme`` (``"bcrypt"`` or ``"argon2id"``).

    ``rounds`` is bcrypt's cost (12 by default, >= 10 in production). Hashes of either
    scheme, and v1 and plain bcrypt hashes, verify whatever the scheme; new hashes use
    the scheme. ``verify`` against ``None`` (an unknown user) spends one check of the
    scheme on a dummy hash of the same cost, so the answer takes as long as for a
    wrong password.
    """

    def __init__(self, rounds: int = 12, *, scheme: str = "bcrypt") -> None:
        if not 4 <= rounds <= 31:
            raise ValueError("bcrypt rounds must be between 4 and 31")
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {', '.join(SCHEMES)}, not {scheme!r}")
        self.rounds = rounds
        self.scheme = scheme
        self._argon2 = _argon2_hasher() if scheme == "argon2id" else None
        self._argon2_verifier = self._argon2  # with bcrypt: made when an Argon2 hash turns up
        self._dummy: str | None = None
        self._lock = threading.Lock()

    def hash(self, password: str) -> str:
        """Return a storable hash of ``password`` (after NFC normalisation)."""
        check_password(password)
        password = normalize(password)
        if self._argon2 is not None:
            return self._argon2.hash(password)
        salt = bcrypt.gensalt(self.rounds)
        return V2_PREFIX + bcrypt.hashpw(_hmac_sha256(password, salt), salt).decode("ascii")

    def verify(self, password: str, stored: str | None) -> bool:
        """True when ``password`` matches ``stored``; always costs one hash check."""
        return self.check(password, stored) is Check.MATCH

    def check(self, password: str, stored: str | None) -> Check:
        """Like :meth:`verify`, but tells a corrupt stored hash from a wrong password."""
        password = normalize(password)
        if stored is None:
            self._dummy_check()
            return Check.MISMATCH
        try:
            matched = self._check(password, stored)
        except ValueError:  # bcrypt, or argon2-cffi's InvalidHashError: unreadable
            matched = None
        if matched is None:
            self._dummy_check()  # still one hash check
            return Check.CORRUPT
        return Check.MATCH if matched else Check.MISMATCH

    def _check(self, password: str, stored: str) -> bool | None:
        """The verdict; ``None`` for a hash of no known format."""
        if stored.startswith(DJANGO_PBKDF2_PREFIX):
            return self._check_django(password, stored)
        plain_bcrypt = stored.startswith("$2")
        if not (plain_bcrypt or stored.startswith(("$argon2", V1_PREFIX, V2_PREFIX))):
            return None
        if not _usable(password) or (plain_bcrypt and not _fits_bcrypt(password)):
            self._dummy_check()  # never enrolled, or cannot match a plain bcrypt hash
            return False
        if stored.startswith("$argon2"):
            return self._argon2_verify(stored, password)
        if plain_bcrypt:
            return bcrypt.checkpw(password.encode("utf-8"), _ascii(stored))
        if stored.startswith(V1_PREFIX):
            return bcrypt.checkpw(_sha256(password), _ascii(stored[len(V1_PREFIX) :]))
        hashed = _ascii(stored[len(V2_PREFIX) :])
        return bcrypt.checkpw(_hmac_sha256(password, hashed), hashed)

    def _check_django(self, password: str, stored: str) -> bool | None:
        """A Django ``pbkdf2_sha256`` hash; ``None`` when unreadable or too costly."""
        parsed = _django_pbkdf2(stored)
        if parsed is None:
            return None
        if not _usable(password):
            self._dummy_check()  # never enrolled
            return False
        return _verify_django_pbkdf2(password, parsed)

    def needs_rehash(self, stored: str) -> bool:
        """True when ``stored`` (a hash that just verified) is weaker than a new hash would be:
        another scheme, v1 or plain bcrypt, a lower bcrypt cost, weaker Argon2 parameters,
        any Django ``pbkdf2_sha256`` hash."""
        if stored.startswith(DJANGO_PBKDF2_PREFIX):
            return True
        if self._argon2 is not None:
            return not stored.startswith("$argon2id$") or _weaker_argon2(stored, self._argon2)
        if not stored.startswith(V2_PREFIX):
            return True
        cost = stored[len(V2_PREFIX) + 4 : len(V2_PREFIX) + 6]
        return not cost.isdigit() or int(cost) < self.rounds

    def _argon2_verify(self, stored: str, password: str) -> bool:
        if self._argon2_verifier is None:
            self._argon2_verifier = _argon2_hasher()
        import argon2

        try:
            return self._argon2_verifier.verify(stored, password)
        except argon2.exceptions.VerifyMismatchError:
            return False
        except argon2.exceptions.VerificationError as error:  # not a mismatch: unreadable
            raise ValueError("unreadable Argon2 hash") from error

    def _dummy_check(self) -> None:
        """One check of the configured scheme, at its cost, whose answer nobody reads."""
        if self._dummy is None:
            with self._lock:
                if self._dummy is None:
                    if self._argon2 is not None:
                        self._dummy = self._argon2.hash(_DUMMY)
                    else:
                        self._dummy = bcrypt.hashpw(
                            _DUMMY.encode(), bcrypt.gensalt(self.rounds)
                        ).decode("ascii")
        if self._argon2 is not None:
            self._argon2.verify(self._dummy, _DUMMY)
        else:
            bcrypt.checkpw(_DUMMY.encode(), self._dummy.encode("ascii"))


def _ascii(text: str) -> bytes:
    """A stored hash as bcrypt wants it; a non-ASCII character makes it unreadable, not a crash."""
    return text.encode("ascii", "replace")


def _usable(password: str) -> bool:
    """False for a password no enrolment accepts, whatever hash was imported: empty, too
    long, or with a lone surrogate (JSON ``"\\ud800"``), which UTF-8 cannot carry."""
    return bool(password) and len(password) <= MAX_PASSWORD_LENGTH and _encodable(password)


def _fits_bcrypt(password: str) -> bool:
    """Plain bcrypt reads 72 bytes and stops at NUL: a longer password never matches it."""
    return "\x00" not in password and len(password.encode("utf-8")) <= BCRYPT_MAX_BYTES


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
