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
from typing import Any
from urllib.parse import parse_qsl

from webob import Request

from restauth import audit, backend
from restauth.authenticator import Authenticated
from restauth.tokens.base import TokenGrant, TokenManager
from restauth.wire.cookies import CookieMode
from restauth.wire.credentials import (
    BasicCredentials,
    Credentials,
    Malformed,
    check_credentials,
    normalize,
)
from restauth.wire.forwarded import TrustedProxies
from restauth.wire.responses import Challenges, Header, Reply, empty_reply, json_reply, problem
from restauth.wire.token_headers import NO_STORE, format_instant

MAX_LOGIN_BODY = 16 * 1024
_FORM = "application/x-www-form-urlencoded"

AuthResult = Authenticated | Reply | None
Authenticate = Callable[[dict[str, Any], Credentials | None], AuthResult]


class Endpoints:
    """Routes and answers requests under ``tokens_path`` and ``roles_path``."""

    def __init__(
        self,
        *,
        tokens: TokenManager | None,
        challenges: Challenges,
        tokens_path: str,
        roles_path: str,
        authenticate: Authenticate,
        grant_for: Callable[[Authenticated], TokenGrant],
        headers_for: Callable[[TokenGrant], list[Header]],
        cookie: CookieMode | None = None,
        proxies: TrustedProxies | None = None,
    ) -> None:
        self._tokens = tokens
        self._challenges = challenges
        self.tokens_path = tokens_path
        self.roles_path = roles_path
        self._tokens_prefix = tokens_path + "/"
        self._roles_prefix = roles_path + "/"
        self._authenticate = authenticate
        self._grant_for = grant_for
        self._headers_for = headers_for
        self._cookie = cookie
        self._proxies = proxies or TrustedProxies()
        self._csrf_refused = cookie.csrf_refusal() if cookie else None

    def owns(self, path: str) -> bool:
        """True for the paths these endpoints answer (checked on every request: keep it cheap)."""
        if path.startswith(self._roles_prefix):
            return True
        return self._tokens is not None and (
            path == self.tokens_path or path.startswith(self._tokens_prefix)
        )

    def handle(self, environ: dict[str, Any]) -> Reply:
        path: str = environ.get("PATH_INFO", "")
        method: str = environ.get("REQUEST_METHOD", "GET")
        if path == self.tokens_path:
            if method != "POST":
                return problem(405, extra=[("Allow", "POST")])
            return self._login(environ)
        if path.startswith(self._roles_prefix):
            if method != "GET":
                return problem(405, extra=[("Allow", "GET")])
            return self._own(environ, path[len(self._roles_prefix) :], self._roles)
        if method not in ("GET", "DELETE"):
            return problem(405, extra=[("Allow", "GET, DELETE")])
        action = self._token_info if method == "GET" else self._logout
        return self._own(environ, path[len(self._tokens_prefix) :], action)

    # -- POST /tokens --------------------------------------------------------

    def _login(self, environ: dict[str, Any]) -> Reply:
        if self._cookie is not None and not self._cookie.csrf_ok(environ, self._proxies.origin):
            assert self._csrf_refused is not None  # login CSRF: never set a cookie cross-site
            audit.event("csrf.refused", outcome="403", level=logging.INFO)
            return self._csrf_refused
        request = Request(environ)
        if request.content_length and request.content_length > MAX_LOGIN_BODY:
            return problem(413, "The login body is too large.")
        if request.content_length:
            try:
                request.body  # noqa: B018 - read and keep it: a short body is the client's fault
            except OSError:  # webob's DisconnectionError is one: the client sent too little
                return problem(400, "The login body ended before its Content-Length.")
            credentials = _body_credentials(request)
            if isinstance(credentials, Reply):
                return credentials
            if isinstance(credentials, Malformed):  # as Basic would refuse it: 401
                audit.event("credentials.malformed", outcome="login_body", level=logging.DEBUG)
                return self._challenges.plain_unauthorized
            auth = self._authenticate(environ, credentials)
        else:
            auth = self._authenticate(environ, None)
        if not isinstance(auth, Authenticated):
            if isinstance(auth, Reply) and not auth.status.startswith("401"):
                return auth  # 400, 403, 429, 431, 503: same answer as anywhere else
            return self._challenges.plain_unauthorized  # a login form never gets a challenge
        if auth.external:  # an identity provider's token is not exchanged for a restauth one
            return self._challenges.forbidden
        assert self._tokens is not None  # the endpoint exists only with tokens on
        grant = self._grant_for(auth)
        body = {
            "token": grant.token,
            "userid": auth.identity.userid,
            "roles": sorted(auth.identity.roles),
            "valid_until": format_instant(grant.valid_until),
        }
        audit.event("token.issue", outcome="ok", userid=grant.userid, mechanism="login")
        headers = self._headers(grant)
        if self._cookie is not None:  # the token travels only in Set-Cookie (ASVS 5.0 3.3.4)
            del body["token"]
            headers.append(self._cookie.set_cookie(grant.token))
        return json_reply(200, body, headers)

    # -- /tokens/<userid>, /roles/<userid> -----------------------------------

    def _own(
        self,
        environ: dict[str, Any],
        raw_userid: str,
        action: Callable[[Authenticated], Reply],
    ) -> Reply:
        auth = self._authenticate(environ, None)
        if auth is None:
            return self._challenges.unauthorized
        if isinstance(auth, Reply):
            return auth
        if _path_userid(raw_userid) != auth.identity.userid:
            return self._forbidden(auth)
        return action(auth)

    def _token_info(self, auth: Authenticated) -> Reply:
        if auth.external:  # no restauth token to describe; the provider's is the client's
            return self._challenges.forbidden
        grant = self._grant_for(auth)
        body = {
            "userid": grant.userid,
            "valid_until": format_instant(grant.valid_until),
            "created": format_instant(grant.created),
        }
        return json_reply(200, body, self._headers(grant))

    def _logout(self, auth: Authenticated) -> Reply:
        assert self._tokens is not None
        if auth.external:  # logging out of an identity provider happens there
            return self._challenges.forbidden
        backend.call(self._tokens.revoke, auth.identity.userid)
        audit.event("token.revoke", outcome="ok", userid=auth.identity.userid)
        if self._cookie is None:
            return empty_reply(204, NO_STORE)
        return empty_reply(204, [*NO_STORE, self._cookie.delete_cookie()])

    def _roles(self, auth: Authenticated) -> Reply:
        body = {"authenticated": True, "roles": sorted(auth.identity.roles)}
        if self._tokens is None or auth.external:
            return json_reply(200, body)
        return json_reply(200, body, self._headers(self._grant_for(auth)))

    def _forbidden(self, auth: Authenticated) -> Reply:
        reply = self._challenges.forbidden
        if self._tokens is None or auth.external:
            return reply
        headers = [h for h in reply.headers if h[0] != "Cache-Control"]
        return Reply(reply.status, headers + self._headers(self._grant_for(auth)), reply.body)

    def _headers(self, grant: TokenGrant) -> list[Header]:
        return [*self._headers_for(grant), *NO_STORE]


def _path_userid(raw: str) -> str | None:
    """The userid in a path: PEP 3333 hands bytes as Latin-1; the userid is UTF-8."""
    try:
        return normalize(raw.encode("latin-1").decode("utf-8"))
    except UnicodeError:
        return None


_NOT_CREDENTIALS = problem(400, "Send JSON or a form with string 'username' and 'password'.")
_UNKNOWN_CHARSET = problem(415, "Send the login form in UTF-8 or another charset Python knows.")


def _body_credentials(request: Request) -> BasicCredentials | Malformed | Reply:
    """``username``/``password`` from a JSON object or an urlencoded form, checked by the
    rules Basic applies (:class:`Malformed` if they break one), else a 400 or 415.

    The form is parsed here, not by WebOb: its ``POST`` raises on a charset other than
    UTF-8, and a client's choice of charset must never look like a backend failure.
    """
    try:
        raw = request.body
        if request.content_type == "application/json" or request.content_type.endswith("+json"):
            data = json.loads(raw.decode("utf-8"))
        elif request.content_type == _FORM:
            charset = request.charset or "utf-8"  # %XX and raw bytes alike (curl -d sends raw)
            pairs = parse_qsl(raw.decode(charset), True, encoding=charset, errors="strict")
            data = dict(pairs)
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
