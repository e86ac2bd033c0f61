"""Text rules every way a userid or password arrives shares: HTTP credentials, login
bodies, enrolment in a store, the command line. Private, and free of HTTP, so the stores
and the hasher apply the same rules as the parser without importing it."""

from __future__ import annotations

import re
import unicodedata

# Control characters (RFC 7617 §2: user-id and password MUST NOT contain them), and
# lone surrogates, which no UTF-8 text can carry (a JSON body's "\\ud800" can).
_REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def normalize(text: str) -> str:
    """The one canonical form of userids and passwords, at enrolment and at login."""
    return unicodedata.normalize("NFC", text)


def has_refused_character(text: str) -> bool:
    """True for text with a character no credential may hold (what login refuses)."""
    return _REFUSED.search(text) is not None


def without_refused_characters(text: str) -> str:
    """``text`` with every character :func:`has_refused_character` finds removed (a
    label a client sends, shown later in a terminal or a page)."""
    return _REFUSED.sub("", text)
