"""A request view in, a decision out: the whole of restauth's judgement, protocol-neutral.

``Pipeline.decide`` takes a :class:`~restauth.wire.request.Request` and answers either
:class:`Admit` (call the application, with this identity, these response headers, this
query string) or a :class:`Reply` (restauth answers itself). In order: CORS preflights
(never challenged); restauth's own endpoints; the :class:`~restauth.gate.Gate`
(credentials → identity); public paths and the ACL; the token headers. An adapter
(``restauth.middleware`` for WSGI) builds the view and applies the decision; nothing
here knows WSGI, ASGI or webob.

The failure boundary is :meth:`Pipeline.decide`: a store or rule that fails (raised as
``StoreUnavailable`` by :func:`restauth.backend.call`) is a 503 with ``Retry-After``;
anything else that escapes is a bug in restauth, also a 503 (fail closed), logged at
ERROR with its traceback so it is never mistaken for an outage. The one exception that
leaves it is :class:`~restauth.errors.HashCheckDeferred`, and only for the caller that
asked for it (the ASGI adapter's inline try, :data:`restauth.lookups.DEFER_HASH_CHECK`).
"""

from __future__ import annotations

import logging
from contextlib import suppress

from restauth import audit, backend
from restauth.endpoints import Endpoints
from restauth.errors import HashCheckDeferred, StoreUnavailable
from restauth.gate import Gate, query_token
from restauth.identity import Identity
from restauth.lookups import TokenLookup
from restauth.options import Options
from restauth.wire.cors import CORS, is_preflight, merge_cors
from restauth.wire.credentials import basic_userid
from restauth.wire.request import Request
from restauth.wire.responses import Challenges, Header, Reply, unavailable, wants_no_challenge
from restauth.wire.token_headers import merge_token_headers, private_cache

logger = logging.getLogger("restauth")

_NO_REFERRER = ("Referrer-Policy", "no-referrer")


class Admit:
    """Call the application. ``identity`` is ``None`` for an anonymous request. The
    application's response headers get ``token_headers`` (the ``Auth-Token`` headers and
    ``no-store``), or ``private`` caching (authenticated, tokenless), and ``no_referrer``
    when the URL holds a token; ``query`` replaces the query string; ``cors`` (set when
    CORS is configured) adds the CORS headers for the request's origin. (A plain class: one
    is made per request, at a third of a frozen dataclass's cost.)"""

    __slots__ = ("cors", "identity", "no_referrer", "private", "query", "token_headers")

    def __init__(
        self,
        identity: Identity | None,
        token_headers: list[Header] | None = None,
        *,
        private: bool = False,
        query: str | None = None,
    ) -> None:
        self.identity = identity
        self.token_headers = token_headers
        self.private = private
        self.query = query
        self.no_referrer = False
        self.cors: tuple[CORS, Request] | None = None  # set when CORS is configured

    def headers(self, app_headers: list[Header]) -> list[Header]:
        """The application's response headers with restauth's merged in."""
        headers = app_headers
        if self.token_headers is not None:
            headers = merge_token_headers(headers, self.token_headers)
        elif self.private:
            headers = private_cache(headers)
        if self.no_referrer:
            headers = [h for h in headers if h[0].lower() != "referrer-policy"]
            headers.append(_NO_REFERRER)
        if self.cors is not None:
            cors, request = self.cors
            headers = merge_cors(headers, cors.headers(request))
        return headers


Decision = Admit | Reply


class Pipeline:
    """restauth's decisions for one set of :class:`Options`."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.gate = Gate(options)
        self.challenges: Challenges = self.gate.challenges
        self.endpoints = Endpoints(options, self.gate)
        self.unavailable = unavailable(options.retry_after)
        self._public = options.public
        self._acl = options.acl
        self._tokens_off = options.tokens is None
        self._query_token = options.query_token
        self._cors = options.cors
        self._plain = options.query_token is None and options.cors is None  # nothing to add

    def decide(self, request: Request, looked_up: TokenLookup | None = None) -> Decision:
        """What to do with ``request``; never raises (see the module docstring), but for
        :class:`~restauth.errors.HashCheckDeferred` when ``looked_up`` asks for it.
        ``looked_up``: its Token check's reads, done ahead, or
        :data:`~restauth.lookups.DEFER_HASH_CHECK` (see :mod:`restauth.lookups`)."""
        try:
            decision = self._decide(request, looked_up)
            if self._plain and type(decision) is Admit:
                return decision  # the common case: nothing to add
        except HashCheckDeferred:
            raise  # nothing decided, nothing done: the caller decides again, in a thread
        except StoreUnavailable as error:
            logger.warning("store unavailable: %s", error)
            self._audit_failure("store.unavailable", request)
            decision = self.unavailable
        except Exception:
            logger.exception("restauth internal error; the request is refused with 503")
            self._audit_failure("internal.error", request)
            decision = self.unavailable
        return self._finish(request, decision)

    def _audit_failure(self, name: str, request: Request) -> None:
        """The 503's audit record, with the client's address and, for Basic, its userid:
        read again here, off the hot path, as every other record has them. Never raises
        (this is the failure boundary); the password is parsed but never passed on."""
        if not audit.logger.isEnabledFor(logging.ERROR):
            return
        address = userid = None
        with suppress(Exception):  # a record without an address beats no record
            address = self.gate.proxies.client_address(request)
        with suppress(Exception):  # likewise without a userid
            userid = basic_userid(
                request.header("authorization"),
                max_size=self.options.max_header_size,
                fallback=self.options.basic_charset_fallback,
            )
        audit.event(name, outcome="503", userid=userid, address=address, level=logging.ERROR)

    def _decide(self, request: Request, looked_up: TokenLookup | None) -> Decision:
        path = request.path
        if request.method == "OPTIONS" and is_preflight(request):  # the compare inline: hot
            return self._preflight(request, path)
        if self.endpoints.owns(path):
            return self.endpoints.handle(request)
        query = None if self._query_token is None else self._query_for_app(request)
        gate = self.gate
        auth = gate.authenticate(request, None, looked_up)
        if auth is None:
            if self._public.match(path) or self._allowed(request, None):
                return Admit(None, query=query)
            return self.challenges.unauthorized
        if isinstance(auth, Reply):
            return auth
        allowed = self._acl is None or self._allowed(request, auth.identity)
        if self._tokens_off or auth.external:
            if not allowed:
                return self.challenges.forbidden
            return Admit(auth.identity, private=True, query=query)
        ours = gate.token_headers(auth.grant or gate.grant_for(auth, request))
        if not allowed:
            forbidden = self.challenges.forbidden
            return Reply(
                forbidden.status, merge_token_headers(list(forbidden.headers), ours), forbidden.body
            )
        return Admit(auth.identity, ours, query=query)

    def _allowed(self, request: Request, identity: Identity | None) -> bool:
        """The ACL's verdict (``False`` without an ACL: only ``public`` paths are open)."""
        acl = self.options.acl
        if acl is None:
            return False
        if backend.call(acl.allows, request.method, request.path, identity):
            return True
        audit.event(
            "access.denied",
            outcome="401" if identity is None else "403",
            userid=identity.userid if identity else None,
            address=self.gate.proxies.client_address(request),
            level=logging.INFO if identity else logging.DEBUG,
        )
        return False

    def _preflight(self, request: Request, path: str) -> Decision:
        """A CORS preflight, never challenged. For restauth's endpoints: with CORS, what the
        origin may do there; without, a plain 204 naming the methods. For the app's paths:
        answered with CORS, else passed on to the app as it came."""
        cors = self._cors
        if self.endpoints.owns(path):
            methods = self.endpoints.methods(path)
            if cors is None:
                return Reply("204 No Content", [("Allow", ", ".join(methods))], b"")
            return cors.preflight(request, methods)
        if cors is None:
            query = None if self._query_token is None else self._query_for_app(request)
            return Admit(None, query=query)
        return cors.preflight(request, cors.allow_methods)

    def _query_for_app(self, request: Request) -> str | None:
        """The query without the token parameter, when it carried one."""
        name = self.options.query_token
        if name is None or name not in request.query:
            return None
        return query_token(request.query, name)[1]

    def _finish(self, request: Request, decision: Decision) -> Decision:
        """What every decision gets: no challenge when asked; ``Vary: Cookie`` in cookie
        mode; ``Referrer-Policy: no-referrer`` when the URL carries the query token; the
        CORS headers when CORS is configured (a preflight's are its own)."""
        name = self._query_token
        hides_referrer = name is not None and name in request.query
        cors = self._cors
        if isinstance(decision, Admit):
            decision.no_referrer = hides_referrer
            if cors is not None:
                decision.cors = (cors, request)
            return decision
        if not self.options.challenge or wants_no_challenge(request):
            decision = Challenges.without_challenge(decision)
        extra: list[Header] = []
        if self.options.cookie is not None and not any(n == "Vary" for n, _ in decision.headers):
            extra.append(("Vary", "Cookie"))
        if hides_referrer:
            extra.append(_NO_REFERRER)
        if cors is None:
            if not extra:
                return decision  # the common case: as it was built
            return Reply(decision.status, [*decision.headers, *extra], decision.body)
        headers = [*decision.headers, *extra]
        if not is_preflight(request):  # a preflight's are its own
            retry_after = any(name == "Retry-After" for name, _ in headers)  # 429, 503
            headers = merge_cors(headers, cors.headers(request, retry_after=retry_after))
        return Reply(decision.status, headers, decision.body)
