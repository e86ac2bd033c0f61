"""``restauth.asgi.AuthMiddleware``: the ASGI adapter, and nothing else.

The same :class:`~restauth.pipeline.Pipeline` as the WSGI adapter decides every request;
this module only turns a scope into a request view, runs the decision off the event loop
when it may block, and applies it: restauth's own reply, or the application with the
identity in the scope and restauth's headers merged into its answer.

**The event loop never waits on a store.** The pipeline is synchronous (bcrypt, SQLite,
Redis, PostgreSQL); it runs in a worker thread (restauth's own pool under asyncio, anyio's
under trio; at most ``max_threads`` at once), except where it cannot block: in-process
stores (memory users, memory tokens, memory throttle, no identity provider) and no password
to check (no Basic credentials, or a password the password cache remembers; not restauth's
own endpoints). There it runs inline, at the WSGI adapter's
cost. A body is read from ``receive`` only for restauth's own endpoints, within their limit
(16 KiB), on the event loop before the decision (a client that never sends it holds no
thread), and not at all over plain HTTP with ``require_https``; the application's bodies
are never touched.

**What the application sees** (``http`` and ``websocket`` scopes): ``scope["restauth.identity"]``
(an :class:`~restauth.identity.Identity`, absent for anonymous requests), and Starlette's
conventions: ``scope["user"]`` (``request.user``: ``is_authenticated``, ``display_name``,
``identity``, ``roles``) and ``scope["auth"]`` (``request.auth``: ``scopes`` are the roles,
so ``starlette.authentication.requires("admin")`` works).

**Lifespan:** the scope is passed on to the application; when the server says it shuts
down, the stores are closed after the application has finished its own shutdown. Without
lifespan events (some servers, tests) nothing is needed: stores open on first use.

**WebSockets** are authenticated like any request (``Authorization``, the cookie, the
query token); in cookie mode a handshake from another site is refused (a browser sends the
cookie with any site's handshake, and a script cannot add the CSRF header to one). A
refused handshake is refused before ``accept``: with restauth's own HTTP
answer where the server offers the ``websocket.http.response`` extension, else a close
(which the server answers 403).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from restauth._storage import Closeable
from restauth.endpoints.json_body import MAX_BODY
from restauth.endpoints.login_body import MAX_LOGIN_BODY
from restauth.identity import Identity
from restauth.options import Options, Settings
from restauth.pipeline import Admit, Decision, Pipeline
from restauth.throttle.policy import MemoryThrottleStore
from restauth.tokens.memory import MemoryTokenManager
from restauth.users.memory import MemoryUserStore
from restauth.wire.cookies import is_cross_site
from restauth.wire.credentials import BasicCredentials, parse_authorization
from restauth.wire.request import HeaderSet
from restauth.wire.responses import Header, Reply
from restauth.wire.token_headers import EXPOSE_TOKEN_HEADERS, NO_STORE

if TYPE_CHECKING:
    from typing import Unpack

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

__all__ = [
    "ASGIApp",
    "AuthMiddleware",
    "AuthenticatedUser",
    "Roles",
    "ScopeRequest",
    "from_config",
]

logger = logging.getLogger("restauth")
_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_BODY_LIMIT = max(MAX_BODY, MAX_LOGIN_BODY) + 1  # one more byte: "too large" is then known
_OWN_ATTRIBUTES = frozenset(
    {"app", "options", "pipeline", "max_threads", "_limiter", "_executor", "_in_process",
     "_owns", "_replies", "_accounts"}
)  # fmt: skip
_SCHEMES = {"ws": "http", "wss": "https"}


class ScopeRequest:
    """A :class:`~restauth.wire.request.Request` over an ASGI scope. The path is given in
    WSGI's form (the bytes as Latin-1 characters), below ``root_path``; headers are read
    into a dict on first use; the body is what :meth:`AuthMiddleware` read beforehand."""

    __slots__ = ("_headers", "body", "method", "path", "peer", "query", "scheme", "scope")

    def __init__(self, scope: Scope) -> None:
        self.scope = scope
        self.method: str = scope.get("method", "GET")  # a websocket handshake is a GET
        path: str = scope.get("path") or "/"
        root: str = scope.get("root_path") or ""
        if root and path.startswith(root):
            path = path[len(root) :] or "/"
        self.path = path if path.isascii() else path.encode("utf-8", "replace").decode("latin-1")
        self.query: str = scope.get("query_string", b"").decode("latin-1")
        scheme: str = scope.get("scheme") or "http"
        self.scheme = _SCHEMES.get(scheme, scheme)
        client = scope.get("client")
        self.peer: str | None = client[0] if client else None
        self._headers: dict[str, str] | None = None
        self.body: bytes | None = b""  # None: the client went away before sending it all

    def _all(self) -> dict[str, str]:
        headers = self._headers
        if headers is None:
            headers = {}
            for raw_name, raw_value in self.scope.get("headers") or ():
                name = raw_name.decode("latin-1").lower()
                value = raw_value.decode("latin-1")
                if name in headers:  # HTTP/2 sends each cookie alone; RFC 9113 joins with "; "
                    value = headers[name] + ("; " if name == "cookie" else ",") + value
                headers[name] = value
            self._headers = headers
        return headers

    @property
    def host(self) -> str:
        host = self._all().get("host")
        if host:
            return host
        server = self.scope.get("server") or ("", "")
        return f"{server[0]}:{server[1]}"

    def header(self, name: str) -> str | None:
        return self._all().get(name)

    def has_header(self, name: str) -> bool:
        return name in self._all()

    def has_any_header(self, names: HeaderSet) -> bool:
        headers = self._all()
        return any(name in headers for name in names.names)

    @property
    def content_length(self) -> int | None:
        declared = self._all().get("content-length")
        if not declared:
            return None
        try:
            length = int(declared)
        except ValueError:
            return -1
        return length if length >= 0 else -1

    def read_body(self, limit: int) -> bytes | None:
        body = self.body
        if body is None:
            raise OSError("the client went away before its body ended")
        length = self.content_length
        if length is not None and 0 <= length <= limit and len(body) < length:
            raise OSError(f"the body ended {length - len(body)} bytes before its Content-Length")
        return body[: limit + 1]


class AuthenticatedUser:
    """``scope["user"]`` for an authenticated request, shaped like Starlette's ``BaseUser``."""

    __slots__ = ("identity",)
    is_authenticated = True

    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    @property
    def display_name(self) -> str:
        return self.identity.userid

    @property
    def roles(self) -> frozenset[str]:
        return self.identity.roles


class _Anonymous:
    """``scope["user"]`` for an anonymous request (Starlette's ``UnauthenticatedUser``)."""

    __slots__ = ()
    is_authenticated = False
    display_name = ""
    identity = None
    roles: frozenset[str] = frozenset()


class Roles:
    """``scope["auth"]``, shaped like Starlette's ``AuthCredentials``: ``scopes`` are the
    caller's roles (empty for an anonymous request), sorted when first read."""

    __slots__ = ("_roles", "_scopes")

    def __init__(self, roles: frozenset[str]) -> None:
        self._roles = roles
        self._scopes: list[str] | None = None

    @property
    def scopes(self) -> list[str]:
        if self._scopes is None:
            self._scopes = sorted(self._roles)
        return self._scopes


_ANONYMOUS, _NO_ROLES = _Anonymous(), Roles(frozenset())


class AuthMiddleware:
    """Authenticate every request to the ASGI ``app``: the keywords (and the behaviour on
    the wire) of :class:`restauth.AuthMiddleware`, plus ``max_threads``, how many
    decisions may run in worker threads at once (each waits on a store or on bcrypt)."""

    def __init__(
        self, app: ASGIApp, *, max_threads: int = 40, **settings: Unpack[Settings]
    ) -> None:
        if not isinstance(max_threads, int) or max_threads < 1:
            raise ValueError("max_threads must be a positive integer")
        self.app = app
        self.options = Options.build(**settings)
        self.pipeline = Pipeline(self.options)
        self.max_threads = max_threads
        self._limiter: anyio.CapacityLimiter | None = None  # trio: made in the event loop
        self._executor = ThreadPoolExecutor(max_threads, thread_name_prefix="restauth")
        self._in_process = _never_blocks(self.options)
        self._owns = self.pipeline.endpoints.owns
        accounts = self.pipeline.endpoints.accounts
        self._accounts = None if accounts is None else (accounts.path, accounts.path + "/")
        challenges = self.pipeline.challenges
        constant = (
            challenges.unauthorized, challenges.invalid_token, challenges.bad_request,
            challenges.too_large, challenges.forbidden, self.pipeline.unavailable,
        )  # fmt: skip
        self._replies = {id(r): (r, *_messages(r)) for r in constant}

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
            await self._lifespan(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    # -- http ---------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = ScopeRequest(scope)
        ours = self._owns(request.path)
        if ours and request.method in _WITH_BODY and not self._refused_in_clear(request):
            # read here, on the loop, where a client that never sends its body costs a
            # coroutine, not one of the max_threads a decision needs
            request.body = await _read_body(receive, request.content_length, _BODY_LIMIT)
        decision = await self._decide(request, ours)
        if isinstance(decision, Reply):
            await self._send_reply(send, decision)
            return
        scope = _for_app(scope, decision)
        if decision.token_headers is None and not (
            decision.private or decision.no_referrer or decision.cors
        ):
            await self.app(scope, receive, send)  # nothing of ours to add
        else:
            await self.app(scope, receive, _merging(send, decision))

    async def _send_reply(self, send: Send, reply: Reply) -> None:
        """restauth's own answer; a constant one (a challenge, a 503) as messages made once."""
        found = self._replies.get(id(reply))
        if found is None or found[0] is not reply:
            found = (reply, *_messages(reply))
        await send(found[1])
        await send(found[2])

    def _refused_in_clear(self, request: ScopeRequest) -> bool:
        """An account request over plain HTTP with ``require_https``: refused (403) before
        any body is read, so none is. (A login's body is read first, in WSGI too: its
        credentials decide between 401 and 403.)"""
        options, accounts = self.options, self._accounts
        if accounts is None or not options.require_https or options.proxies.is_https(request):
            return False
        return request.path == accounts[0] or request.path.startswith(accounts[1])

    async def _decide(self, request: ScopeRequest, ours: bool) -> Decision:
        """The pipeline's decision: inline when it cannot block, else in a worker thread."""
        if self._in_process and not ours and (not _basic(request) or self._remembered(request)):
            return self.pipeline.decide(request)
        return await self._in_thread(self.pipeline.decide, request)

    def _remembered(self, request: ScopeRequest) -> bool:
        """Whether a Basic password is one the password cache remembers for an active user
        (in-process stores only): then no hash is checked, and the decision runs inline."""
        options = self.options
        cache = options.password_cache
        if cache is None:
            return False
        credentials = parse_authorization(
            request.header("authorization"),
            tokens_enabled=options.bearer_scheme,
            max_size=options.max_header_size,
            basic_fallback=options.basic_charset_fallback,
        )
        if not isinstance(credentials, BasicCredentials):
            return False
        try:
            user = options.users.get(credentials.userid)
        except Exception:  # the pipeline, in a thread, answers a failing store (503)
            return False
        return (
            user is not None
            and user.active
            and cache.hit(credentials.userid, credentials.password, user.password_hash)
        )

    async def _in_thread(
        self, step: Callable[[ScopeRequest], Decision], request: ScopeRequest
    ) -> Decision:
        """``step(request)`` in a worker thread, at most ``max_threads`` at once."""
        loop = _asyncio_loop()
        if loop is not None:  # restauth's own threads: a fifth cheaper than anyio's hop
            return await loop.run_in_executor(self._executor, step, request)
        if self._limiter is None:  # trio: anyio's worker threads
            self._limiter = anyio.CapacityLimiter(self.max_threads)
        return await anyio.to_thread.run_sync(step, request, limiter=self._limiter)

    # -- websocket ----------------------------------------------------------------------

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = ScopeRequest(scope)
        ours = self._owns(request.path)
        refusal = self.pipeline.gate.csrf_refused
        if refusal is not None and is_cross_site(request, self.options.proxies.origin):
            await _refuse_handshake(scope, send, refusal)  # cross-site websocket hijacking:
            return  # a browser sends the cookie with another site's handshake
        if ours:  # restauth's endpoints speak HTTP only: never run one for a handshake
            await _refuse_handshake(scope, send, self.pipeline.challenges.forbidden)
            return
        decision = await self._decide(request, ours)
        if isinstance(decision, Reply):
            await _refuse_handshake(scope, send, decision)
            return
        await self.app(_for_app(scope, decision), receive, send)

    # -- lifespan -----------------------------------------------------------------------

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The application's lifespan, as it was, with restauth's stores closed at the end."""
        started = received = False

        async def receiving() -> Message:
            nonlocal received
            received = True
            return await receive()

        async def sending(message: Message) -> None:
            nonlocal started
            kind = message["type"]
            if kind == "lifespan.startup.complete":
                started = True
            elif kind == "lifespan.shutdown.complete":
                await self.aclose()
            await send(message)

        try:
            await self.app(scope, receiving, sending)
        except Exception:
            if started or received:  # the app's own startup failed: the server must know
                raise
            # an application that knows no lifespan: answer it here, for restauth's stores
            logger.debug("the application does not speak lifespan; restauth answers it")
            await _own_lifespan(receive, send, self.aclose)
            return
        if not received:  # it returned at once (``if scope["type"] != "http": return``)
            await _own_lifespan(receive, send, self.aclose)

    async def aclose(self) -> None:
        """Close the stores' connections (in a thread: closing a pool may wait)."""
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


def _asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The running asyncio loop; ``None`` under another (trio: anyio's threads serve)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _basic(request: ScopeRequest) -> bool:
    """Whether the request carries a password (Basic): checking one may cost bcrypt."""
    header = request.header("authorization")
    if header is None:
        return False
    return header.strip(" ").partition(" ")[0].lower() == "basic"  # as the parser reads it


async def _read_body(receive: Receive, declared: int | None, most: int) -> bytes | None:
    """A body for restauth's own endpoints, at most ``most`` bytes (more is 413 anyway);
    ``None`` when the client went away first."""
    if declared is not None and declared >= most:
        return b""  # judged by its Content-Length alone: 413, nothing read
    chunks: list[bytes] = []
    size = 0
    while size < most:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _for_app(scope: Scope, decision: Admit) -> Scope:
    """The scope the application gets: the identity, Starlette's user and auth, and the
    query without the token parameter."""
    scope = dict(scope)
    identity = decision.identity
    if identity is None:
        scope.pop("restauth.identity", None)
        scope["user"], scope["auth"] = _ANONYMOUS, _NO_ROLES
    else:
        scope["restauth.identity"] = identity
        scope["user"], scope["auth"] = AuthenticatedUser(identity), Roles(identity.roles)
    if decision.query is not None:
        scope["query_string"] = decision.query.encode("latin-1")
    return scope


def _raw(headers: list[Header]) -> list[tuple[bytes, bytes]]:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def _text(headers: Any) -> list[Header]:
    return [
        (bytes(name).decode("latin-1"), bytes(value).decode("latin-1")) for name, value in headers
    ]


def _messages(reply: Reply) -> tuple[Message, Message]:
    start = {
        "type": "http.response.start",
        "status": int(reply.status[:3]),
        "headers": _raw(reply.headers),
    }
    return start, {"type": "http.response.body", "body": reply.body}


async def _refuse_handshake(scope: Scope, send: Send, reply: Reply) -> None:
    """Refuse a websocket before ``accept``: the HTTP answer itself where the server can
    send one, else a close (the server answers 403)."""
    if "websocket.http.response" in (scope.get("extensions") or {}):
        await send(
            {
                "type": "websocket.http.response.start",
                "status": int(reply.status[:3]),
                "headers": _raw(reply.headers),
            }
        )
        await send({"type": "websocket.http.response.body", "body": reply.body})
        return
    await send({"type": "websocket.close", "code": 1008})


def _merging(send: Send, decision: Admit) -> Send:
    """``send`` with restauth's headers merged into the application's response start."""
    plain = not (decision.private or decision.no_referrer or decision.cors)

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = dict(message)
            app_headers = message.get("headers") or ()
            merged = _with_token_headers(app_headers, decision) if plain else None
            if merged is None:  # the general case: as the WSGI adapter merges, in text
                merged = _raw(decision.headers(_text(app_headers)))
            message["headers"] = merged
        await send(message)

    return sending


_REPLACED_RAW = frozenset(
    {b"auth-token", b"auth-token-valid-until", b"auth-token-location", b"cache-control", b"pragma"}
)  # fmt: skip  (token_headers' own list, as bytes)
_EXPOSE_RAW = b"access-control-expose-headers"
_TOKEN_TAIL = [
    (b"access-control-expose-headers", EXPOSE_TOKEN_HEADERS[1].encode("latin-1")),
    *((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in NO_STORE),
]


def _with_token_headers(app_headers: Any, decision: Admit) -> list[tuple[bytes, bytes]] | None:
    """The common case in bytes: the app's headers minus the ones restauth owns, then the
    token headers and the constant tail; ``None`` when there is more to do (no token
    headers, or an expose list of the app's to merge: done in text, as in WSGI)."""
    token_headers = decision.token_headers
    if token_headers is None:
        return None
    merged = []
    for header in app_headers:
        name = bytes(header[0]).lower()
        if name in _REPLACED_RAW:
            continue
        if name == _EXPOSE_RAW:
            return None
        merged.append(header)
    merged += _raw(token_headers)
    merged += _TOKEN_TAIL
    return merged


async def _own_lifespan(
    receive: Receive, send: Send, shutdown: Callable[[], Awaitable[None]]
) -> None:
    """The lifespan protocol for an application that does not speak it."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return


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
