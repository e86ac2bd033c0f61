"""What the account endpoints share: the caller, the store calls, the replies.

Store writes go through :func:`restauth.backend.call_expecting`, so a taken userid or a
refused password is answered (409, 400) while any other failure is an outage (503).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import quote

from restauth import audit, backend
from restauth.accounts import Accounts
from restauth.accounts.limiter import RequestLimiter
from restauth.accounts.one_time import OneTimeTokens
from restauth.accounts.outbox import Outbox
from restauth.authenticator import Authenticated
from restauth.errors import UnknownUser, UserExists
from restauth.throttle.policy import MemoryThrottleStore
from restauth.users.base import AccountStore, User
from restauth.wire.request import Request
from restauth.wire.responses import Header, Reply, json_reply, problem
from restauth.wire.token_headers import NO_STORE, format_instant

if TYPE_CHECKING:
    from restauth.endpoints.sessions import SessionEndpoints
    from restauth.gate import Gate
    from restauth.options import Options

EXPECTED = (UserExists, UnknownUser, ValueError, TypeError)  # answered, never a 503
NO_SUCH_USER = problem(404, "There is no such user.")


class AccountContext:
    """The settings, stores and helpers every account endpoint uses (one per middleware)."""

    def __init__(self, options: Options, gate: Gate, sessions: SessionEndpoints) -> None:
        accounts = options.accounts
        assert accounts is not None
        assert isinstance(options.users, AccountStore)
        self.settings: Accounts = accounts
        self.store: AccountStore = options.users
        self.tokens = options.tokens
        self.gate = gate
        self.sessions = sessions
        self.admin_role = options.admin_role
        self.one_time = OneTimeTokens(self.store)
        self.outbox = Outbox()
        throttle = options.throttle
        counters = throttle.store if throttle is not None else MemoryThrottleStore()
        self.limiter = RequestLimiter(counters, accounts.requests_per_address, accounts.window)
        self.base = accounts.path

    # -- the caller ---------------------------------------------------------------------

    def caller(self, request: Request) -> Authenticated | Reply:
        """The authenticated caller, or the 401 (or other refusal) to send."""
        auth = self.gate.authenticate(request)
        if auth is None:
            return self.gate.challenges.unauthorized
        return auth

    def is_admin(self, auth: Authenticated) -> bool:
        role = self.admin_role
        return role is not None and role in auth.identity.roles

    def ok(self, auth: Authenticated | None, request: Request, reply: Reply) -> Reply:
        """``reply`` with the caller's token headers, as every answer to a logged-in caller."""
        if auth is None or self.tokens is None or auth.external:
            return reply
        headers = [h for h in reply.headers if h[0] not in ("Cache-Control", "Pragma")]
        return Reply(reply.status, headers + self.sessions.headers(auth, request), reply.body)

    def forbidden(self, auth: Authenticated, request: Request) -> Reply:
        return self.ok(auth, request, self.gate.challenges.forbidden)

    def address(self, request: Request) -> str:
        return self.gate.proxies.client_address(request)

    def limited(self, kind: str, request: Request) -> Reply | None:
        """A 429 once this address has made its allowance of ``kind`` requests."""
        wait = backend.call(self.limiter.admit, kind, self.address(request))
        if not wait:
            return None
        audit.event("account.throttle", outcome=kind, address=self.address(request))
        return problem(429, "Too many requests; retry later.", [("Retry-After", str(wait))])

    # -- users ------------------------------------------------------------------------

    def get_user(self, userid: str) -> User | None:
        return backend.call(self.store.get, userid)

    def end_sessions(self, userid: str) -> None:
        """End every session of ``userid`` (the stamp ended them already; this tidies)."""
        if self.tokens is not None:
            backend.call(self.tokens.revoke, userid)

    def location(self, userid: str) -> Header:
        return ("Location", f"{self.base}/{quote(userid, safe='')}")

    def event(
        self,
        name: str,
        request: Request,
        outcome: str,
        userid: str | None = None,
        by: Authenticated | None = None,
    ) -> None:
        """An audit record; ``by`` is the administrator who acted, if one did."""
        admin = None if by is None or by.identity.userid == userid else by.identity.userid
        audit.event(
            name,
            outcome=outcome,
            userid=userid,
            address=self.address(request),
            mechanism=None if admin is None else f"admin:{admin}",
            level=logging.INFO,
        )


def profile(user: User) -> dict[str, object]:
    """What ``/users`` shows of a user: never the hash, nor the stamp."""
    return {
        "userid": user.userid,
        "roles": sorted(user.roles),
        "created": None if user.created is None else format_instant(user.created),
        "verified": user.verified,
        "disabled": user.disabled,
        "email": user.email,
    }


def profile_reply(code: int, user: User, extra: list[Header] | None = None) -> Reply:
    return json_reply(code, profile(user), [*NO_STORE, *(extra or [])])


def field_error(name: str, kind: str) -> Reply:
    return problem(400, f"'{name}' must be {kind}.")


def string_field(body: dict[str, object], name: str) -> str | Reply:
    """A required, non-empty string member of the body."""
    value = body.get(name)
    if not isinstance(value, str) or not value:
        return field_error(name, "a non-empty string")
    return value
