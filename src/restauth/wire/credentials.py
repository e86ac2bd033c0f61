"""Turn an ``Authorization`` header into credentials: pure parsing, no I/O.

Basic follows RFC 7617 (strict base64, UTF-8, NFC, split at the first colon, no
control characters), with an opt-in Latin-1 reading of bytes that are not UTF-8 (what
Python ``requests`` sends for a ``str`` password); ``Token`` (as Django REST Framework
sends it) and ``Bearer`` (RFC 6750) carry a ``b64token``. Every way a header can be
wrong maps to one :class:`Malformed` value, so the caller answers from a fixed status
matrix and no input can raise.
"""

from __future__ import annotations

import binascii
import codecs
import enum
import re
from dataclasses import dataclass
from typing import Literal

from restauth._text import has_refused_character
from restauth._text import normalize as normalize  # re-exported: the parser's rule

DEFAULT_MAX_HEADER_SIZE = 8192

# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_TOKEN_SCHEMES: dict[str, TokenScheme] = {"token": "token", "bearer": "bearer"}


@dataclass(slots=True)
class BasicCredentials:
    """``Basic`` userid and password (the password may be a token: token-as-password).

    Not frozen: one is made per request and only read, and a frozen dataclass costs about
    0.15 µs more per field to build (see docs/performance.md)."""

    userid: str
    password: str

    def __repr__(self) -> str:  # never show the password
        return f"BasicCredentials(userid={self.userid!r}, password=<hidden>)"


TokenScheme = Literal["token", "bearer", "cookie"]
"""Where a token came from: the ``Token`` or ``Bearer`` header scheme, or the cookie."""


@dataclass(slots=True)
class TokenCredentials:
    """A token; ``scheme`` is ``"token"``, ``"bearer"`` or ``"cookie"`` (cookie mode).
    Not frozen, as :class:`BasicCredentials`."""

    token: str
    scheme: TokenScheme

    def __repr__(self) -> str:
        return f"TokenCredentials(scheme={self.scheme!r}, token=<hidden>)"


class Malformed(enum.Enum):
    """Why a header that claims to carry credentials cannot be read."""

    BASIC = "malformed Basic credentials"  # 401 with the usual challenge
    TOKEN = "malformed token"  # 400, Bearer error="invalid_request"
    AMBIGUOUS = "more than one credential"  # 400: two headers joined with a comma
    TOO_LARGE = "Authorization header too large"  # 431, checked before decoding


Credentials = BasicCredentials | TokenCredentials
ParseResult = Credentials | Malformed | None


def parse_authorization(
    value: str | None,
    *,
    tokens_enabled: bool = True,
    max_size: int = DEFAULT_MAX_HEADER_SIZE,
    basic_fallback: str | None = None,
) -> ParseResult:
    """Parse a WSGI ``HTTP_AUTHORIZATION`` value (a Latin-1 decoded native string).

    Returns ``None`` when there is no header or its scheme is not one restauth speaks
    (the request is then anonymous), credentials, or a :class:`Malformed` reason.
    With ``tokens_enabled=False`` the ``Token`` and ``Bearer`` schemes are foreign.
    ``basic_fallback`` (``"latin-1"``, see :func:`check_basic_fallback`) decodes Basic
    credentials that are not valid UTF-8, and only those; valid UTF-8 is always UTF-8.
    """
    if value is None:
        return None
    if len(value) > max_size:
        return Malformed.TOO_LARGE
    scheme, _, rest = value.strip(" ").partition(" ")
    scheme = scheme.lower()
    if scheme == "basic":
        return _parse_basic(rest.lstrip(" "), basic_fallback)
    if tokens_enabled and scheme in _TOKEN_SCHEMES:
        return _parse_token(rest.lstrip(" "), _TOKEN_SCHEMES[scheme])
    return None


def _parse_basic(encoded: str, fallback: str | None = None) -> BasicCredentials | Malformed:
    if "," in encoded:
        return Malformed.AMBIGUOUS
    if not encoded or not encoded.isascii():
        return Malformed.BASIC
    try:
        # What b64decode(validate=True) does on Python 3.11+, minus its wrapper.
        raw = binascii.a2b_base64(encoded, strict_mode=True)
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        if fallback is None:
            return Malformed.BASIC
        text = raw.decode(fallback)  # Latin-1 decodes every byte
    except (binascii.Error, ValueError):
        return Malformed.BASIC
    userid, colon, password = text.partition(":")
    if not colon:
        return Malformed.BASIC
    return check_credentials(userid, password)


BASIC_FALLBACKS = ("latin-1",)
"""The charsets ``basic_charset_fallback`` may name: Latin-1, what Python ``requests``
(``auth=(user, password)`` with ``str`` values) and other old clients send."""


def check_basic_fallback(charset: str | None) -> str | None:
    """The canonical name of a Basic fallback charset (``"latin-1"``), or ``None``.

    Accepts the aliases Python knows (``"iso-8859-1"``, ``"latin1"``); raises ``ValueError``
    for anything else: a charset that cannot decode every byte would turn a wrong
    encoding into a 401 anyway, and one per deployment keeps the rule simple.
    """
    if charset is None:
        return None
    try:
        name = codecs.lookup(charset).name if isinstance(charset, str) else None
    except LookupError:
        name = None
    if name != "iso8859-1":
        raise ValueError(
            f"basic_charset_fallback must be None or 'latin-1', not {charset!r} "
            "(valid UTF-8 is always read as UTF-8)"
        )
    return "latin-1"


def basic_userid(
    value: str | None, *, max_size: int = DEFAULT_MAX_HEADER_SIZE, fallback: str | None = None
) -> str | None:
    """The userid of a readable ``Basic`` header, else ``None``: for a record written off
    the hot path (the 503's audit). The password is decoded, not kept."""
    parsed = parse_authorization(
        value, tokens_enabled=False, max_size=max_size, basic_fallback=fallback
    )
    return parsed.userid if isinstance(parsed, BasicCredentials) else None


def check_credentials(userid: str, password: str) -> BasicCredentials | Malformed:
    """A userid and password as Basic would accept them (RFC 7617), NFC-normalised.

    The one rule for every way a password arrives (Basic, the login body): a non-empty
    userid without a colon, and no control character or lone surrogate in either.
    """
    if not userid or ":" in userid or has_refused_character(userid + password):
        return Malformed.BASIC
    if userid.isascii() and password.isascii():  # ASCII is already in NFC
        return BasicCredentials(userid, password)
    return BasicCredentials(normalize(userid), normalize(password))


def is_b64token(value: str) -> bool:
    """True for a value with the shape of an RFC 6750 ``b64token``."""
    return _B64TOKEN.fullmatch(value) is not None


def _parse_token(token: str, scheme: TokenScheme) -> TokenCredentials | Malformed:
    if "," in token:
        return Malformed.AMBIGUOUS
    if not _B64TOKEN.fullmatch(token):
        return Malformed.TOKEN
    return TokenCredentials(token, scheme)
