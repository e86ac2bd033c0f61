"""From a request to who is calling: read the credentials, check them, say how it went.

The gate reads ``Authorization`` (or the query token, or the cookie in cookie mode),
refuses credentials sent over plain HTTP, asks the :class:`Authenticator` (which holds
the stores and the throttle), writes the audit record, and answers with an
:class:`Authenticated`, a refusal (:class:`Reply`), or ``None`` for an anonymous
request. It hands out the token a caller gets back. The pipeline and the endpoints both
use it; it knows no server protocol. Store calls (here and in the authenticator) go
through :func:`restauth.backend.call`, so a store that fails raises
:class:`StoreUnavailable` out of here (a 503 upstream); a bug in restauth's own code
raises as itself, and the pipeline logs it as an internal error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qsl, urlencode

from restauth import audit, backend
from restauth.authenticator import Authenticated, Authenticator, Failure, Throttled
from restauth.lookups import TokenLookup
from restauth.options import Options
from restauth.tokens.base import DeadToken, SessionKind, TokenGrant
from restauth.wire.cors import is_preflight
from restauth.wire.credentials import (
    BasicCredentials,
    Credentials,
    Malformed,
    TokenCredentials,
    is_b64token,
    parse_authorization,
)
from restauth.wire.request import Request
from restauth.wire.responses import Challenges, Header, Reply, problem
from restauth.wire.token_headers import token_headers

Outcome = Authenticated | Reply | None


@dataclass(frozen=True, slots=True)
class Reads:
    """What a decision will read from the stores (see :meth:`Gate.reads`): ``"nothing"``
    (no credentials, unreadable ones, or credentials refused unread), ``"token"`` (a Token
    check of ``token``: the token's record, then its user's), or ``"anything"`` (a password
    to check, with bcrypt and the throttle; an identity provider's token)."""

    kind: Literal["nothing", "token", "anything"]
    token: str = ""


NOTHING, ANYTHING = Reads("nothing"), Reads("anything")


class Gate:
    """Authenticates requests for one set of :class:`Options`."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.proxies = options.proxies
        self._bearer_scheme = options.bearer_scheme  # read on every request: kept at hand
        self._require_https = options.require_https
        self.authenticator = Authenticator(
            options.users,
            options.tokens,
            options.hasher,
            cache=options.password_cache,
            bearers=options.bearers,
            throttle=options.throttle,
        )
        self.challenges = Challenges(options.realm, tokens_enabled=options.bearer_scheme)
        self.https_required = problem(
            403, "Credentials must be sent over HTTPS; this request used plain HTTP."
        )
        self.csrf_refused = options.cookie.csrf_refusal() if options.cookie else None
        self._malformed = {
            Malformed.BASIC: self.challenges.unauthorized,
            Malformed.TOKEN: self.challenges.bad_request,
            Malformed.AMBIGUOUS: self.challenges.bad_request,
            Malformed.TOO_LARGE: self.challenges.too_large,
        }

    def authenticate(
        self,
        request: Request,
        credentials: Credentials | None = None,
        looked_up: TokenLookup | None = None,
    ) -> Outcome:
        """The caller's identity, a refusal to send, or ``None`` for an anonymous request.

        ``credentials`` are given by the login endpoint (from its body); otherwise they
        are read from the request. ``looked_up``: the Token check's reads, done ahead
        (see :meth:`reads`), or :data:`~restauth.lookups.DEFER_HASH_CHECK`.
        """
        if credentials is None:
            found = self._read_credentials(request)
            if found is None:
                if self.options.cookie is None:
                    return None
                return self._authenticate_cookie(request, looked_up)
            if isinstance(found, Reply):
                return found
            credentials = found
        if self._require_https and not self.proxies.is_https(request):
            return self.https_required
        return self._verify(request, credentials, looked_up)

    def reads(self, request: Request) -> Reads:
        """What deciding ``request`` will read from the stores, worked out from the request
        alone (no store asked, nothing logged): the ASGI adapter decides by it where the
        decision runs. It reads the credentials as :meth:`authenticate` does
        (:meth:`_presented`, then the cookie)."""
        if request.method == "OPTIONS" and is_preflight(request):
            return NOTHING  # a preflight is answered without reading credentials
        if self._require_https and not self.proxies.is_https(request):
            return NOTHING  # refused (403) or anonymous before any store is asked
        found = self._presented(request)
        if found is None:
            token = self._cookie_token(request)
            return NOTHING if token is None else Reads("token", token)  # never an IdP's
        if isinstance(found, Reply):
            return NOTHING
        if isinstance(found, Malformed):  # unreadable Basic may be read again as Basic
            again = found is Malformed.BASIC and self.options.basic_charset_fallback is not None
            return ANYTHING if again else NOTHING
        if isinstance(found, BasicCredentials):
            return ANYTHING
        if any(bearer.handles(found.token) for bearer in self.authenticator.bearers):
            return ANYTHING  # an identity provider's keys may be fetched
        return Reads("token", found.token)

    def grant_for(self, auth: Authenticated, request: Request) -> TokenGrant:
        """The token to hand back: the one presented, else the user's basic session's
        (RESTHeart answers every Basic request with a token; one session serves them all,
        so a script using Basic does not start a session per request)."""
        if auth.grant is not None:
            return auth.grant
        tokens = self.options.tokens
        assert tokens is not None
        try:  # start_session, inlined: every Basic request comes here
            return tokens.issue(
                auth.identity.userid, auth.stamp, kind="basic",
                client=request.header("user-agent") or "",
            )  # fmt: skip
        except Exception as error:  # backend.call's rule, with keywords
            raise backend.failed(tokens.issue, error) from error

    def start_session(self, auth: Authenticated, kind: SessionKind, client: str) -> TokenGrant:
        """A new session of ``kind`` for the caller (the basic one: reused while alive)."""
        tokens = self.options.tokens
        assert tokens is not None
        try:
            return tokens.issue(auth.identity.userid, auth.stamp, kind=kind, client=client)
        except Exception as error:  # backend.call's rule, with keywords
            raise backend.failed(tokens.issue, error) from error

    def token_headers(self, grant: TokenGrant) -> list[Header]:
        """The headers an authenticated response carries; in cookie mode, never the token."""
        headers = token_headers(grant, self.options.tokens_path)
        if self.options.cookie is None:
            return headers
        return [*headers[1:], ("Vary", "Cookie")]

    # -- reading ----------------------------------------------------------------------

    def _presented(self, request: Request) -> Credentials | Malformed | Reply | None:
        """The credentials ``request`` presents, read without a side effect: the query
        token, else the ``Authorization`` header; ``None`` for neither (then, in cookie
        mode, the cookie is read)."""
        header = request.header("authorization")
        name = self.options.query_token
        if name is not None and name in request.query:
            token = query_token(request.query, name)[0]
            if token is not None:
                if header is not None or not is_b64token(token):
                    return self.challenges.bad_request  # two credentials, or a malformed one
                return TokenCredentials(token, "bearer")
        return parse_authorization(
            header, tokens_enabled=self._bearer_scheme, max_size=self.options.max_header_size
        )

    def _read_credentials(self, request: Request) -> Credentials | Reply | None:
        found = self._presented(request)
        if isinstance(found, Malformed):
            return self._malformed_reply(request.header("authorization"), found)
        return found

    def _cookie_token(self, request: Request) -> str | None:
        """The token cookie's value, when it is one (a stale or odd cookie is no credential)."""
        cookie = self.options.cookie
        token = None if cookie is None else cookie.read(request)
        return token if token is not None and is_b64token(token) else None

    def _malformed_reply(self, header: str | None, parsed: Malformed) -> Credentials | Reply:
        """The answer to an unreadable header; Basic that is not UTF-8 is read again with
        ``basic_charset_fallback``, here, so the option costs nothing on any other path."""
        fallback = self.options.basic_charset_fallback
        if parsed is Malformed.BASIC and fallback is not None:
            again = parse_authorization(
                header,
                tokens_enabled=False,
                max_size=self.options.max_header_size,
                basic_fallback=fallback,
            )
            if isinstance(again, BasicCredentials):
                return again
        audit.event("credentials.malformed", outcome=parsed.name.lower(), level=logging.DEBUG)
        return self._malformed[parsed]

    def _authenticate_cookie(self, request: Request, looked_up: TokenLookup | None) -> Outcome:
        """A valid token cookie, or ``None``: a stale cookie makes a request anonymous, not 401."""
        cookie = self.options.cookie
        assert cookie is not None
        token = self._cookie_token(request)
        if token is None:
            return None
        proxies = self.proxies
        if self._require_https and not proxies.is_https(request):
            return self.https_required
        credentials = TokenCredentials(token, "cookie")
        outcome = self.authenticator.authenticate(credentials, None, looked_up)
        if not isinstance(outcome, Authenticated):
            if isinstance(outcome, DeadToken):
                self._dead_token(request, outcome)
            return None
        if not cookie.csrf_ok(request, proxies.origin):
            assert self.csrf_refused is not None
            return self.csrf_refused
        return outcome

    # -- checking ---------------------------------------------------------------------

    def _verify(
        self, request: Request, credentials: Credentials, looked_up: TokenLookup | None = None
    ) -> Authenticated | Reply:
        userid = credentials.userid if isinstance(credentials, BasicCredentials) else None
        # The address feeds the password throttle; for a token only a record needs it.
        address = None if userid is None else self.proxies.client_address(request)
        outcome = self.authenticator.authenticate(credentials, address, looked_up)
        if isinstance(outcome, Throttled):
            self.proxies.warn_if_untrusted_forwarder(request)
            audit.event("throttle", outcome="refused", userid=userid, address=address)
            return problem(
                429, "Too many failed attempts; retry later.", [("Retry-After", str(outcome.wait))]
            )
        if isinstance(outcome, DeadToken):
            self._dead_token(request, outcome)
            if userid is not None:  # as a Basic password: the Basic challenge, as any 401
                return self.challenges.unauthorized
            return self.challenges.invalid_token
        if isinstance(outcome, Failure):
            if userid is not None:  # a wrong password: counted per address
                self.proxies.warn_if_untrusted_forwarder(request)
            audit.event(
                "login.failure",
                outcome=outcome.name.lower(),
                userid=userid,
                address=address or self.proxies.client_address(request),
                mechanism="basic" if userid is not None else "token",
                level=logging.WARNING,
            )
            if outcome is Failure.BAD_TOKEN:
                return self.challenges.invalid_token
            return self.challenges.unauthorized
        if audit.enabled(logging.DEBUG):  # off in production: no address to work out
            audit.event(
                "login.success",
                outcome="ok",
                userid=outcome.identity.userid,
                address=address or self.proxies.client_address(request),
                mechanism=outcome.identity.mechanism,
                level=logging.DEBUG,
            )
        return outcome

    def _dead_token(self, request: Request, dead: DeadToken) -> None:
        """A genuine token of a session that is over: whose it was, in the audit record."""
        audit.event(
            "token.expired" if dead.reason == "expired" else "token.ended",
            outcome="refused",
            userid=dead.userid,
            session=dead.session,
            address=self.proxies.client_address(request),
            level=logging.WARNING,
        )


def query_token(query: str, name: str) -> tuple[str | None, str]:
    """The token in parameter ``name`` of ``query`` (``","`` when repeated: malformed), and
    the query without it (what the application sees, so it never logs the token)."""
    pairs = parse_qsl(query, keep_blank_values=True)
    values = [value for key, value in pairs if key == name]
    if not values:
        return None, query
    rest = urlencode([(key, value) for key, value in pairs if key != name])
    return (values[0] if len(values) == 1 else ","), rest
