"""Password reset and verification: ``POST /users/password-reset`` (and ``/confirm``),
``POST /users/verification`` (and ``/confirm``).

A request for a token is answered 202 at once, the same way and after the same work
whether or not the user exists: the lookup, the token and the notification happen on
the :class:`~restauth.accounts.outbox.Outbox`'s thread. A confirmation uses the token
once; a reset ends every session of the user.
"""

from __future__ import annotations

from restauth import audit, backend
from restauth._text import has_refused_character, normalize
from restauth.endpoints.account_common import EXPECTED, AccountContext, string_field
from restauth.endpoints.json_body import read_json_object
from restauth.errors import UnknownUser
from restauth.notify import PASSWORD_RESET, VERIFY, Purpose
from restauth.wire.request import Request
from restauth.wire.responses import Reply, empty_reply, problem
from restauth.wire.token_headers import NO_STORE

_BAD_TOKEN = problem(400, "The token is not valid: it was used, replaced or expired. Ask again.")
_PER_USER_ALLOWANCE = "user"  # the limiter kind that bounds mails to one user


class RecoveryEndpoints:
    """The four one-time-token endpoints."""

    def __init__(self, context: AccountContext) -> None:
        self.context = context

    def handle(self, request: Request, action: str) -> Reply:
        """One of the four actions (served only with a notifier: see the router)."""
        body = read_json_object(request)
        if isinstance(body, Reply):
            return body
        if action == "password-reset":
            return self._request(request, body, PASSWORD_RESET)
        if action == "verification":
            return self._request(request, body, VERIFY)
        if action == "password-reset/confirm":
            return self._confirm_reset(request, body)
        return self._confirm_verification(request, body)

    # -- asking for a token -------------------------------------------------------------

    def _request(self, request: Request, body: dict[str, object], purpose: Purpose) -> Reply:
        limited = self.context.limited(purpose, request)
        if limited is not None:
            return limited
        username = string_field(body, "username")
        if isinstance(username, Reply):
            return username
        userid = normalize(username)
        if not has_refused_character(userid):  # no userid holds one: nobody to look up
            self.context.outbox.put(lambda: self._send(userid, purpose))
        return empty_reply(202, NO_STORE)

    def send_verification(self, userid: str) -> None:
        self.context.outbox.put(lambda: self._send(userid, VERIFY))

    def _send(self, userid: str, purpose: Purpose) -> None:
        """On the outbox thread: a token for a user who may have one, and its delivery."""
        context = self.context
        notifier = context.settings.notifier
        user = context.store.get(userid)
        resetting = purpose == PASSWORD_RESET
        wanted = user is not None and (
            user.active if resetting else not user.verified and not user.disabled
        )
        if user is None or notifier is None or not wanted:
            audit.event("account." + purpose, outcome="nobody", userid=userid)
            return
        if context.limiter.admit(_PER_USER_ALLOWANCE, userid):  # a mailbox is not a target
            audit.event("account." + purpose, outcome="limited", userid=userid)
            return
        settings = context.settings
        ttl = settings.reset_ttl if resetting else settings.verify_ttl
        token = context.one_time.issue(user, purpose, ttl)
        notifier(user.userid, purpose, token)
        audit.event("account." + purpose, outcome="sent", userid=user.userid)

    # -- using one ----------------------------------------------------------------------

    def _confirm_reset(self, request: Request, body: dict[str, object]) -> Reply:
        context = self.context
        token, new = string_field(body, "token"), string_field(body, "new_password")
        if isinstance(token, Reply):
            return token
        if isinstance(new, Reply):
            return new
        found = backend.call(context.one_time.find, token, PASSWORD_RESET)
        if found is None:
            return _BAD_TOKEN
        record, user = found
        policy = context.store.policy
        if policy is not None:  # before the token is used: a refused password can retry
            try:
                policy.check(new, user.userid)
            except ValueError as error:
                return problem(400, str(error))
        if not backend.call(context.one_time.use, record):
            return _BAD_TOKEN  # another request used it first
        try:
            backend.call_expecting(EXPECTED, context.store.set_password, user.userid, new)
        except (UnknownUser, ValueError):
            return _BAD_TOKEN
        context.end_sessions(user.userid)
        context.event("password.reset", request, "ok", user.userid)
        return empty_reply(204, NO_STORE)

    def _confirm_verification(self, request: Request, body: dict[str, object]) -> Reply:
        context = self.context
        token = string_field(body, "token")
        if isinstance(token, Reply):
            return token
        found = backend.call(context.one_time.find, token, VERIFY)
        if found is None or not backend.call(context.one_time.use, found[0]):
            return _BAD_TOKEN
        userid = found[1].userid
        try:
            backend.call_expecting(EXPECTED, context.store.update, userid, verified=True)
        except UnknownUser:
            return _BAD_TOKEN
        context.event("account.verified", request, "ok", userid)
        return empty_reply(204, NO_STORE)
