"""The login body of ``POST /tokens``: JSON or a form with ``username``, ``password`` and
an optional ``client`` label, read within limits (411, 413, 400, 415 otherwise)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import parse_qsl

from restauth.endpoints.json_body import read_limited
from restauth.wire.credentials import (
    BasicCredentials,
    Malformed,
    check_credentials,
)
from restauth.wire.request import Request
from restauth.wire.responses import Reply, problem

MAX_LOGIN_BODY = 16 * 1024
_FORM = "application/x-www-form-urlencoded"
_TOO_LARGE = problem(413, "The login body is too large.")
_BAD_LENGTH = problem(400, "The Content-Length of the login body is not a length.")
_NOT_CREDENTIALS = problem(400, "Send JSON or a form with string 'username' and 'password'.")
_BAD_CLIENT = problem(400, "The optional 'client' label must be a string.")
_UNKNOWN_CHARSET = problem(415, "Send the login form in UTF-8 or another charset Python knows.")


@dataclass(frozen=True, slots=True)
class LoginBody:
    """What a login body holds: the credentials (or why they are malformed; ``None`` for a
    body holding nothing but an optional ``client``, as axios and knox clients send ``{}``
    beside a Basic header) and the client label it names, if any (else the User-Agent)."""

    credentials: BasicCredentials | Malformed | None
    client: str | None


def read_login_body(request: Request) -> LoginBody | Reply | None:
    """The credentials in the login body, ``None`` without a body (then the request's own
    ``Authorization`` counts), or the refusal: 413, 411 for a body of unknown length, 400
    for a short or unreadable body."""
    length = request.content_length
    if length == 0:
        return None
    if length is not None and length < 0:
        return _BAD_LENGTH
    if length is not None and length > MAX_LOGIN_BODY:
        return _TOO_LARGE
    raw = read_limited(request, MAX_LOGIN_BODY)  # without a Content-Length: a chunked body
    if isinstance(raw, Reply):
        return _TOO_LARGE if raw.status.startswith("413") else raw
    return parse_login_body(raw, request.header("content-type")) if raw else None


def parse_login_body(raw: bytes, content_type: str | None) -> LoginBody | Reply:
    """``username``/``password`` (and ``client``) from a JSON object or an urlencoded
    form, checked by the rules Basic applies (:class:`Malformed` if they break one),
    else a 400 or 415.

    The form is read in its declared charset, ``%XX`` escapes and raw bytes alike (curl
    ``-d`` sends raw UTF-8): a client's choice of charset is never a backend failure.
    """
    media_type, charset = _media_type(content_type)
    try:
        if media_type == "application/json" or media_type.endswith("+json"):
            data = json.loads(raw.decode("utf-8"))
        elif media_type == _FORM:
            text = raw.decode(charset)
            data = dict(parse_qsl(text, True, encoding=charset, errors="strict"))
        else:
            return _NOT_CREDENTIALS
    except LookupError:  # a charset Python does not know
        return _UNKNOWN_CHARSET
    except (ValueError, UnicodeError, RecursionError):
        return _NOT_CREDENTIALS
    if not isinstance(data, dict):
        return _NOT_CREDENTIALS
    client = data.get("client")
    if client is not None and not isinstance(client, str):
        return _BAD_CLIENT
    if data.keys() <= {"client"}:  # {} beside a Basic header (axios, knox): the header counts
        return LoginBody(None, client)
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        return _NOT_CREDENTIALS
    return LoginBody(check_credentials(username, password), client)


def _media_type(content_type: str | None) -> tuple[str, str]:
    """``application/x-www-form-urlencoded; charset=ISO-8859-1`` → the type in lower case,
    and the charset (UTF-8 when none is given)."""
    kind, *parameters = (content_type or "").split(";")
    charset = "utf-8"
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    return kind.strip().lower(), charset
