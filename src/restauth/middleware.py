"""``AuthMiddleware``: the WSGI glue. Parsing, checking and deciding live elsewhere."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl, urlencode

from restauth import audit, backend
from restauth.access.acl import ACL, ACLRule
from restauth.access.paths import PublicPaths
from restauth.authenticator import Authenticated, Authenticator, Bearer, Failure, Throttled
from restauth.endpoints import Endpoints
from restauth.errors import StoreUnavailable
from restauth.identity import Identity
from restauth.passwords.cache import PasswordCache
from restauth.passwords.hasher import PasswordHasher
from restauth.throttle.policy import Throttle, shared_store
from restauth.tokens.base import TokenGrant, TokenManager
from restauth.tokens.memory import MemoryTokenManager
from restauth.users.base import UserStore
from restauth.wire.cookies import CookieMode
from restauth.wire.credentials import (
    DEFAULT_MAX_HEADER_SIZE,
    BasicCredentials,
    Credentials,
    Malformed,
    TokenCredentials,
    is_b64token,
    parse_authorization,
)
from restauth.wire.forwarded import TrustedProxies
from restauth.wire.responses import (
    Challenges,
    Header,
    Reply,
    problem,
    unavailable,
    wants_no_challenge,
)
from restauth.wire.token_headers import merge_token_headers, private_cache, token_headers

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

logger = logging.getLogger("restauth")

_DEFAULT: Any = object()  # "not given": the documented default object is built per instance
A = TypeVar("A")
R = TypeVar("R")


class AuthMiddleware:
    """Authenticate every request to ``app``; see the README for the wire behaviour.

    ``tokens=None`` turns tokens off (Basic only, no token headers, no ``/tokens``).
    ``public`` path patterns may be reached anonymously; credentials sent there are
    still checked. A store that fails answers 503 and never lets the request in.
    ``cookie=True`` (or a :class:`CookieMode`) turns on cookie mode: ``POST /tokens``
    sets the token in an ``HttpOnly`` cookie and never shows it elsewhere.
    ``require_https`` refuses credentials that arrived over plain HTTP (403);
    ``trusted_proxies`` are the only peers whose ``X-Forwarded-For``/``-Proto``/``-Host``
    count (see :mod:`restauth.wire.forwarded`).
    ``throttle`` slows down password and token guessing (``None`` turns it off).
    ``query_token`` names a query parameter that may carry a token (off by default).
    ``acl`` rules (see :mod:`restauth.access.acl`) decide what each caller may do: a request
    no rule grants is 401 when anonymous, 403 when authenticated. Without ``acl``,
    any authenticated caller passes. ``challenge=False`` never sends ``WWW-Authenticate``
    (an API used only by scripts and pages), as if every request said ``No-Auth-Challenge``.
    ``password_cache`` remembers right Basic passwords for a few minutes so repeated Basic
    requests skip bcrypt (``None`` turns it off; see :mod:`restauth.passwords.cache`).
    ``bearer`` (a :class:`restauth.bearers.jwt.JWTBearer` or several) also accepts
    ``Authorization: Bearer`` JWTs an identity provider signed; those callers get no token.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        users: UserStore,
        tokens: TokenManager | None = _DEFAULT,
        realm: str = "restauth",
        public: Iterable[str] = (),
        tokens_path: str = "/tokens",
        roles_path: str = "/roles",
        password_hasher: PasswordHasher | None = None,
        max_header_size: int = DEFAULT_MAX_HEADER_SIZE,
        retry_after: int = 5,
        cookie: CookieMode | bool | None = None,
        require_https: bool = True,
        trusted_proxies: Iterable[str] = (),
        throttle: Throttle | None = _DEFAULT,
        query_token: str | None = None,
        acl: ACL | Iterable[ACLRule | Mapping[str, object]] | None = None,
        challenge: bool = True,
        password_cache: PasswordCache | None = _DEFAULT,
        bearer: Bearer | Sequence[Bearer] = (),
    ) -> None:
        if tokens is _DEFAULT:
            tokens = MemoryTokenManager()
        if throttle is _DEFAULT:  # counters where the tokens (or users) live: shared by all
            throttle = Throttle(store=shared_store(tokens, users))
        if cookie is True:
            cookie = CookieMode()
        if cookie and tokens is None:
            raise ValueError("cookie mode needs a token manager (tokens=None turns tokens off)")
        if query_token is not None and (tokens is None or not query_token.isidentifier()):
            raise ValueError("query_token must be a parameter name, and needs a token manager")
        for name, value in (("tokens_path", tokens_path), ("roles_path", roles_path)):
            if not value.startswith("/") or value.endswith("/") or len(value) < 2:
                raise ValueError(f"{name} must start with '/' and not end with '/': {value!r}")
        self.app = app
        self.users = users
        self.tokens = tokens
        self.realm = realm
        self.tokens_path = tokens_path
        self.max_header_size = max_header_size
        self.cookie: CookieMode | None = cookie or None
        self.require_https = require_https
        self.proxies = TrustedProxies(trusted_proxies)
        self.throttle = throttle
        self.query_token = query_token
        self.challenge = challenge
        hasher = password_hasher or getattr(users, "hasher", None) or PasswordHasher()
        if password_cache is _DEFAULT:
            password_cache = PasswordCache()
        bearers = tuple(bearer) if isinstance(bearer, Sequence) else (bearer,)
        self.authenticator = Authenticator(
            users, tokens, hasher, cache=password_cache, bearers=bearers, throttle=throttle
        )
        self._bearer_scheme = tokens is not None or bool(bearers)  # is "Bearer" ours to read?
        self.public = PublicPaths(public)
        self.acl = acl if isinstance(acl, ACL) or acl is None else ACL(acl)
        self.challenges = Challenges(realm, tokens_enabled=self._bearer_scheme)
        self._unavailable = unavailable(retry_after)
        self._https_required = problem(
            403, "Credentials must be sent over HTTPS; this request used plain HTTP."
        )
        self._csrf_refused = self.cookie.csrf_refusal() if self.cookie else None
        self.endpoints = Endpoints(
            tokens=tokens,
            challenges=self.challenges,
            tokens_path=tokens_path,
            roles_path=roles_path,
            authenticate=self.authenticate,
            grant_for=self.grant_for,
            headers_for=self.token_headers,
            cookie=self.cookie,
            proxies=self.proxies,
        )
        self._malformed = {
            Malformed.BASIC: self.challenges.unauthorized,
            Malformed.TOKEN: self.challenges.bad_request,
            Malformed.AMBIGUOUS: self.challenges.bad_request,
            Malformed.TOO_LARGE: self.challenges.too_large,
        }

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        query_token = self.query_token
        if query_token is not None and query_token in environ.get("QUERY_STRING", ""):
            start_response = _without_referrer(start_response)
        path: str = environ.get("PATH_INFO") or "/"  # an app mounted at its root may see ""
        if self.endpoints.owns(path):
            return self._reply(self._guard(self.endpoints.handle, environ), environ, start_response)
        if (
            environ.get("REQUEST_METHOD") == "OPTIONS"
            and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
        ):
            if self.query_token is not None:  # a preflight repeats the URL: strip the token
                self._take_query_token(environ)
            return self.app(environ, start_response)  # CORS preflight: never challenged
        auth = self._guard(self.authenticate, environ)
        if auth is None:
            anonymous_ok = self.public.match(path) or self._allowed(environ, path, None)
            if isinstance(anonymous_ok, Reply):
                return self._reply(anonymous_ok, environ, start_response)
            if anonymous_ok:
                environ.pop("restauth.identity", None)
                return self.app(environ, start_response)
            return self._reply(self.challenges.unauthorized, environ, start_response)
        if isinstance(auth, Reply):
            return self._reply(auth, environ, start_response)
        allowed = self.acl is None or self._allowed(environ, path, auth.identity)
        if isinstance(allowed, Reply):
            return self._reply(allowed, environ, start_response)
        if self.tokens is None or auth.external:
            if not allowed:
                return self._reply(self.challenges.forbidden, environ, start_response)
            return self._pass(auth, environ, _private(start_response))
        grant = auth.grant if auth.grant is not None else self._guard(self.grant_for, auth)
        if isinstance(grant, Reply):
            return self._reply(grant, environ, start_response)
        ours = self.token_headers(grant)
        if not allowed:
            forbidden = self.challenges.forbidden
            headers = merge_token_headers(list(forbidden.headers), ours)
            return self._reply(
                Reply(forbidden.status, headers, forbidden.body), environ, start_response
            )

        def start_with_token(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Callable[[bytes], object]:
            return start_response(status, merge_token_headers(headers, ours), exc_info)

        return self._pass(auth, environ, start_with_token)

    def _pass(
        self, auth: Authenticated, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        environ["REMOTE_USER"] = auth.identity.userid
        environ["restauth.identity"] = auth.identity
        return self.app(environ, start_response)

    def _allowed(
        self, environ: WSGIEnvironment, path: str, identity: Identity | None
    ) -> bool | Reply:
        """The ACL's verdict (``False`` without an ACL: only ``public`` paths are open);
        a 503 when a rule fails."""
        if self.acl is None:
            return False
        method: str = environ.get("REQUEST_METHOD", "GET")
        try:
            if backend.call(self.acl.allows, method, path, identity):
                return True
        except StoreUnavailable as error:
            return self._store_down(error)
        audit.event(
            "access.denied",
            outcome="401" if identity is None else "403",
            userid=identity.userid if identity else None,
            address=self.proxies.client_address(environ),
            level=logging.INFO if identity else logging.DEBUG,
        )
        return False

    # -- authentication -------------------------------------------------------------

    def authenticate(
        self, environ: WSGIEnvironment, credentials: Credentials | None = None
    ) -> Authenticated | Reply | None:
        """The caller's identity, a refusal to send, or ``None`` for an anonymous request.

        ``credentials`` are given by the login endpoint (from its body); otherwise they
        are read from the request. May raise when a store fails (see :meth:`_guard`).
        """
        if credentials is None:
            found = self._read_credentials(environ)
            if found is None:
                return self._authenticate_cookie(environ) if self.cookie else None
            if isinstance(found, Reply):
                return found
            credentials = found
        if self.require_https and not self.proxies.is_https(environ):
            return self._https_required
        return self._verify(environ, credentials)

    def _read_credentials(self, environ: WSGIEnvironment) -> Credentials | Reply | None:
        header = environ.get("HTTP_AUTHORIZATION")
        if self.query_token is not None:
            token = self._take_query_token(environ)
            if token is not None:
                if header is not None or not is_b64token(token):
                    return self.challenges.bad_request  # two credentials, or a malformed one
                return TokenCredentials(token, "bearer")
        parsed = parse_authorization(
            header, tokens_enabled=self._bearer_scheme, max_size=self.max_header_size
        )
        if isinstance(parsed, Malformed):
            audit.event("credentials.malformed", outcome=parsed.name.lower(), level=logging.DEBUG)
            return self._malformed[parsed]
        return parsed

    def _take_query_token(self, environ: WSGIEnvironment) -> str | None:
        """The token in the query, removed from ``QUERY_STRING`` so the app never logs it."""
        query: str = environ.get("QUERY_STRING", "")
        if self.query_token is None or self.query_token not in query:
            return None
        pairs = parse_qsl(query, keep_blank_values=True)
        values = [value for name, value in pairs if name == self.query_token]
        if not values:
            return None
        environ["QUERY_STRING"] = urlencode([(n, v) for n, v in pairs if n != self.query_token])
        return values[0] if len(values) == 1 else ","  # a repeated parameter is malformed

    def _verify(self, environ: WSGIEnvironment, credentials: Credentials) -> Authenticated | Reply:
        userid = credentials.userid if isinstance(credentials, BasicCredentials) else None
        address = self.proxies.client_address(environ)
        outcome = backend.call(self.authenticator.authenticate, credentials, address)
        if isinstance(outcome, Throttled):
            audit.event("throttle", outcome="refused", userid=userid, address=address)
            return problem(
                429, "Too many failed attempts; retry later.", [("Retry-After", str(outcome.wait))]
            )
        if isinstance(outcome, Failure):
            mechanism = "basic" if userid is not None else "token"
            audit.event(
                "login.failure",
                outcome=outcome.name.lower(),
                userid=userid,
                address=address,
                mechanism=mechanism,
                level=logging.WARNING,
            )
            if outcome is Failure.BAD_TOKEN:
                return self.challenges.invalid_token
            return self.challenges.unauthorized
        audit.event(
            "login.success",
            outcome="ok",
            userid=outcome.identity.userid,
            address=address,
            mechanism=outcome.identity.mechanism,
            level=logging.DEBUG,
        )
        return outcome

    def _authenticate_cookie(self, environ: WSGIEnvironment) -> Authenticated | Reply | None:
        """A valid token cookie, or ``None``: a stale cookie makes a request anonymous, not 401."""
        assert self.cookie is not None
        token = self.cookie.read(environ)
        if token is None or not is_b64token(token):
            return None
        if self.require_https and not self.proxies.is_https(environ):
            return self._https_required
        outcome = backend.call(self.authenticator.authenticate, TokenCredentials(token, "cookie"))
        if not isinstance(outcome, Authenticated):
            return None
        if not self.cookie.csrf_ok(environ, self.proxies.origin):
            assert self._csrf_refused is not None
            return self._csrf_refused
        return outcome

    # -- tokens -----------------------------------------------------------------------

    def token_headers(self, grant: TokenGrant) -> list[Header]:
        """The headers an authenticated response carries; in cookie mode, never the token."""
        headers = token_headers(grant, self.tokens_path)
        if self.cookie is None:
            return headers
        return [*headers[1:], ("Vary", "Cookie")]

    def grant_for(self, auth: Authenticated) -> TokenGrant:
        """The token to hand back: the one presented, else the user's current one."""
        if auth.grant is not None:
            return auth.grant
        assert self.tokens is not None
        return backend.call(self.tokens.issue, auth.identity.userid, auth.stamp)

    # -- plumbing ---------------------------------------------------------------------

    def _guard(self, step: Callable[[A], R], argument: A) -> R | Reply:
        """Run a step whose store and rule calls go through :func:`restauth.backend.call`:
        a failure there is a 503, never an open door. Anything else is a bug, not an outage."""
        try:
            return step(argument)
        except StoreUnavailable as error:
            return self._store_down(error)

    def _store_down(self, error: StoreUnavailable) -> Reply:
        logger.warning("store unavailable: %s", error)
        audit.event("store.unavailable", outcome="503", level=logging.ERROR)
        return self._unavailable

    def _reply(
        self, reply: Reply, environ: WSGIEnvironment, start_response: StartResponse
    ) -> list[bytes]:
        if not self.challenge or wants_no_challenge(environ):
            reply = Challenges.without_challenge(reply)
        headers = list(reply.headers)
        if self.cookie is not None and not any(name == "Vary" for name, _ in headers):
            headers.append(("Vary", "Cookie"))
        start_response(reply.status, headers)
        return [reply.body]


def _private(start_response: StartResponse) -> StartResponse:
    """An authenticated response without token headers is still no shared cache's."""

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        return start_response(status, private_cache(headers), exc_info)

    return start


def _without_referrer(start_response: StartResponse) -> StartResponse:
    """The page's URL holds a token: its links and subresources must not send it on."""

    def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        kept = [h for h in headers if h[0].lower() != "referrer-policy"]
        return start_response(status, [*kept, ("Referrer-Policy", "no-referrer")], exc_info)

    return start
