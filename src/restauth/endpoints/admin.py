"""Administration of users, for holders of the middleware's ``admin_role``:
``GET /users`` (a page), ``PATCH /users/<userid>`` (roles, disabled, verified, email),
``DELETE /users/<userid>``. (``POST /users`` by an admin creates a user: see
:mod:`.accounts`.) Anyone else: 401 without credentials, 403 with.
"""

from __future__ import annotations

from types import EllipsisType
from urllib.parse import parse_qsl

from restauth import backend
from restauth._text import has_refused_character
from restauth.authenticator import Authenticated
from restauth.endpoints.account_common import (
    EXPECTED,
    NO_SUCH_USER,
    AccountContext,
    field_error,
    profile,
    profile_reply,
)
from restauth.endpoints.json_body import read_json_object
from restauth.errors import UnknownUser
from restauth.wire.request import Request
from restauth.wire.responses import Reply, empty_reply, json_reply, problem
from restauth.wire.token_headers import NO_STORE

_PATCHABLE = ("roles", "disabled", "verified", "email")
_BAD_PAGE = problem(400, "'limit' must be a whole number from 1 to the largest page, and "
                         "'after' a userid.")  # fmt: skip


class AdminEndpoints:
    """What only an administrator may do."""

    def __init__(self, context: AccountContext) -> None:
        self.context = context

    def _admin(self, request: Request) -> Authenticated | Reply:
        context = self.context
        auth = context.caller(request)
        if isinstance(auth, Reply):
            return auth
        return auth if context.is_admin(auth) else context.forbidden(auth, request)

    def list(self, request: Request) -> Reply:
        """``GET /users?limit=50&after=<userid>``: a page, and where the next one starts."""
        auth = self._admin(request)
        if isinstance(auth, Reply):
            return auth
        context, settings = self.context, self.context.settings
        page = _page_query(request.query, settings.page_size, settings.max_page_size)
        if page is None:
            return context.ok(auth, request, _BAD_PAGE)
        after, limit = page
        if after is not None and has_refused_character(after):
            return context.ok(auth, request, _BAD_PAGE)
        users = backend.call(context.store.page, after, limit)
        following = users[-1].userid if len(users) == limit else None
        body = {"users": [profile(user) for user in users], "next": following}
        return context.ok(auth, request, json_reply(200, body, NO_STORE))

    def handle(self, request: Request, userid: str | None) -> Reply:
        """``PATCH`` or ``DELETE`` of one user."""
        auth = self._admin(request)
        if isinstance(auth, Reply):
            return auth
        if userid is None:
            return self.context.ok(auth, request, NO_SUCH_USER)
        if request.method == "DELETE":
            return self._delete(request, auth, userid)
        return self._patch(request, auth, userid)

    def _patch(self, request: Request, auth: Authenticated, userid: str) -> Reply:
        context = self.context
        body = read_json_object(request)
        if isinstance(body, Reply):
            return context.ok(auth, request, body)
        changes = _changes(body)
        if isinstance(changes, Reply):
            return context.ok(auth, request, changes)
        roles, email, verified, disabled = changes
        try:
            user = backend.call_expecting(
                EXPECTED, context.store.update, userid,
                roles=roles, email=email, verified=verified, disabled=disabled,
            )  # fmt: skip
        except UnknownUser:
            return context.ok(auth, request, NO_SUCH_USER)
        except ValueError as error:  # restauth's rules name the rule, not the value
            return context.ok(auth, request, problem(400, str(error)))
        context.event("account.update", request, ",".join(sorted(body)), user.userid, auth)
        if not user.active:
            context.end_sessions(user.userid)
            if user.userid == auth.identity.userid:  # an admin who disabled themselves
                return profile_reply(200, user)  # is logged out: no token to hand back
        return context.ok(auth, request, profile_reply(200, user))

    def _delete(self, request: Request, auth: Authenticated, userid: str) -> Reply:
        context = self.context
        if not backend.call(context.store.remove, userid):
            return context.ok(auth, request, NO_SUCH_USER)
        context.end_sessions(userid)
        context.event("account.delete", request, "ok", userid, auth)
        if userid == auth.identity.userid:  # an admin who removed themselves is logged out
            return empty_reply(204, NO_STORE)
        return context.ok(auth, request, empty_reply(204, NO_STORE))


def _changes(
    body: dict[str, object],
) -> tuple[list[str] | None, str | EllipsisType | None, bool | None, bool | None] | Reply:
    """The fields a ``PATCH`` body changes, type-checked; anything else is 400."""
    unknown = set(body) - set(_PATCHABLE)
    if unknown or not body:
        return problem(400, "Send one or more of: " + ", ".join(_PATCHABLE) + ".")
    roles = body.get("roles")
    if roles is not None and (
        not isinstance(roles, list) or not all(isinstance(r, str) for r in roles)
    ):
        return field_error("roles", "a list of role names")
    flags: list[bool | None] = []
    for name in ("verified", "disabled"):
        value = body.get(name)
        if value is not None and not isinstance(value, bool):
            return field_error(name, "true or false")
        flags.append(value)
    email = body.get("email", ...)
    if not isinstance(email, str | None | EllipsisType):
        return field_error("email", "a string or null")
    return roles, email, flags[0], flags[1]


def _page_query(query: str, default: int, largest: int) -> tuple[str | None, int] | None:
    """``after`` and ``limit`` from the query, or ``None`` when either is malformed."""
    after: str | None = None
    limit = default
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == "after":
            after = value or None
        elif name == "limit":
            if not (value.isascii() and value.isdigit() and len(value) <= 6):
                return None  # "²" is a digit to isdigit, not to int; 5,000 digits is a bug
            if not 1 <= int(value) <= largest:
                return None
            limit = int(value)
    return after, limit
