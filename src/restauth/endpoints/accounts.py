"""``/users``: registration, profiles and password changes; the routes of every account
endpoint (:mod:`.recovery` answers resets and verification, :mod:`.admin` the
administration).

``POST /users`` registers (or, for an admin, creates), ``GET /users/<userid>`` shows a
profile (one's own; an admin's any), ``PUT /users/<userid>/password`` changes one's own
password. Another user's resource is 403 whether or not the user exists; only an admin
may learn that (404).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from restauth import backend
from restauth._text import has_refused_character
from restauth.authenticator import Authenticated
from restauth.endpoints.account_common import (
    EXPECTED,
    NO_SUCH_USER,
    AccountContext,
    field_error,
    profile_reply,
    string_field,
)
from restauth.endpoints.admin import AdminEndpoints
from restauth.endpoints.json_body import read_json_object
from restauth.endpoints.recovery import RecoveryEndpoints
from restauth.errors import UnknownUser, UserExists, WeakPassword
from restauth.passwords.hasher import Check
from restauth.users.base import User, check_email, check_roles, check_userid
from restauth.wire.credentials import normalize
from restauth.wire.request import Request
from restauth.wire.responses import Reply, empty_reply, problem
from restauth.wire.token_headers import NO_STORE

if TYPE_CHECKING:
    from restauth.endpoints.sessions import SessionEndpoints
    from restauth.gate import Gate
    from restauth.options import Options

_TAKEN = problem(409, "That username is not available; choose another.")
_WRONG_PASSWORD = problem(400, "The current password is not right.")
_ROLES_BY_ADMIN = problem(403, "Only an administrator may give roles or create verified users.")
_EMAIL_NEEDED = problem(400, "Give an 'email' (or a username that is an address) to verify.")
_ADDRESS_IS_THE_USERID = problem(
    400, "A username that is an address is the address verified: leave 'email' out."
)
_CREATE_METHODS = ("GET", "POST")
_USER_METHODS = ("GET", "PATCH", "DELETE")
_ACTIONS = frozenset(
    {"password-reset", "password-reset/confirm", "verification", "verification/confirm"}
)


def _not_allowed(methods: tuple[str, ...]) -> Reply:
    return problem(405, extra=[("Allow", ", ".join(methods))])


class AccountEndpoints:
    """Routes ``/users`` and everything below it."""

    def __init__(self, options: Options, gate: Gate, sessions: SessionEndpoints) -> None:
        self.context = context = AccountContext(options, gate, sessions)
        self.path = context.base
        self._prefix = context.base + "/"
        self._recovery = RecoveryEndpoints(context)
        self._admin = AdminEndpoints(context)
        # without a notifier no one-time token can be asked for: those names are userids
        self._actions = _ACTIONS if context.settings.notifier is not None else frozenset()
        self._require_https = options.require_https
        self._proxies = options.proxies

    def owns(self, path: str) -> bool:
        return path == self.path or path.startswith(self._prefix)

    def methods(self, path: str) -> tuple[str, ...]:
        """The methods ``path`` answers (what a preflight for it allows)."""
        if path == self.path:
            return _CREATE_METHODS
        rest = path[len(self._prefix) :]
        if rest in self._actions:
            return ("POST", *_USER_METHODS)  # also a user of that name's resource
        if rest.endswith("/password"):
            return ("PUT", *_USER_METHODS)
        return _USER_METHODS

    def handle(self, request: Request) -> Reply:
        path, method = request.path, request.method
        if self._require_https and not self._proxies.is_https(request):
            return self.context.gate.https_required  # passwords and tokens travel in bodies
        if path == self.path:
            if method == "POST":
                return self.register(request)
            return self._admin.list(request) if method == "GET" else _not_allowed(_CREATE_METHODS)
        rest = path[len(self._prefix) :]
        if method == "POST" and rest in self._actions:
            return self._recovery.handle(request, rest)
        if method == "PUT" and rest.endswith("/password"):
            userid = _path_userid(rest[: -len("/password")])
            return self.change_password(request, userid)
        userid = _path_userid(rest)
        if method == "GET":
            return self.show(request, userid)
        if method in ("PATCH", "DELETE"):
            return self._admin.handle(request, userid)
        return _not_allowed(self.methods(path))

    # -- POST /users --------------------------------------------------------------------

    def register(self, request: Request) -> Reply:
        """Self-service registration (``open``, ``verify``), or an admin's creation."""
        context, settings = self.context, self.context.settings
        caller = self._registrar(request)
        if isinstance(caller, Reply):
            return caller
        auth, admin = caller
        body = read_json_object(request)
        if isinstance(body, Reply):
            return body
        new = _new_account(body, admin=admin, default_roles=settings.default_roles)
        if isinstance(new, Reply):
            return context.ok(auth, request, new)
        userid, password, roles, email = new
        verify = not admin and settings.registration == "verify"
        if verify:
            if "@" in userid and email not in (None, userid):
                return _ADDRESS_IS_THE_USERID  # else one could verify another's address
            email = email or (userid if "@" in userid else None)
            if email is None:
                return _EMAIL_NEEDED
        try:
            user = self._enrol(userid, password, roles, email, verify=verify)
        except UserExists:
            context.event("account.register", request, "taken", userid)
            return context.ok(auth, request, _TAKEN)
        except ValueError as error:  # WeakPassword, or a userid or email the store refuses
            return context.ok(auth, request, problem(400, _reason(error)))
        if verify:
            self._recovery.send_verification(user.userid)
        context.event("account.register", request, "verify" if verify else "ok", user.userid, auth)
        reply = profile_reply(201, user, [context.location(user.userid)])
        return context.ok(auth, request, reply)

    def _enrol(
        self, userid: str, password: str, roles: frozenset[str], email: str | None, *, verify: bool
    ) -> User:
        """Add the user. In ``verify`` mode a registration nobody confirmed within
        ``verify_ttl`` no longer holds its userid: it is removed and this one takes its
        place (else whoever registers first could keep a name, an address, for ever)."""
        store = self.context.store

        def add() -> User:
            return backend.call_expecting(
                EXPECTED, store.add, userid, password, roles, email=email, verified=not verify
            )

        try:
            return add()
        except UserExists:
            if not verify or not self._unconfirmed_and_stale(userid):
                raise
        backend.call(store.remove, userid)
        return add()

    def _unconfirmed_and_stale(self, userid: str) -> bool:
        user = self.context.get_user(userid)
        if user is None or user.verified or user.disabled or user.created is None:
            return False
        return user.created + self.context.settings.verify_ttl < time.time()

    def _registrar(self, request: Request) -> tuple[Authenticated | None, bool] | Reply:
        """Who registers: an admin (any mode), or anyone while self-service is on (counted
        per address); else the 401 or 403."""
        context = self.context
        auth = context.gate.authenticate(request)  # None: anonymous
        if isinstance(auth, Reply):
            return auth
        if auth is not None and context.is_admin(auth):
            return auth, True
        if not context.settings.self_service:
            if auth is None:
                return context.gate.challenges.unauthorized
            return context.forbidden(auth, request)
        limited = context.limited("register", request)
        return limited if limited is not None else (auth, False)

    # -- GET /users/<userid> ------------------------------------------------------------

    def show(self, request: Request, userid: str | None) -> Reply:
        context = self.context
        auth = context.caller(request)
        if isinstance(auth, Reply):
            return auth
        own = userid == auth.identity.userid and not auth.external  # an IdP's caller: not ours
        if not own and not context.is_admin(auth):
            return context.forbidden(auth, request)
        user = None if userid is None else context.get_user(userid)
        if user is None:
            return context.ok(auth, request, NO_SUCH_USER)
        return context.ok(auth, request, profile_reply(200, user))

    # -- PUT /users/<userid>/password ---------------------------------------------------

    def change_password(self, request: Request, userid: str | None) -> Reply:
        """One's own password, given the current one (even with a token: a stolen token
        must not be enough to take the account). Every session ends; a caller who came
        with a token gets a new session (its token in the answer), one who came with
        Basic uses the new password from now on."""
        context = self.context
        auth = context.caller(request)
        if isinstance(auth, Reply):
            return auth
        if auth.external or userid != auth.identity.userid:
            return context.forbidden(auth, request)
        body = read_json_object(request)
        if isinstance(body, Reply):
            return context.ok(auth, request, body)
        current, new = string_field(body, "current_password"), string_field(body, "new_password")
        if isinstance(current, Reply) or isinstance(new, Reply):
            refusal = current if isinstance(current, Reply) else new
            assert isinstance(refusal, Reply)
            return context.ok(auth, request, refusal)
        checked = self._check_current(request, auth, current)
        if checked is not None:
            return checked
        try:
            user = backend.call_expecting(EXPECTED, context.store.set_password, userid, new)
        except UnknownUser:  # removed meanwhile
            return context.gate.challenges.unauthorized
        except ValueError as error:
            return context.ok(auth, request, problem(400, _reason(error)))
        label = self._calling_label(auth, request)
        context.end_sessions(user.userid)
        context.event("password.change", request, "ok", user.userid)
        if auth.grant is None or context.tokens is None:
            return empty_reply(204, NO_STORE)
        renewed = Authenticated(auth.identity, user.stamp)
        grant = context.gate.start_session(renewed, "login", label)
        return context.sessions.issued(renewed, grant, request, "password-change")

    def _calling_label(self, auth: Authenticated, request: Request) -> str:
        """The client label of the caller's session, for the session that replaces it."""
        tokens, grant = self.context.tokens, auth.grant
        if tokens is not None and grant is not None:
            for session in backend.call(tokens.sessions, auth.identity.userid):
                if session.id == grant.session:
                    return session.client
        return request.header("user-agent") or ""

    def _check_current(self, request: Request, auth: Authenticated, current: str) -> Reply | None:
        """``None`` when ``current`` is the caller's password; a wrong one is a guess,
        counted by the throttle like a wrong Basic password."""
        context, gate = self.context, self.context.gate
        userid = auth.identity.userid
        user = context.get_user(userid)
        if user is None:
            return gate.challenges.unauthorized
        throttle = gate.authenticator.throttle
        attempt = None
        if throttle is not None:
            attempt = backend.call(throttle.begin, userid, context.address(request))
            if attempt.wait:
                return problem(429, "Too many failed attempts; retry later.",
                               [("Retry-After", str(attempt.wait))])  # fmt: skip
        try:
            verdict = gate.authenticator.hasher.check(normalize(current), user.password_hash)
        except BaseException:
            if attempt is not None:
                attempt.abandoned()
            raise
        if verdict is not Check.MATCH:
            context.event("password.change", request, "wrong_password", userid)
            return context.ok(auth, request, _WRONG_PASSWORD)
        if attempt is not None:
            backend.call(attempt.succeeded)
        return None


def _new_account(
    body: dict[str, object], *, admin: bool, default_roles: frozenset[str]
) -> tuple[str, str, frozenset[str], str | None] | Reply:
    """The userid, password, roles and email a registration body asks for, checked."""
    username, password = string_field(body, "username"), string_field(body, "password")
    if isinstance(username, Reply):
        return username
    if isinstance(password, Reply):
        return password
    unknown = set(body) - {"username", "password", "email", "roles"}
    if unknown:
        return problem(400, "Unknown member(s): " + ", ".join(sorted(map(_safe, unknown))))
    if "roles" in body and not admin:
        return _ROLES_BY_ADMIN
    roles = body.get("roles", list(default_roles))
    email = body.get("email")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        return field_error("roles", "a list of role names")
    if email is not None and not isinstance(email, str):
        return field_error("email", "a string")
    try:
        return check_userid(username), password, check_roles(roles), check_email(email)
    except ValueError as error:  # restauth's own rules: they name the rule, never the value
        return problem(400, str(error))


def _reason(error: ValueError) -> str:
    """A store's refusal for the client: the policy's reason (it names the rule, never
    the password); anything else a store raised, generically (it could echo a value)."""
    return str(error) if isinstance(error, WeakPassword) else "A value is not acceptable."


def _safe(name: str) -> str:
    return name if name.isidentifier() and len(name) <= 40 else "?"


def _path_userid(raw: str) -> str | None:
    """A path's rest as a userid: PEP 3333 hands bytes as Latin-1; userids are UTF-8.
    ``None`` for one no userid can be (undecodable, a control character or NUL)."""
    try:
        userid = normalize(raw.encode("latin-1").decode("utf-8"))
    except UnicodeError:
        return None
    return None if has_refused_character(userid) else userid
