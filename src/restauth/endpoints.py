"""restauth's own REST endpoints: log in, token info, log out, roles.

``POST /tokens`` (JSON or form ``username``/``password``, or Basic), ``GET`` and
``DELETE /tokens/<userid>``, ``GET /roles/<userid>``. Another user's resource is 403;
no or bad credentials are 401. The login form never gets a challenge, so a browser
page posting a wrong password never sees the browser's own login dialog.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from restauth import audit, backend
from restauth.authenticator import Authenticated
from restauth.tokens.base import TokenGrant
from restauth.wire.credentials import (
    BasicCredentials,
    Credentials,
    Malformed,
    check_credentials,
    normalize,
)
from restauth.wire.request import Request
from restauth.wire.responses import Header, Reply, empty_reply, json_reply, problem
from restauth.wire.token_headers import NO_STORE, format_instant

if TYPE_CHECKING:
    from restauth.gate import Gate
    from restauth.options import Options

MAX_LOGIN_BODY = 16 * 1024
_FORM = "application/x-www-form-urlencoded"
_TOO_LARGE = problem(413, "The login body is too large.")
_SHORT = problem(400, "The login body ended before its Content-Length or its last chunk.")
_LENGTH_REQUIRED = problem(411, "Send the login body with a Content-Length.")
_BAD_LENGTH = problem(400, "The Content-Length of the login body is not a length.")
_NOT_CREDENTIALS = problem(400, "Send JSON or a form with string 'username' and 'password'.")
_UNKNOWN_CHARSET = problem(415, "Send the login form in UTF-8 or another charset Python knows.")


class Endpoints:
    """Routes and answers requests under ``tokens_path`` and ``roles_path``, through the
    same :class:`~restauth.gate.Gate` as every other request."""

    def __init__(self, options: Options, gate: Gate) -> None:
        self._tokens = options.tokens
        self._cookie = options.cookie
        self._proxies = options.proxies
        self._gate = gate
        self._challenges = gate.challenges
        self.tokens_path = options.tokens_path
        self.roles_path = options.roles_path
        self._tokens_prefix = options.tokens_path + "/"
        self._roles_prefix = options.roles_path + "/"

    def owns(self, path: str) -> bool:
        """True for the paths these endpoints answer (checked on every request: keep it cheap)."""
        if path.startswith(self._roles_prefix):
            return True
        return self._tokens is not None and (
            path == self.tokens_path or path.startswith(self._tokens_prefix)
        )

    def handle(self, request: Request) -> Reply:
        path, method = request.path, request.method
        if path == self.tokens_path:
            if method != "POST":
                return problem(405, extra=[("Allow", "POST")])
            return self._login(request)
        if path.startswith(self._roles_prefix):
            if method != "GET":
                return problem(405, extra=[("Allow", "GET")])
            return self._own(request, path[len(self._roles_prefix) :], self._roles)
        if method not in ("GET", "DELETE"):
            return problem(405, extra=[("Allow", "GET, DELETE")])
        action = self._token_info if method == "GET" else self._logout
        return self._own(request, path[len(self._tokens_prefix) :], action)

    # -- POST /tokens --------------------------------------------------------

    def _login(self, request: Request) -> Reply:
        cookie = self._cookie
        if cookie is not None and not cookie.csrf_ok(request, self._proxies.origin):
            assert self._gate.csrf_refused is not None  # login CSRF: never set a cookie cross-site
            audit.event("csrf.refused", outcome="403", level=logging.INFO)
            return self._gate.csrf_refused
        credentials = _login_credentials(request)
        if isinstance(credentials, Reply):
            return credentials
        if isinstance(credentials, Malformed):  # as Basic would refuse it: 401
            audit.event("credentials.malformed", outcome="login_body", level=logging.DEBUG)
            return self._challenges.plain_unauthorized
        auth = self._gate.authenticate(request, credentials)
        if not isinstance(auth, Authenticated):
            if isinstance(auth, Reply) and not auth.status.startswith("401"):
                return auth  # 400, 403, 429, 431, 503: same answer as anywhere else
            return self._challenges.plain_unauthorized  # a login form never gets a challenge
        if auth.external:  # an identity provider's token is not exchanged for a restauth one
            return self._challenges.forbidden
        return self._issued(auth, self._gate.grant_for(auth), request)

    def _issued(self, auth: Authenticated, grant: TokenGrant, request: Request) -> Reply:
        body = {
            "token": grant.token,
            "userid": auth.identity.userid,
            "roles": sorted(auth.identity.roles),
            "valid_until": format_instant(grant.valid_until),
        }
        address = self._gate.proxies.client_address(request)
        audit.event(
            "token.issue", outcome="ok", userid=grant.userid, address=address, mechanism="login"
        )
        headers = self._headers(grant)
        if self._cookie is not None:  # the token travels only in Set-Cookie (ASVS 5.0 3.3.4)
            del body["token"]
            headers.append(self._cookie.set_cookie(grant.token))
        return json_reply(200, body, headers)

    # -- /tokens/<userid>, /roles/<userid> -----------------------------------

    def _own(
        self,
        request: Request,
        raw_userid: str,
        action: Callable[[Authenticated, Request], Reply],
    ) -> Reply:
        auth = self._gate.authenticate(request)
        if auth is None:
            return self._challenges.unauthorized
        if isinstance(auth, Reply):
            return auth
        if _path_userid(raw_userid) != auth.identity.userid:
            return self._forbidden(auth)
        return action(auth, request)

    def _token_info(self, auth: Authenticated, request: Request) -> Reply:
        if auth.external:  # no restauth token to describe; the provider's is the client's
            return self._challenges.forbidden
        grant = self._gate.grant_for(auth)
        body = {
            "userid": grant.userid,
            "valid_until": format_instant(grant.valid_until),
            "created": format_instant(grant.created),
        }
        return json_reply(200, body, self._headers(grant))

    def _logout(self, auth: Authenticated, request: Request) -> Reply:
        assert self._tokens is not None
        if auth.external:  # logging out of an identity provider happens there
            return self._challenges.forbidden
        backend.call(self._tokens.revoke, auth.identity.userid)
        address = self._gate.proxies.client_address(request)
        audit.event("token.revoke", outcome="ok", userid=auth.identity.userid, address=address)
        if self._cookie is None:
            return empty_reply(204, NO_STORE)
        return empty_reply(204, [*NO_STORE, self._cookie.delete_cookie()])

    def _roles(self, auth: Authenticated, request: Request) -> Reply:
        body = {"authenticated": True, "roles": sorted(auth.identity.roles)}
        if self._tokens is None or auth.external:
            return json_reply(200, body)
        return json_reply(200, body, self._headers(self._gate.grant_for(auth)))

    def _forbidden(self, auth: Authenticated) -> Reply:
        reply = self._challenges.forbidden
        if self._tokens is None or auth.external:
            return reply
        headers = [h for h in reply.headers if h[0] != "Cache-Control"]
        grant = self._gate.grant_for(auth)
        return Reply(reply.status, headers + self._headers(grant), reply.body)

    def _headers(self, grant: TokenGrant) -> list[Header]:
        return [*self._gate.token_headers(grant), *NO_STORE]


def _path_userid(raw: str) -> str | None:
    """The userid in a path: PEP 3333 hands bytes as Latin-1; the userid is UTF-8."""
    try:
        return normalize(raw.encode("latin-1").decode("utf-8"))
    except UnicodeError:
        return None


def _login_credentials(request: Request) -> Credentials | Malformed | Reply | None:
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
    raw = _login_body(request)  # without a Content-Length too: a chunked body is read
    if isinstance(raw, Reply):
        return raw
    return body_credentials(raw, request.header("content-type")) if raw else None


def _login_body(request: Request) -> bytes | Reply:
    """The body, at most :data:`MAX_LOGIN_BODY` bytes, or the refusal."""
    try:
        raw = request.read_body(MAX_LOGIN_BODY)
    except OSError:  # fewer bytes than announced, a client gone, a malformed chunk
        return _SHORT
    if raw is None:
        return _LENGTH_REQUIRED
    return _TOO_LARGE if len(raw) > MAX_LOGIN_BODY else raw


def body_credentials(raw: bytes, content_type: str | None) -> BasicCredentials | Malformed | Reply:
    """``username``/``password`` from a JSON object or an urlencoded form, checked by the
    rules Basic applies (:class:`Malformed` if they break one), else a 400 or 415.

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
    username, password = data.get("username"), data.get("password")
    if not isinstance(username, str) or not isinstance(password, str) or not username:
        return _NOT_CREDENTIALS
    return check_credentials(username, password)


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
