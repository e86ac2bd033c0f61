"""``restauth.asgi.AuthMiddleware``: scope in, the pipeline's decision applied.

Where a decision runs (see the package docstring): inline when it reads no store that
may wait, after awaiting a Token check's reads where the stores have async clients, and
in a worker thread otherwise.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import anyio.to_thread

from restauth._storage import Closeable
from restauth.asgi.lifespan import run_lifespan
from restauth.asgi.messages import ReplyMessages, merging, read_body, refuse_handshake
from restauth.asgi.reads import AsyncReads
from restauth.asgi.request import ScopeRequest
from restauth.asgi.scope import for_app
from restauth.asgi.spec import ASGIApp, Receive, Scope, Send
from restauth.asgi.workers import Workers
from restauth.endpoints.json_body import MAX_BODY
from restauth.endpoints.login_body import MAX_LOGIN_BODY
from restauth.errors import HashCheckDeferred
from restauth.gate import ANYTHING
from restauth.lookups import DEFER_HASH_CHECK, NO_READS
from restauth.options import Options, Settings
from restauth.pipeline import Decision, Pipeline
from restauth.throttle.policy import MemoryThrottleStore
from restauth.tokens.memory import MemoryTokenManager
from restauth.users.memory import MemoryUserStore
from restauth.wire.cookies import is_cross_site
from restauth.wire.responses import Reply

if TYPE_CHECKING:
    from typing import Unpack

logger = logging.getLogger("restauth")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_BODY_LIMIT = max(MAX_BODY, MAX_LOGIN_BODY) + 1  # one more byte: "too large" is then known
_OWN_ATTRIBUTES = frozenset(
    {"app", "options", "pipeline", "max_threads", "_workers", "_reads", "_in_process",
     "_owns", "_replies", "_accounts"}
)  # fmt: skip


class AuthMiddleware:
    """Authenticate every request to the ASGI ``app``: the keywords (and the behaviour on
    the wire) of :class:`restauth.AuthMiddleware`, plus ``max_threads``, how many
    decisions may run in worker threads at once (each waits on a store or on bcrypt)."""

    def __init__(
        self, app: ASGIApp, *, max_threads: int = 40, **settings: Unpack[Settings]
    ) -> None:
        workers = Workers(max_threads)
        self.app = app
        self.options = Options.build(**settings)
        self.pipeline = Pipeline(self.options)
        self.max_threads = max_threads
        self._workers = workers
        self._in_process = _never_blocks(self.options)
        self._reads = None if self._in_process else AsyncReads.of(self.options)
        self._owns = self.pipeline.endpoints.owns
        accounts = self.pipeline.endpoints.accounts
        self._accounts = None if accounts is None else (accounts.path, accounts.path + "/")
        challenges = self.pipeline.challenges
        self._replies = ReplyMessages(
            (
                challenges.unauthorized, challenges.invalid_token, challenges.bad_request,
                challenges.too_large, challenges.forbidden, self.pipeline.unavailable,
            )
        )  # fmt: skip

    def __getattr__(self, name: str) -> Any:
        if name == "options":  # not built yet: never recurse
            raise AttributeError(name)
        return getattr(self.options, name)

    def __setattr__(self, name: str, value: Any) -> None:
        if name not in _OWN_ATTRIBUTES:  # a setting changed here would be ignored
            raise AttributeError(f"{name} is fixed when the middleware is built; build a new one")
        object.__setattr__(self, name, value)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "lifespan":
            await run_lifespan(self.app, scope, receive, send, self._started, self.aclose)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = ScopeRequest(scope)
        ours = self._owns(request.path)
        if ours and request.method in _WITH_BODY and not self._refused_in_clear(request):
            # read here, on the loop, where a client that never sends its body costs a
            # coroutine, not one of the max_threads a decision needs
            request.body = await read_body(receive, request.content_length, _BODY_LIMIT)
        # the commonest case, in-process stores, is decided here, with no await
        decision = self._inline(request) if self._in_process and not ours else None
        if decision is None:
            decision = await self._decide(request, ours)
        if isinstance(decision, Reply):
            await self._replies.send(send, decision)
            return
        scope = for_app(scope, decision)
        if decision.token_headers is None and not (
            decision.private or decision.no_referrer or decision.cors
        ):
            await self.app(scope, receive, send)  # nothing of ours to add
        else:
            await self.app(scope, receive, merging(send, decision))

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = ScopeRequest(scope)
        refusal = self.pipeline.gate.csrf_refused
        if refusal is not None and is_cross_site(request, self.options.proxies.origin):
            await refuse_handshake(scope, send, refusal)  # cross-site websocket hijacking:
            return  # a browser sends the cookie with another site's handshake
        if self._owns(request.path):  # restauth's endpoints speak HTTP only: never run one
            await refuse_handshake(scope, send, self.pipeline.challenges.forbidden)
            return
        decision = self._inline(request) if self._in_process else None
        if decision is None:
            decision = await self._decide(request, False)
        if isinstance(decision, Reply):
            await refuse_handshake(scope, send, decision)
            return
        await self.app(for_app(scope, decision), receive, send)

    def _refused_in_clear(self, request: ScopeRequest) -> bool:
        """An account request over plain HTTP with ``require_https``: refused (403) before
        any body is read, so none is. (A login's body is read first, in WSGI too: its
        credentials decide between 401 and 403.)"""
        options, accounts = self.options, self._accounts
        if accounts is None or not options.require_https or options.proxies.is_https(request):
            return False
        return request.path == accounts[0] or request.path.startswith(accounts[1])

    def _inline(self, request: ScopeRequest) -> Decision | None:
        """With every store in this process: the decision, made on the loop; ``None`` when
        it reached a password's hash check (before the throttle counted it or anything was
        audited: :meth:`_decide` runs it again in a thread). So a password the cache
        remembers is decided inline, once."""
        try:
            return self.pipeline.decide(request, DEFER_HASH_CHECK)
        except HashCheckDeferred:
            return None

    async def _decide(self, request: ScopeRequest, ours: bool) -> Decision:
        """The pipeline's decision, where it cannot stall the loop (when not
        :meth:`_inline`): inline when it reads no store that may wait; after awaiting a
        Token check's reads through async clients; else in a worker thread (a password's
        hash check, restauth's endpoints, other stores)."""
        pipeline = self.pipeline
        if ours or self._in_process:
            return await self._workers.run(pipeline.decide, request)
        try:
            reads = pipeline.gate.reads(request)
        except Exception:  # (an identity provider's routing) answered by the pipeline: 503
            reads = ANYTHING
        if reads.kind == "nothing":
            return pipeline.decide(request, NO_READS)
        if reads.kind == "token" and self._reads is not None:
            looked_up = await self._reads.look_up(reads.token)
            if looked_up is not None:
                return pipeline.decide(request, looked_up)
        return await self._workers.run(pipeline.decide, request)

    def _started(self) -> None:
        """The lifespan's startup is complete: the async readers for this loop."""
        if self._reads is not None:
            self._reads.start()

    async def aclose(self) -> None:
        """Close the async readers of this loop, then the stores' connections (in a
        thread: closing a pool may wait)."""
        if self._reads is not None:
            await self._reads.aclose()
        await anyio.to_thread.run_sync(self.close)

    def close(self) -> None:
        for store in {id(s): s for s in (self.options.users, self.options.tokens)}.values():
            if isinstance(store, Closeable):
                try:
                    store.close()
                except Exception as error:  # a store that fails to close must not hide others
                    logger.warning("closing %s failed: %s", type(store).__name__, error)


def _never_blocks(options: Options) -> bool:
    """Whether every store the pipeline may touch lives in this process (a decision
    without a password check then never waits: it can run on the event loop)."""
    throttle = options.throttle
    return (
        isinstance(options.users, MemoryUserStore)
        and (options.tokens is None or isinstance(options.tokens, MemoryTokenManager))
        and (throttle is None or isinstance(throttle.store, MemoryThrottleStore))
        and not options.bearers  # an identity provider's keys may be fetched
    )


def from_config(
    app: ASGIApp,
    source: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> AuthMiddleware:
    """Wrap the ASGI ``app`` in the middleware a configuration file describes: the same
    file, keys and rules as :func:`restauth.from_config` (``$RESTAUTH_CONFIG`` when
    ``source`` is ``None``)."""
    from restauth.config.loader import load_config

    return load_config(source, environ=environ).asgi_middleware(app, **overrides)
