"""Cookie mode: the token in an ``HttpOnly`` cookie instead of a header a script can read.

The cookie is ``__Host-restauth=<token>; Path=/; Secure; HttpOnly; SameSite=Strict``
(the ``__Host-`` prefix pins it to this host and path). Its value is only ever sent
in ``Set-Cookie`` (ASVS 5.0 3.3.4): never in ``Auth-Token`` or a JSON body. Because a
browser attaches cookies by itself, a cookie-authenticated request with an unsafe
method must carry a header a cross-site form cannot send (``X-Requested-With`` by
default; any value) — a custom header forces a CORS preflight, so another origin
cannot forge it. As defence in depth, such a request is also refused when the browser
says it is cross-site: an ``Origin`` that is not the request's own (or is ``null``), or
``Sec-Fetch-Site: cross-site``. The login (``POST /tokens``) follows the same rule,
so a cross-site form cannot log the victim in as the attacker (login CSRF). Deleting
the cookie repeats ``Secure; Path=/``: browsers ignore the deletion of a ``__Host-``
cookie without them (WebOb's ``delete_cookie`` omits ``Secure``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from restauth.errors import ConfigError
from restauth.wire.forwarded import normalize_origin
from restauth.wire.responses import Header, Reply, problem

if TYPE_CHECKING:
    from restauth.wire.request import Request

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 6265 cookie-name (a token)


@dataclass(frozen=True, slots=True)
class CookieMode:
    """Settings for cookie mode; the defaults are the safe ones.

    ``secure=False`` exists only for plain-HTTP development; it cannot be combined
    with a ``__Host-`` or ``__Secure-`` name, which browsers would refuse.
    """

    name: str = "__Host-restauth"
    csrf_header: str = "X-Requested-With"
    secure: bool = True
    same_site: str = "Strict"

    def __post_init__(self) -> None:
        if not _NAME.fullmatch(self.name):
            raise ConfigError(f"cookie name {self.name!r} is not a valid cookie name")
        if not self.secure and self.name.startswith(("__Host-", "__Secure-")):
            raise ConfigError(f"cookie {self.name!r} needs secure=True (its prefix demands it)")
        if self.same_site not in ("Strict", "Lax"):
            raise ConfigError("same_site must be 'Strict' or 'Lax'")
        if not _NAME.fullmatch(self.csrf_header):
            raise ConfigError(f"csrf_header {self.csrf_header!r} is not a header name")

    @property
    def _csrf_key(self) -> str:
        return self.csrf_header.lower()

    def _attributes(self) -> str:
        secure = "; Secure" if self.secure else ""
        return f"Path=/{secure}; HttpOnly; SameSite={self.same_site}"

    def set_cookie(self, token: str) -> Header:
        """A session cookie: the token's lifetime is enforced by the server, not the browser."""
        return ("Set-Cookie", f"{self.name}={token}; {self._attributes()}")

    def delete_cookie(self) -> Header:
        return (
            "Set-Cookie",
            f"{self.name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; {self._attributes()}",
        )

    def read(self, request: Request) -> str | None:
        """The token in the request's cookie, if any (the last one wins if repeated)."""
        header = request.header("cookie")
        if not header or self.name not in header:
            return None
        found = None
        for part in header.split(";"):
            name, eq, value = part.strip().partition("=")
            if eq and name == self.name:
                found = value.strip().strip('"')
        return found or None

    def csrf_ok(self, request: Request, own_origin: Callable[[Request], str]) -> bool:
        """Safe methods need nothing; unsafe ones need the custom header and must not be
        cross-site. ``own_origin`` gives the request's origin (called only when needed)."""
        if request.method not in UNSAFE_METHODS:
            return True
        return request.has_header(self._csrf_key) and not is_cross_site(request, own_origin)

    def csrf_refusal(self) -> Reply:
        return problem(
            403,
            "A cookie-authenticated POST, PUT, PATCH or DELETE, and a login in cookie mode, "
            f"must carry the {self.csrf_header} header and come from this site.",
        )


def is_cross_site(request: Request, own_origin: Callable[[Request], str]) -> bool:
    """What the browser says: ``Sec-Fetch-Site: cross-site``, or an ``Origin`` that is
    ``null`` or another origin than the request's own. Without either header (an older
    browser, a script), only the custom header speaks."""
    if (request.header("sec-fetch-site") or "").strip().lower() == "cross-site":
        return True
    origin = request.header("origin")
    if origin is None:
        return False
    return normalize_origin(origin) != own_origin(request)  # "null" never matches
