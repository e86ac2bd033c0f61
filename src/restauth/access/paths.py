"""Which paths anonymous callers may reach.

Patterns are compiled once: an exact path (``/health``), ``*`` for exactly one path
segment (``/static/*``), ``**`` for any depth (``/static/**``, also matching
``/static`` itself). A path that is not in canonical form (``.``/``..`` segments,
``//``, ``;`` parameters, ``\\``, a separator encoded twice such as ``%2e``) is never
public, so a router that normalises paths differently from us cannot be used to reach
a protected view anonymously.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from restauth.errors import ConfigError

_SEGMENT = r"[^/]+"
_ENCODED_SEPARATOR = re.compile(r"%(?:2e|2f|5c|3b)", re.IGNORECASE)


USERID = "{userid}"


def compile_pattern(pattern: str, *, allow_userid: bool = False) -> re.Pattern[str]:
    """Compile one path pattern; ``ValueError`` naming it if it is malformed.

    With ``allow_userid``, one whole segment may be ``{userid}``: it becomes the named
    group ``userid``, which the caller compares with the authenticated userid.
    """
    if not isinstance(pattern, str) or not pattern.startswith("/"):
        raise ConfigError(f"path pattern {pattern!r} must start with '/'")
    if pattern.count(USERID) > (1 if allow_userid else 0):
        raise ConfigError(f"path pattern {pattern!r}: at most one '{USERID}' segment (ACL only)")
    segments = pattern.split("/")[1:]  # "/" is one empty segment: the regex "/"
    last = len(segments) - 1
    return re.compile("".join(_segment(pattern, s, i == last) for i, s in enumerate(segments)))


def _segment(pattern: str, segment: str, last: bool) -> str:
    """One segment of ``pattern`` as a regex, with the slash before it (``**``: optional)."""
    if segment == USERID:
        return f"/(?P<userid>{_SEGMENT})"
    if "{" in segment or "}" in segment:
        raise ConfigError(f"path pattern {pattern!r}: '{USERID}' must be a whole segment")
    if segment == "**":
        if not last:
            raise ConfigError(f"path pattern {pattern!r}: '**' is only allowed at the end")
        return "(?:/.*)?"
    if segment == "*":
        return "/" + _SEGMENT
    if "*" in segment:
        raise ConfigError(f"path pattern {pattern!r}: '*' must be a whole segment")
    return "/" + re.escape(wsgi_str(segment))


def wsgi_str(text: str) -> str:
    """``text`` as a WSGI server puts it in ``PATH_INFO``: UTF-8 bytes read as Latin-1.

    Patterns and userids are real text; PEP 3333 hands us the request path's bytes
    decoded as Latin-1. Comparing in that form makes ``/café`` match a request for
    ``/caf%C3%A9``.
    """
    return text.encode("utf-8").decode("latin-1")


def is_canonical(path: str) -> bool:
    """True for paths a router cannot read differently from us.

    ``PATH_INFO`` is already percent-decoded (PEP 3333), so an encoded dot, slash,
    backslash or semicolon left in it was encoded twice by the client: a router that
    decodes again would see a separator we did not (Shiro CVE-2020-13933's class).
    """
    if not path.startswith("/") or "//" in path or ";" in path or "\\" in path:
        return False
    if "%" in path and _ENCODED_SEPARATOR.search(path):
        return False
    return not any(segment in (".", "..") for segment in path.split("/"))


class PublicPaths:
    """Matches the ``public=`` patterns of :class:`restauth.AuthMiddleware`."""

    def __init__(self, patterns: Iterable[str]) -> None:
        patterns = [patterns] if isinstance(patterns, str) else list(patterns)
        compiled = [compile_pattern(p) for p in patterns]
        self._regex = (
            re.compile("|".join(f"(?:{c.pattern})" for c in compiled)) if compiled else None
        )
        self._exact = frozenset(wsgi_str(p) for p in patterns if "*" not in p)

    def __bool__(self) -> bool:
        return self._regex is not None

    def match(self, path: str) -> bool:
        if self._regex is None:
            return False
        if path in self._exact:
            return True
        return is_canonical(path) and self._regex.fullmatch(path) is not None
