"""Reading a request body within limits, and the JSON object the account endpoints take.

A body that is too large is 413 (``Content-Length`` is judged before anything is read,
a chunked body after at most the limit and one byte), one of unknown length 411, one
cut short 400; a body that is not JSON is 415, JSON that is not an object 400. None of
these answers echoes what the client sent.
"""

from __future__ import annotations

import json

from restauth.wire.request import Request
from restauth.wire.responses import Reply, problem

MAX_BODY = 16 * 1024  # a login, a registration or a password change fits many times over

_SHORT = problem(400, "The body ended before its Content-Length or its last chunk.")
_LENGTH_REQUIRED = problem(411, "Send the body with a Content-Length.")
_BAD_LENGTH = problem(400, "The Content-Length is not a length.")
_NO_BODY = problem(400, "Send a JSON object in the body.")
_NOT_JSON = problem(415, "Send the body as application/json.")
_MALFORMED = problem(400, "The body is not a JSON object.")


def too_large(what: str = "body") -> Reply:
    return problem(413, f"The {what} is too large.")


_TOO_LARGE = too_large()


def read_limited(request: Request, limit: int = MAX_BODY) -> bytes | Reply:
    """The whole body, at most ``limit`` bytes (``b""`` without one), or the refusal."""
    length = request.content_length
    if length == 0:
        return b""
    if length is not None and length < 0:
        return _BAD_LENGTH
    if length is not None and length > limit:
        return _TOO_LARGE
    try:
        raw = request.read_body(limit)
    except OSError:  # fewer bytes than announced, a client gone, a malformed chunk
        return _SHORT
    if raw is None:
        return _LENGTH_REQUIRED
    return _TOO_LARGE if len(raw) > limit else raw


def is_json(content_type: str | None) -> bool:
    """``application/json`` or any ``+json`` type, whatever its parameters."""
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def read_json_object(request: Request) -> dict[str, object] | Reply:
    """The body's JSON object, or a 400, 411, 413 or 415."""
    if request.content_length == 0:
        return _NO_BODY
    if not is_json(request.header("content-type")):
        return _NOT_JSON
    raw = read_limited(request)
    if isinstance(raw, Reply):
        return raw
    if not raw:
        return _NO_BODY
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeError, RecursionError):
        return _MALFORMED
    return data if isinstance(data, dict) else _MALFORMED
