"""CORS (the Fetch standard): which other origins' scripts may read restauth's answers.

An allowed origin gets ``Access-Control-Allow-Origin`` naming it (never a reflected
unlisted one, never ``*`` with credentials) on every response, restauth's own refusals
included, so a page's script reads a 401's status instead of a network error; the
``Auth-Token`` headers and ``Retry-After`` are exposed wherever they are sent. Every answer
says ``Vary: Origin``, since it depends on it. Preflights are answered here, never
challenged. restauth owns these headers: an application's own ``Access-Control-Allow-*``
are replaced, its ``Access-Control-Expose-Headers`` and ``Vary`` merged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from restauth.errors import ConfigError
from restauth.wire.request import Request
from restauth.wire.responses import Header, Reply

ALWAYS_ALLOWED_HEADERS = ("Authorization", "Content-Type", "No-Auth-Challenge", "X-Requested-With")
DEFAULT_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")
# An origin as browsers serialise it: lower case, ASCII (IDNs in punycode), no default
# port, at most MAX_ORIGIN characters. Checked before any pattern of the user's runs, so no
# other byte ever reaches Access-Control-Allow-Origin.
MAX_ORIGIN = 300
_ORIGIN = re.compile(r"https?://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*\.?|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?")
_DEFAULT_PORT = re.compile(r"http://.*:80|https://.*:443")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_OWNED = frozenset(
    {
        "access-control-allow-origin",
        "access-control-allow-credentials",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-max-age",
    }
)
_EXPOSE = "access-control-expose-headers"
_PREFLIGHT_VARY = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
_VARY_ORIGIN: tuple[Header, ...] = (("Vary", "Origin"),)
_TOUCHED = _OWNED | {_EXPOSE, "vary"}  # what merging an app's headers must look at


class CORS:
    """Which origins may call the API from a browser, and how.

    ``origins`` are exact origins (``"https://app.example.com"``, scheme and host and any
    port, lower case, no path); ``origin_pattern`` a regular expression an origin must
    match whole (``r"https://[a-z0-9-]+\\.example\\.com"``); ``["*"]`` any origin, without
    credentials only. ``allow_credentials`` lets the browser send its cookies and read the
    answer. ``max_age`` is how long (seconds) a browser may reuse a preflight's answer.
    ``allow_methods`` are the app's methods a preflight allows; ``allow_headers`` and
    ``expose_headers`` add to restauth's own lists.
    """

    __slots__ = (
        "_frozen",
        "_pattern",
        "allow_credentials",
        "allow_headers",
        "allow_methods",
        "expose_headers",
        "max_age",
        "origin_pattern",
        "origins",
    )

    def __init__(
        self,
        origins: Iterable[str] = (),
        *,
        origin_pattern: str | None = None,
        allow_credentials: bool = False,
        max_age: int = 600,
        allow_methods: Iterable[str] = DEFAULT_METHODS,
        allow_headers: Iterable[str] = (),
        expose_headers: Iterable[str] = (),
    ) -> None:
        if not isinstance(allow_credentials, bool):
            raise ConfigError("cors allow_credentials must be true or false")
        self.origins = _strings("origins", origins)
        self.origin_pattern = origin_pattern
        self.allow_credentials = allow_credentials
        self.max_age = max_age
        self.allow_methods = _strings("allow_methods", allow_methods)
        self.allow_headers = _strings("allow_headers", allow_headers)
        self.expose_headers = _strings("expose_headers", expose_headers)
        _check_origins(self.origins, origin_pattern, allow_credentials)
        for name in ("allow_methods", "allow_headers", "expose_headers"):
            for token in getattr(self, name):
                if not _TOKEN.fullmatch(token):
                    raise ConfigError(f"cors {name}: {token!r} is not a method or header name")
        if isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0:
            raise ConfigError("cors max_age must be a whole number of seconds, 0 or more")
        if not isinstance(allow_credentials, bool):
            raise ConfigError("cors allow_credentials must be true or false")
        if not self.origins and origin_pattern is None:
            raise ConfigError("cors needs origins (or an origin_pattern): it allows none")
        self._pattern = _compiled(origin_pattern)
        self._frozen = True

    def __setattr__(self, name: str, value: object) -> None:
        if getattr(self, "_frozen", False):  # a change would escape every check above
            raise AttributeError("a CORS is fixed once built; build a new one")
        object.__setattr__(self, name, value)

    def __repr__(self) -> str:
        return (
            f"CORS(origins={list(self.origins)!r}, origin_pattern={self.origin_pattern!r}, "
            f"allow_credentials={self.allow_credentials}, max_age={self.max_age})"
        )

    def allowed(self, origin: str | None) -> str | None:
        """The ``Access-Control-Allow-Origin`` value for a request from ``origin``: the
        origin itself when it is listed or matches the pattern, ``*`` when any origin may
        call (without credentials), else ``None``."""
        if origin is None:
            return None
        if origin in self.origins:
            return origin
        if self.origins == ("*",):
            return "*"
        pattern = self._pattern
        if pattern is not None and _is_origin(origin) and pattern.fullmatch(origin):
            return origin
        return None

    def headers(self, request: Request, *, retry_after: bool = False) -> list[Header]:
        """What an answer to ``request`` gets: ``Vary: Origin`` always, and for an allowed
        origin the allow headers and the configured exposed ones (``Retry-After`` too when
        the answer has one). The ``Auth-Token`` headers are exposed where they are added
        (:func:`~restauth.wire.token_headers.merge_token_headers`, the endpoints)."""
        allowed = self.allowed(request.header("origin"))
        if allowed is None:
            return list(_VARY_ORIGIN)
        ours = [("Access-Control-Allow-Origin", allowed), ("Vary", "Origin")]
        if self.allow_credentials:
            ours.append(("Access-Control-Allow-Credentials", "true"))
        exposed = (*(("Retry-After",) if retry_after else ()), *self.expose_headers)
        if exposed:
            ours.append(("Access-Control-Expose-Headers", ", ".join(exposed)))
        return ours

    def preflight(self, request: Request, methods: Iterable[str]) -> Reply:
        """The answer to a preflight (``OPTIONS`` with ``Access-Control-Request-Method``):
        204, and for an allowed origin what it may send. A refused origin gets no
        ``Access-Control-*`` header: the browser then blocks the request it asked about."""
        headers: list[Header] = [("Vary", _PREFLIGHT_VARY), ("Content-Length", "0")]
        allowed = self.allowed(request.header("origin"))
        if allowed is not None:
            headers += [
                ("Access-Control-Allow-Origin", allowed),
                ("Access-Control-Allow-Methods", ", ".join(methods)),
                ("Access-Control-Allow-Headers", ", ".join(self.request_headers())),
                ("Access-Control-Max-Age", str(self.max_age)),
            ]
            if self.allow_credentials:
                headers.append(("Access-Control-Allow-Credentials", "true"))
        return Reply("204 No Content", headers, b"")

    def request_headers(self) -> tuple[str, ...]:
        """The request headers a preflight allows: restauth's own and the configured ones."""
        extra = tuple(h for h in self.allow_headers if h.lower() not in _ALWAYS_LOWER)
        return ALWAYS_ALLOWED_HEADERS + extra


def _strings(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ConfigError(f"cors {name} must be a list of strings")
    values = tuple(value)
    if not all(isinstance(item, str) for item in values):
        raise ConfigError(f"cors {name} must be a list of strings")
    return values


def _check_origins(origins: tuple[str, ...], pattern: str | None, credentials: bool) -> None:
    """Exact origins, or ``*`` alone and without credentials (the Fetch standard refuses
    ``*`` with credentials; restauth refuses to be configured so)."""
    if "*" in origins:
        if len(origins) > 1 or pattern is not None:
            raise ConfigError('cors origins ["*"] stands alone (no other origin, no pattern)')
        if credentials:
            raise ConfigError('cors origins ["*"] cannot go with allow_credentials')
        return
    for origin in origins:
        if not _is_origin(origin) or _DEFAULT_PORT.fullmatch(origin):
            raise ConfigError(
                f"cors origin {origin!r} is not an origin as a browser sends it, such as "
                "'https://app.example.com' (lower case, punycode, no default port, no path, "
                "no trailing slash)"
            )


def _is_origin(value: str) -> bool:
    return len(value) <= MAX_ORIGIN and _ORIGIN.fullmatch(value) is not None


def _compiled(pattern: str | None) -> re.Pattern[str] | None:
    if pattern is None:
        return None
    if not isinstance(pattern, str):
        raise ConfigError("cors origin_pattern must be a string (a regular expression)")
    try:
        return re.compile(pattern)
    except (re.error, TypeError) as error:
        raise ConfigError(f"cors origin_pattern is not a regular expression: {error}") from None


_ALWAYS_LOWER = frozenset(h.lower() for h in ALWAYS_ALLOWED_HEADERS)


def is_preflight(request: Request) -> bool:
    return request.method == "OPTIONS" and request.has_header("access-control-request-method")


def merge_cors(sent: list[Header], ours: list[Header]) -> list[Header]:
    """``sent`` with restauth's CORS headers: the allow headers replaced, one
    ``Access-Control-Expose-Headers`` and one ``Vary`` holding both sides' names."""
    touched = {name.lower() for name, _ in sent} & _TOUCHED
    if not touched or (
        touched == {_EXPOSE} and all(n != "Access-Control-Expose-Headers" for n, _ in ours)
    ):
        return [*sent, *ours]  # the common case: nothing to replace or to join
    merged: list[Header] = []
    lists: dict[str, list[str]] = {_EXPOSE: [], "vary": []}
    for name, value in [*((n, v) for n, v in sent if n.lower() not in _OWNED), *ours]:
        names = lists.get(name.lower())
        if names is None:
            merged.append((name, value))
        else:
            names += [part.strip() for part in value.split(",") if part.strip()]
    if lists[_EXPOSE]:
        merged.append(("Access-Control-Expose-Headers", ", ".join(_unique(lists[_EXPOSE]))))
    if lists["vary"]:
        merged.append(("Vary", ", ".join(_unique(lists["vary"]))))
    return merged


def _unique(names: list[str]) -> list[str]:
    seen: set[str] = set()
    kept = []
    for name in names:
        if name.lower() not in seen:
            seen.add(name.lower())
            kept.append(name)
    return kept
