"""The ``Auth-Token*`` headers, and how they join an application's own headers.

A response that carries a token must not be cached (RFC 6749 §5.1): whatever
caching the application asked for is replaced by ``no-store``. The three token
headers are exposed to cross-origin scripts by merging them into any
``Access-Control-Expose-Headers`` the application set. An authenticated response
that carries no token (``tokens=None``, an identity provider's JWT) is still never
left for a shared cache: :func:`private_cache` makes it ``private``.
"""

from __future__ import annotations

import functools
import time
from urllib.parse import quote

from restauth.tokens.base import TokenGrant
from restauth.wire.responses import Header

AUTH_TOKEN = "Auth-Token"
VALID_UNTIL = "Auth-Token-Valid-Until"
LOCATION = "Auth-Token-Location"
EXPOSED = (AUTH_TOKEN, VALID_UNTIL, LOCATION)

# Headers the middleware owns on a token-bearing response (lower-case for matching).
_REPLACED = frozenset(
    {"auth-token", "auth-token-valid-until", "auth-token-location", "cache-control", "pragma"}
)
_EXPOSE = "access-control-expose-headers"
NO_STORE: tuple[Header, Header] = (("Cache-Control", "no-store"), ("Pragma", "no-cache"))


_last_second: tuple[int, str] = (-1, "")  # the last whole second formatted, and its text


def format_instant(epoch: float) -> str:
    """``2026-11-22T13:28:10.749Z``: ISO 8601, UTC, milliseconds, ``Z``.

    Consecutive requests fall in the same second, so its text is kept and only the
    milliseconds are formatted (one tuple, swapped atomically: safe across threads).
    """
    global _last_second
    seconds, millis = divmod(int(epoch * 1000), 1000)
    last = _last_second
    if last[0] != seconds:
        last = _last_second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{last[1]}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def token_location(tokens_path: str, userid: str) -> str:
    """``/tokens/<userid>`` with the userid percent-encoded: no CR/LF can reach a header."""
    return f"{tokens_path}/{quote(userid, safe='')}"


def token_headers(grant: TokenGrant, tokens_path: str) -> list[Header]:
    return [
        (AUTH_TOKEN, grant.token),
        (VALID_UNTIL, format_instant(grant.valid_until)),
        (LOCATION, token_location(tokens_path, grant.userid)),
    ]


EXPOSE_TOKEN_HEADERS = ("Access-Control-Expose-Headers", ", ".join(EXPOSED))


def merge_token_headers(app_headers: list[Header], ours: list[Header]) -> list[Header]:
    """The app's headers minus the ones we own, plus ours, with the expose list merged."""
    merged: list[Header] = []
    exposed: list[str] | None = None
    for header in app_headers:
        lower = header[0].lower()
        if lower in _REPLACED:
            continue
        if lower == _EXPOSE:
            exposed = exposed or []
            exposed.extend(v.strip() for v in header[1].split(",") if v.strip())
            continue
        merged.append(header)
    merged += ours
    if exposed is None:
        merged.append(EXPOSE_TOKEN_HEADERS)  # the common case: one shared tuple
    else:
        present = {e.lower() for e in exposed}
        exposed.extend(name for name in EXPOSED if name.lower() not in present)
        merged.append(("Access-Control-Expose-Headers", ", ".join(exposed)))
    merged += NO_STORE
    return merged


_PRIVATE_ENOUGH = frozenset({"private", "no-store"})


def private_cache(app_headers: list[Header]) -> list[Header]:
    """The app's headers with ``Cache-Control`` made private: ``public`` becomes ``private``
    (other directives kept), and ``private`` is added when nothing keeps shared caches out."""
    directives: list[str] = []
    others: list[Header] = []
    for header in app_headers:
        if header[0].lower() == "cache-control":
            directives.extend(d.strip() for d in header[1].split(",") if d.strip())
        else:
            others.append(header)
    kept = [d for d in directives if d.lower() != "public"]
    if not any(d.lower() in _PRIVATE_ENOUGH for d in kept):  # private="f" names fields only
        kept.append("private")
    others.append(("Cache-Control", ", ".join(kept)))
    return others
