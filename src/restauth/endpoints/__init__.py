"""restauth's own REST endpoints: sessions under ``tokens_path``, roles under ``roles_path``,
accounts under the accounts path (when enabled: :mod:`.accounts`).

``POST /tokens`` logs in (a new session; ``?renew=true`` rotates the caller's token),
``GET /tokens/<userid>`` describes the calling session and lists the user's sessions,
``DELETE /tokens/<userid>`` ends the calling session (``?all=true``: every one),
``DELETE /tokens/<userid>/<session>`` ends one, ``GET /roles/<userid>`` tells the roles.
Another user's resource is 403 (an ``admin_role`` holder may list and end other users'
sessions); no or bad credentials are 401. This module routes; :mod:`.sessions` answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from restauth.endpoints.accounts import AccountEndpoints
from restauth.endpoints.sessions import SessionEndpoints
from restauth.wire.credentials import normalize
from restauth.wire.request import Request
from restauth.wire.responses import Reply, json_reply, problem

if TYPE_CHECKING:
    from restauth.gate import Gate
    from restauth.options import Options

__all__ = ["Endpoints"]

_POST = problem(405, extra=[("Allow", "POST")])
_GET = problem(405, extra=[("Allow", "GET")])
_GET_DELETE = problem(405, extra=[("Allow", "GET, DELETE")])


class Endpoints:
    """Routes requests under ``tokens_path`` and ``roles_path``; every one is
    authenticated by the same :class:`~restauth.gate.Gate` as any other request."""

    def __init__(self, options: Options, gate: Gate) -> None:
        self._enabled = options.tokens is not None
        self._gate = gate
        self._sessions = SessionEndpoints(options, gate)
        self.tokens_path = options.tokens_path
        self.roles_path = options.roles_path
        self._tokens_prefix = options.tokens_path + "/"
        self._roles_prefix = options.roles_path + "/"
        self.accounts = None
        if options.accounts is not None:
            self.accounts = AccountEndpoints(options, gate, self._sessions)
        prefixes, exact = [self._roles_prefix], set()
        if self._enabled:
            prefixes.append(self._tokens_prefix)
            exact.add(self.tokens_path)
        if self.accounts is not None:
            prefixes.append(self.accounts.path + "/")
            exact.add(self.accounts.path)
        self._prefixes, self._exact = tuple(prefixes), frozenset(exact)

    def owns(self, path: str) -> bool:
        """True for the paths these endpoints answer (checked on every request: one
        ``startswith`` of a tuple and one set lookup, however many endpoints are on)."""
        return path.startswith(self._prefixes) or path in self._exact

    def methods(self, path: str) -> tuple[str, ...]:
        """The methods ``path`` answers (what a preflight for it allows)."""
        if self.accounts is not None and self.accounts.owns(path):
            return self.accounts.methods(path)
        if path == self.tokens_path:
            return ("POST",)
        if path.startswith(self._roles_prefix):
            return ("GET",)
        return ("GET", "DELETE")

    def handle(self, request: Request) -> Reply:
        path, method = request.path, request.method
        if self.accounts is not None and self.accounts.owns(path):
            return self.accounts.handle(request)
        if path == self.tokens_path:
            return self._sessions.login(request) if method == "POST" else _POST
        if path.startswith(self._roles_prefix):
            if method != "GET":
                return _GET
            return self._roles(request, path[len(self._roles_prefix) :])
        if method not in ("GET", "DELETE"):
            return _GET_DELETE
        rest = _path_segment(path[len(self._tokens_prefix) :])
        return self._sessions.tokens_of(request, rest)

    def _roles(self, request: Request, raw_userid: str) -> Reply:
        auth = self._gate.authenticate(request)
        if auth is None:
            return self._gate.challenges.unauthorized
        if isinstance(auth, Reply):
            return auth
        if _path_segment(raw_userid) != auth.identity.userid:
            return self._sessions.forbidden(auth, request)
        body = {"authenticated": True, "roles": sorted(auth.identity.roles)}
        if not self._enabled or auth.external:
            return json_reply(200, body)
        return json_reply(200, body, self._sessions.headers(auth, request))


def _path_segment(raw: str) -> str | None:
    """A path's rest as text: PEP 3333 hands bytes as Latin-1; userids are UTF-8."""
    try:
        return normalize(raw.encode("latin-1").decode("utf-8"))
    except UnicodeError:
        return None
