"""The middleware's own answers: RFC 9457 problem bodies and the challenge rules.

Every body is generic and built once; nothing from the request is echoed, so a
secret can never travel back. Which ``WWW-Authenticate`` challenges a 401 or 400
carries is decided here, and dropped entirely when the client asked for no
challenge (``No-Auth-Challenge`` header or ``noauthchallenge`` query parameter).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from restauth.errors import ConfigError

if TYPE_CHECKING:
    from restauth.wire.request import Request

Header = tuple[str, str]

_REALM_OK = re.compile(r"[\x20-\x21\x23-\x5b\x5d-\x7e]*")  # quoted-string without '"' and '\'

DETAILS = {
    400: "The Authorization header is malformed.",
    401: "Valid credentials are required.",
    403: "You are not allowed to access this resource.",
    405: "This method is not allowed here.",
    431: "The Authorization header is too large.",
    503: "Authentication is temporarily unavailable; retry later.",
}


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete response the middleware sends itself."""

    status: str
    headers: list[Header]
    body: bytes


def status_line(code: int) -> str:
    return f"{code} {HTTPStatus(code).phrase}"


def problem(code: int, detail: str | None = None, extra: Iterable[Header] = ()) -> Reply:
    """An ``application/problem+json`` reply with a generic detail."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": HTTPStatus(code).phrase,
            "status": code,
            "detail": detail or DETAILS.get(code, HTTPStatus(code).description),
        }
    ).encode("utf-8")
    headers = [
        ("Content-Type", "application/problem+json"),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        *extra,
    ]
    return Reply(status_line(code), headers, body)


def json_reply(code: int, data: object, extra: Iterable[Header] = ()) -> Reply:
    body = json.dumps(data).encode("utf-8")
    headers = [
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        *extra,
    ]
    return Reply(status_line(code), headers, body)


def empty_reply(code: int, extra: Iterable[Header] = ()) -> Reply:
    return Reply(status_line(code), [("Content-Length", "0"), *extra], b"")


def wants_no_challenge(request: Request) -> bool:
    """``No-Auth-Challenge`` (any value, even empty) or ``noauthchallenge`` in the query."""
    if request.has_header("no-auth-challenge"):
        return True
    query = request.query
    if "noauthchallenge" not in query:
        return False
    return any(name == "noauthchallenge" for name, _ in parse_qsl(query, keep_blank_values=True))


def check_realm(realm: str) -> None:
    """A realm goes into a quoted-string as it is: printable ASCII without ``"`` or ``\\``."""
    if not realm or not _REALM_OK.fullmatch(realm):
        raise ConfigError("realm must be printable ASCII without '\"' or '\\'")


class Challenges:
    """The fixed 401/400 replies for one realm, built once at start-up."""

    def __init__(self, realm: str, *, tokens_enabled: bool) -> None:
        check_realm(realm)
        basic = ("WWW-Authenticate", f'Basic realm="{realm}", charset="UTF-8"')
        bearer = ("WWW-Authenticate", f'Bearer realm="{realm}"')
        invalid_token = ("WWW-Authenticate", f'Bearer realm="{realm}", error="invalid_token"')
        invalid_request = (
            "WWW-Authenticate",
            f'Bearer realm="{realm}", error="invalid_request"',
        )
        self.unauthorized = problem(401, extra=[basic, bearer] if tokens_enabled else [basic])
        self.invalid_token = problem(401, extra=[invalid_token])
        self.bad_request = problem(400, extra=[invalid_request])
        self.plain_unauthorized = problem(401)
        self.plain_bad_request = problem(400)
        self.too_large = problem(431)
        self.forbidden = problem(403)

    @staticmethod
    def without_challenge(reply: Reply) -> Reply:
        """The same reply, status and body, minus ``WWW-Authenticate``."""
        headers = [h for h in reply.headers if h[0] != "WWW-Authenticate"]
        return Reply(reply.status, headers, reply.body)


def unavailable(retry_after: int) -> Reply:
    return problem(503, extra=[("Retry-After", str(retry_after))])
