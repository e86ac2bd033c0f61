"""The session endpoints: log in, rotate, describe and list, end one, end all.

A session is what one login (one device, one client) holds; its public id is listed and
ends it, its token is never shown again after it was issued. Every answer that hands a
token back says ``Cache-Control: no-store``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from restauth import audit, backend
from restauth._text import has_refused_character
from restauth.authenticator import Authenticated
from restauth.endpoints.login_body import LoginBody, read_login_body
from restauth.tokens.base import Session, TokenGrant, TokenManager
from restauth.users.base import UserStore
from restauth.wire.credentials import Malformed
from restauth.wire.request import Request
from restauth.wire.responses import Header, Reply, empty_reply, json_reply, problem
from restauth.wire.token_headers import EXPOSE_TOKEN_HEADERS, NO_STORE, format_instant

if TYPE_CHECKING:
    from restauth.gate import Gate
    from restauth.options import Options

_RENEW_NEEDS_TOKEN = problem(400, "renew=true rotates a token: authenticate with the token.")
_BAD_FLAG = problem(400, "A flag in the query must be true or false.")
_NO_SUCH_SESSION = problem(404, "There is no such session.")
_NO_SUCH_USER = problem(404, "There is no such user.")
_TRUE, _FALSE = ("true", "1", "yes", ""), ("false", "0", "no")  # a bare ?all is true


class SessionEndpoints:
    """``POST /tokens`` and ``/tokens/<userid>[/<session>]``."""

    def __init__(self, options: Options, gate: Gate) -> None:
        self._tokens = options.tokens
        self._users = options.users
        self._cookie = options.cookie
        self._proxies = options.proxies
        self._admin_role = options.admin_role
        self._gate = gate
        self._challenges = gate.challenges

    # -- POST /tokens -------------------------------------------------------------------

    def login(self, request: Request) -> Reply:
        """A new session (or, with ``?renew=true``, a new token for the caller's)."""
        cookie = self._cookie
        if cookie is not None and not cookie.csrf_ok(request, self._proxies.origin):
            assert self._gate.csrf_refused is not None  # login CSRF: never set a cookie cross-site
            audit.event("csrf.refused", outcome="403", level=logging.INFO)
            return self._gate.csrf_refused
        renew = _flag(request, "renew")
        if renew is None:
            return _BAD_FLAG
        if renew:
            return self._renew(request)
        body = read_login_body(request)
        if isinstance(body, Reply):
            return body
        if body is not None and isinstance(body.credentials, Malformed):  # as Basic would: 401
            audit.event("credentials.malformed", outcome="login_body", level=logging.DEBUG)
            return self._challenges.plain_unauthorized
        auth = self._login_auth(request, body)
        if not isinstance(auth, Authenticated):
            return auth
        if auth.grant is not None:  # logged in with a token: that session, not a new one
            return self.issued(auth, auth.grant, request, "token")
        client = body.client if body is not None and body.client is not None else None
        grant = self._gate.start_session(auth, "login", client or _user_agent(request))
        return self.issued(auth, grant, request, "login")

    def _login_auth(self, request: Request, body: LoginBody | None) -> Authenticated | Reply:
        credentials = None if body is None else body.credentials
        assert not isinstance(credentials, Malformed)
        auth = self._gate.authenticate(request, credentials)
        if not isinstance(auth, Authenticated):
            if isinstance(auth, Reply) and not auth.status.startswith("401"):
                return auth  # 400, 403, 429, 431, 503: same answer as anywhere else
            return self._challenges.plain_unauthorized  # a login form never gets a challenge
        if auth.external:  # an identity provider's token is not exchanged for a restauth one
            return self._challenges.forbidden
        return auth

    def _renew(self, request: Request) -> Reply:
        auth = self._gate.authenticate(request)
        if auth is None:
            return self._challenges.plain_unauthorized
        if isinstance(auth, Reply):  # a dead token: 401 invalid_token, as on any path
            return auth
        if auth.external:
            return self._challenges.forbidden
        if auth.grant is None:
            return _RENEW_NEEDS_TOKEN
        tokens = self._manager()
        grant = backend.call(tokens.renew, auth.grant.token)
        if grant is None:  # ended or rotated by another request meanwhile
            return self._challenges.invalid_token
        return self.issued(auth, grant, request, "renew")

    def issued(self, auth: Authenticated, grant: TokenGrant, request: Request, how: str) -> Reply:
        body = {
            "token": grant.token,
            "userid": auth.identity.userid,
            "roles": sorted(auth.identity.roles),
            "session": grant.session,
            "valid_until": format_instant(grant.valid_until),
        }
        if how != "token":
            audit.event(
                "token.issue",
                outcome="ok",
                userid=grant.userid,
                session=grant.session,
                address=self._proxies.client_address(request),
                mechanism=how,
            )
        headers = self._headers_for(grant)
        if self._cookie is not None:  # the token travels only in Set-Cookie (ASVS 5.0 3.3.4)
            del body["token"]
            headers.append(self._cookie.set_cookie(grant.token))
        return json_reply(200, body, headers)

    # -- /tokens/<userid>[/<session>] ----------------------------------------------------

    def tokens_of(self, request: Request, rest: str | None) -> Reply:
        """``/tokens/<rest>``: a userid, or (``DELETE`` only) a userid and a session id.

        The server decodes ``%2F`` before restauth sees the path, so a userid may hold a
        ``/``: the caller's own userid is matched whole first; for an admin, a userid that
        exists is matched whole before the last ``/`` is taken to start a session id
        (session ids never hold one). With ``all`` the whole rest is a userid.
        """
        auth = self._caller(request)
        if isinstance(auth, Reply):
            return auth
        everything = _flag(request, "all")
        if everything is None:
            return _BAD_FLAG
        mine = auth.identity.userid
        if rest is None or has_refused_character(rest):  # no userid or session holds one
            return self._no_such_user(auth, request)
        if request.method == "GET" or everything or rest == mine:
            return self._user_sessions(auth, request, rest, everything=everything)
        if rest.startswith(mine + "/"):
            return self._end_one(auth, request, mine, rest[len(mine) + 1 :])
        if not self._is_admin(auth):
            return self.forbidden(auth, request)
        if self._exists(rest):  # an admin's DELETE of another user: all of their sessions
            return self._end_all(auth, request, rest, own=False)
        userid, slash, session = rest.rpartition("/")
        if slash and session and self._exists(userid):
            return self._end_one(auth, request, userid, session)
        return _NO_SUCH_USER

    def _user_sessions(
        self, auth: Authenticated, request: Request, userid: str, *, everything: bool
    ) -> Reply:
        """``GET``: this session and the user's sessions; ``DELETE``: end this one or all."""
        own = userid == auth.identity.userid
        if not own:
            if not self._is_admin(auth):
                return self.forbidden(auth, request)
            if not self._exists(userid):  # an admin may learn which users exist
                return _NO_SUCH_USER
        if request.method == "GET":
            return self._describe(auth, request, userid, own)
        if everything or not own:  # an admin's plain DELETE of another user: all of them
            return self._end_all(auth, request, userid, own=own)
        return self._end_calling(auth, request)

    def _end_one(self, auth: Authenticated, request: Request, userid: str, session: str) -> Reply:
        """``DELETE /tokens/<userid>/<session>``: end one of the user's sessions."""
        own = userid == auth.identity.userid
        if not own and not self._is_admin(auth):
            return self.forbidden(auth, request)
        if not backend.call(self._manager().end, userid, session):
            return self._with_token_headers(_NO_SUCH_SESSION, auth, request)
        self._ended(request, userid, session, None if own else auth.identity.userid)
        calling = own and auth.grant is not None and auth.grant.session == session
        return self._logged_out(calling)

    def _describe(self, auth: Authenticated, request: Request, userid: str, own: bool) -> Reply:
        grant = self._gate.grant_for(auth, request)
        sessions = backend.call(self._manager().sessions, userid)
        stamp = auth.stamp if own else _stamp_of(self._users, userid)
        listed = [
            _session_json(session, current=own and session.id == grant.session)
            for session in sessions
            if session.stamp == stamp
        ]
        if own:
            body: dict[str, object] = {
                "userid": grant.userid,
                "session": grant.session,
                "created": format_instant(grant.created),
                "valid_until": format_instant(grant.valid_until),
                "sessions": listed,
            }
        else:
            body = {"userid": userid, "sessions": listed}
        return json_reply(200, body, self._headers_for(grant))

    def _end_calling(self, auth: Authenticated, request: Request) -> Reply:
        """End the caller's session: the token's, or, for a password, the basic one."""
        userid, tokens = auth.identity.userid, self._manager()
        if auth.grant is not None:
            session: str | None = auth.grant.session
        else:
            basic = [s for s in backend.call(tokens.sessions, userid) if s.kind == "basic"]
            session = basic[0].id if basic else None
        if session is not None and backend.call(tokens.end, userid, session):
            self._ended(request, userid, session)
        return self._logged_out(calling=True)

    def _end_all(self, auth: Authenticated, request: Request, userid: str, *, own: bool) -> Reply:
        count = backend.call(self._manager().revoke, userid)
        audit.event(
            "token.revoke",
            outcome=f"all:{count}",
            userid=userid,
            address=self._proxies.client_address(request),
            mechanism=None if own else f"admin:{auth.identity.userid}",
        )
        return self._logged_out(calling=own)

    def _ended(self, request: Request, userid: str, session: str, admin: str | None = None) -> None:
        audit.event(
            "token.revoke",
            outcome="ok",
            userid=userid,
            session=session,
            address=self._proxies.client_address(request),
            mechanism=None if admin is None else f"admin:{admin}",
        )

    def _logged_out(self, calling: bool) -> Reply:
        """204; the cookie is deleted when the caller's own session ended."""
        if self._cookie is None or not calling:
            return empty_reply(204, NO_STORE)
        return empty_reply(204, [*NO_STORE, self._cookie.delete_cookie()])

    # -- shared -------------------------------------------------------------------------

    def _caller(self, request: Request) -> Authenticated | Reply:
        auth = self._gate.authenticate(request)
        if auth is None:
            return self._challenges.unauthorized
        if isinstance(auth, Reply):
            return auth
        if auth.external:  # an identity provider's caller has no restauth session
            return self._challenges.forbidden
        return auth

    def _no_such_user(self, auth: Authenticated, request: Request) -> Reply:
        """A path naming nobody: 404 for an admin, the usual 403 for anyone else (who may
        not learn which users exist)."""
        return _NO_SUCH_USER if self._is_admin(auth) else self.forbidden(auth, request)

    def _exists(self, userid: str) -> bool:
        return _stamp_of(self._users, userid) is not None

    def _is_admin(self, auth: Authenticated) -> bool:
        role = self._admin_role
        return role is not None and role in auth.identity.roles

    def forbidden(self, auth: Authenticated, request: Request) -> Reply:
        """403, with the caller's own token headers (they are still logged in)."""
        return self._with_token_headers(self._challenges.forbidden, auth, request)

    def _with_token_headers(self, reply: Reply, auth: Authenticated, request: Request) -> Reply:
        """A refusal to a logged-in caller carries their token headers, as any answer does."""
        if self._tokens is None or auth.external:
            return reply
        headers = [h for h in reply.headers if h[0] != "Cache-Control"]
        return Reply(reply.status, headers + self.headers(auth, request), reply.body)

    def headers(self, auth: Authenticated, request: Request) -> list[Header]:
        """The caller's token headers (a Basic caller's: its basic session's)."""
        return self._headers_for(self._gate.grant_for(auth, request))

    def _headers_for(self, grant: TokenGrant) -> list[Header]:
        """The token headers, exposed to cross-origin scripts as on every other answer."""
        return [*self._gate.token_headers(grant), EXPOSE_TOKEN_HEADERS, *NO_STORE]

    def _manager(self) -> TokenManager:
        assert self._tokens is not None  # these endpoints exist only with tokens
        return self._tokens


def _session_json(session: Session, *, current: bool) -> dict[str, object]:
    return {
        "id": session.id,
        "kind": session.kind,
        "client": session.client,
        "created": format_instant(session.created),
        "last_used": format_instant(session.last_used),
        "valid_until": format_instant(session.valid_until),
        "current": current,
    }


def _stamp_of(users: UserStore, userid: str) -> str | None:
    """The user's credential stamp now (``None`` for a user who is gone: nothing listed)."""
    user = backend.call(users.get, userid)
    return None if user is None else user.stamp


def _user_agent(request: Request) -> str:
    return request.header("user-agent") or ""


def _flag(request: Request, name: str) -> bool | None:
    """A ``true``/``false`` query flag (absent: false; bare, ``?all``: true); ``None``
    for anything else (answered 400: a typo must not silently mean false)."""
    pairs = parse_qsl(request.query, keep_blank_values=True)
    verdicts = {_verdict(value) for key, value in pairs if key == name}
    if not verdicts:
        return False
    if len(verdicts) > 1 or None in verdicts:  # ?all=maybe, ?all=true&all=false: 400
        return None
    return verdicts.pop()


def _verdict(value: str) -> bool | None:
    value = value.strip().lower()
    if value in _TRUE:
        return True
    return False if value in _FALSE else None
