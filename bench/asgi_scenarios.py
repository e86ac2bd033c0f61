"""restauth.asgi's rows, and the ASGI peers', in the same process and rounds as the WSGI ones.

Each request is one ``await app(scope, receive, send)`` on one asyncio event loop: a
prebuilt scope (copied per request, as a server makes a new one), a ``receive`` that
returns an empty body and a ``send`` that drops what it gets. No HTTP client, no socket.
A batch of requests is one trip into the loop (:class:`EventLoop`), run by a task that
lives for the whole benchmark, so anyio's worker threads (restauth's threaded path:
Basic, SQLite) stay warm from batch to batch, as under a server.

The rows pair with the WSGI adapter's rows of the same run (:data:`PAIRS`): the
overhead over the bare ASGI app against the WSGI adapter's over the bare WSGI app, and
each less its protocol's floor (:class:`Floor`, harness.Floor): the least any middleware
of that protocol costs. Token checks whose stores have async clients (Redis tokens;
PostgreSQL users and tokens) are awaited on the loop; the Redis row is also measured with
the async readers off (:func:`without_async_reads`), decided in a worker thread as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, NamedTuple, TypeVar

from harness import BODY, Scenario
from peers import PEER_TOKEN
from restauth_scenarios import (
    BASIC_CACHED,
    BEARER,
    FLOOR_WSGI,
    PASSWORD,
    POSTGRES_USERS,
    REDIS,
    SECRET_KEY,
    SQLITE,
    TOKEN,
    UNAUTHORIZED,
    USERID,
    _redis_tokens,
    _sqlite_tokens,
    basic,
    postgres_users_and_tokens,
)

from restauth import MemoryTokenManager, MemoryUserStore

T = TypeVar("T")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[..., Awaitable[None]]

BARE_ASGI = "bare ASGI app"
BARE_FASTAPI = "bare FastAPI app"
A_TOKEN = "restauth.asgi Token"
A_TOKEN_HEADERS = "restauth.asgi Token, 9 request headers"
A_BEARER = "restauth.asgi Bearer"
A_BASIC = "restauth.asgi Basic (cached)"
A_401 = "restauth.asgi 401"
A_SQLITE = "restauth.asgi Token (SQLite tokens)"
A_REDIS = "restauth.asgi Token (Redis tokens)"
A_REDIS_THREAD = "restauth.asgi Token (Redis tokens, async reader off)"
A_POSTGRES = "restauth.asgi Token (PostgreSQL users and tokens)"
FLOOR_ASGI = "floor: minimal ASGI middleware"
A_TOKEN_FASTAPI = "restauth.asgi Token over FastAPI"
A_401_FASTAPI = "restauth.asgi 401 over FastAPI"

# ASGI row -> (the WSGI adapter's row doing the same job, held to the 20 % target?)
PAIRS = {
    A_TOKEN: (TOKEN, True),
    A_BASIC: (BASIC_CACHED, True),
    A_401: (UNAUTHORIZED, True),
    A_SQLITE: (SQLITE, True),
    A_REDIS: (REDIS, True),
    A_POSTGRES: (POSTGRES_USERS, True),
    A_REDIS_THREAD: (REDIS, False),
    A_BEARER: (BEARER, False),
    A_TOKEN_HEADERS: (TOKEN, False),
}
FLOORS = (FLOOR_ASGI, FLOOR_WSGI)  # each protocol's least middleware (the ratio over floors)
RATIO_TARGET = 1.20  # issue 20 item 6: ASGI overhead within 20 % of the WSGI adapter's
BASELINES = (BARE_ASGI, BARE_FASTAPI)

# What a browser or an HTTP library sends besides Host and Authorization.
EXTRA_HEADERS = [
    (b"user-agent", b"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
    (b"accept", b"application/json, text/plain, */*"),
    (b"accept-language", b"en-GB,en;q=0.8"),
    (b"accept-encoding", b"gzip, deflate, br, zstd"),
    (b"connection", b"keep-alive"),
    (b"x-request-id", b"0b6f1c1e-5f6c-4d2e-9a57-3c1d2e4f5a6b"),
    (b"sec-fetch-mode", b"cors"),
]


class EventLoop:
    """One asyncio loop for every ASGI row, driven from the harness's synchronous rounds:
    each :meth:`run` hands a job to a task that lives as long as the loop (anyio's worker
    threads are tied to that task: they stay warm between batches)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._jobs: asyncio.Queue[tuple[Callable[[], Awaitable[Any]], asyncio.Future[Any]]]
        self._jobs = asyncio.Queue()
        self._task = self.loop.create_task(self._serve())
        self._closers: list[Callable[[], Awaitable[None]]] = []

    def __enter__(self) -> EventLoop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def _serve(self) -> None:
        while True:
            job, done = await self._jobs.get()
            try:
                result = await job()
            except Exception as error:
                done.set_exception(error)
            else:
                done.set_result(result)

    def run(self, job: Callable[[], Awaitable[T]]) -> T:
        done: asyncio.Future[T] = self.loop.create_future()
        self._jobs.put_nowait((job, done))
        return self.loop.run_until_complete(done)

    def at_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        """Await ``closer()`` on this loop when it closes (an async client's connections
        belong to the loop they were made in)."""
        self._closers.append(closer)

    def close(self) -> None:
        """Await the closers, then stop the task and so anyio's worker threads (not
        daemons: without this the interpreter waits for them at exit, before any
        ``atexit`` handler runs)."""
        if self.loop.is_closed():
            return
        closers, self._closers = self._closers, []
        for closer in closers:
            with contextlib.suppress(Exception):
                self.run(closer)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            self.loop.run_until_complete(self._task)  # anyio's idle workers stop with it
        self.loop.run_until_complete(self.loop.shutdown_default_executor())
        self.loop.close()


Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def bare_asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The baseline: 20 bytes, the headers of the bare WSGI app. Speaks lifespan (uvicorn)."""
    if scope["type"] == "http":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", b"20")],
            }
        )
        await send({"type": "http.response.body", "body": BODY})
    elif scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


async def protected_bare_asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    """For Starlette's AuthenticationMiddleware, which leaves the 401 to the application."""
    user = scope.get("user")
    if user is None or not user.is_authenticated:
        await send({"type": "http.response.start", "status": 401, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    await bare_asgi_app(scope, receive, send)


FLOOR_HEADER = (b"x-floor", b"1")


class Floor:
    """The least any ASGI auth middleware does per request: dispatch on the scope's type,
    copy the scope adding one key (the user), wrap ``send`` to copy the response start
    adding one header. The ASGI side of harness.Floor."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope = dict(scope)
        scope["user"] = None

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", ()), FLOOR_HEADER]
            await send(message)

        await self.app(scope, receive, sending)


def without_async_reads(app: Any) -> Any:
    """``app`` (a restauth.asgi.AuthMiddleware) with its async readers off: a Token check
    that reads a store is then decided in a worker thread, as before the async readers."""
    app._reads = None
    return app


def _threads_used(app: Any) -> int:
    """How many worker threads restauth.asgi's pool has started (none: nothing went to a
    thread): checks a row's label."""
    return len(app._workers._executor._threads)


def base_scope(*headers: tuple[bytes, bytes]) -> dict[str, Any]:
    """A GET over HTTPS from loopback, as uvicorn would pass it (the WSGI rows' environ)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "server": ("localhost", 443),
        "client": ("127.0.0.1", 50000),
        "scheme": "https",
        "method": "GET",
        "root_path": "",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [(b"host", b"localhost"), *headers],
        "state": {},
    }


_REQUEST = {"type": "http.request", "body": b"", "more_body": False}


async def _receive() -> Message:
    return _REQUEST


async def _drop(message: Message) -> None:
    return None


async def _once(app: ASGIApp, scope: Scope) -> tuple[int, dict[str, str]]:
    """The status and headers one request gets (set-up check, not timed)."""
    seen: dict[str, Any] = {}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            seen["status"] = message["status"]
            seen["headers"] = {
                bytes(k).decode("latin-1").lower(): bytes(v).decode("latin-1")
                for k, v in message.get("headers", [])
            }

    await app(dict(scope), _receive, send)
    return seen["status"], seen["headers"]


def requests(loop: EventLoop, app: ASGIApp, scope: dict[str, Any]) -> Callable[[int], None]:
    """``n`` requests, one after another, in one trip into the loop."""

    async def many(n: int) -> None:
        for _ in range(n):
            await app(scope.copy(), _receive, _drop)

    def batch(n: int) -> None:
        loop.run(lambda: many(n))

    return batch


def request_scope(
    authorization: str | None = None, extra: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
    """base_scope() with ``extra`` headers, then ``authorization`` (if any)."""
    headers = list(extra or [])
    if authorization is not None:
        headers.append((b"authorization", authorization.encode("latin-1")))
    return base_scope(*headers)


def row(
    loop: EventLoop,
    name: str,
    app: ASGIApp,
    baseline: str,
    expect: int,
    authorization: str | None = None,
    *,
    extra: list[tuple[bytes, bytes]] | None = None,
    token_headers: bool = False,
    equivalent: str = "",
    note: str = "",
) -> Scenario:
    scope = request_scope(authorization, extra)
    status, got = loop.run(lambda: _once(app, scope))
    if status != expect:
        raise RuntimeError(f"{name}: expected {expect}, got {status}")
    missing = {"auth-token", "auth-token-valid-until", "auth-token-location"} - set(got)
    if token_headers and missing:
        raise RuntimeError(f"{name}: token headers missing: {sorted(missing)}")
    batch = requests(loop, app, scope)
    return Scenario(name, lambda: batch(1), baseline, equivalent=equivalent, note=note, batch=batch)


class Case(NamedTuple):
    """One row decided in process (the bare app, the floor, restauth.asgi with memory
    stores), before it is checked and timed."""

    name: str
    app: ASGIApp
    expect: int  # the status
    authorization: str | None = None  # the Authorization header; None: none sent
    extra: list[tuple[bytes, bytes]] | None = None  # headers besides Host and Authorization
    token_headers: bool = False  # restauth's token headers expected in the answer
    note: str = ""


def memory_cases(users: MemoryUserStore) -> list[Case]:
    """The bare ASGI app, the floor, and restauth.asgi over the bare app with memory tokens
    (and ``users``): every request decided inline."""
    from restauth.asgi import AuthMiddleware

    tokens = MemoryTokenManager(secret_key=SECRET_KEY)
    app = AuthMiddleware(bare_asgi_app, users=users, tokens=tokens, realm="bench")
    token = tokens.issue(USERID, users.get(USERID).stamp).token  # type: ignore[union-attr]
    inline = "inline"
    return [
        Case(BARE_ASGI, bare_asgi_app, 200),
        Case(FLOOR_ASGI, Floor(bare_asgi_app), 200,
             note="dispatch; scope copied with one key; send wrapped to add one header"),
        Case(A_TOKEN, app, 200, f"Token {token}", token_headers=True, note=inline),
        Case(A_BEARER, app, 200, f"Bearer {token}", token_headers=True, note=inline),
        Case(A_TOKEN_HEADERS, app, 200, f"Token {token}", EXTRA_HEADERS, token_headers=True,
             note=f"{inline}; Host, Authorization and 7 a browser sends"),
        Case(A_BASIC, app, 200, basic(USERID, PASSWORD), token_headers=True,
             note=f"{inline} (a password the cache remembers)"),
        Case(A_401, app, 401, note=inline),
    ]  # fmt: skip


def scenarios(
    loop: EventLoop, users: MemoryUserStore, log: Callable[[str], None]
) -> list[Scenario]:
    """The bare ASGI app, the floor, restauth.asgi over it (memory, SQLite, Redis and
    PostgreSQL stores), Starlette's peer."""
    from restauth.asgi import AuthMiddleware

    stamp = users.get(USERID).stamp  # type: ignore[union-attr]
    threaded = "worker thread"
    rows = [
        row(loop, case.name, case.app, BARE_ASGI, case.expect, case.authorization,
            extra=case.extra, token_headers=case.token_headers, note=case.note)
        for case in memory_cases(users)
    ]  # fmt: skip
    try:
        manager, _ = _sqlite_tokens()
        store_app = AuthMiddleware(bare_asgi_app, users=users, tokens=manager, realm="bench")
        presented = manager.issue(USERID, stamp).token
        rows.append(
            row(loop, A_SQLITE, store_app, BARE_ASGI, 200, f"Token {presented}",
                token_headers=True, note=f"{threaded} (a store that may block)")
        )  # fmt: skip
    except Exception as error:
        log(f"skipped {A_SQLITE}: {type(error).__name__}: {error}")
    rows += async_store_rows(loop, users, log)
    try:
        rows += starlette_rows(loop)
    except ImportError as error:
        log(f"skipped Starlette's AuthenticationMiddleware: not installed ({error.name})")
    return rows


def async_store_rows(
    loop: EventLoop, users: MemoryUserStore, log: Callable[[str], None]
) -> list[Scenario]:
    """Token checks whose stores have async clients, awaited on the loop: Redis tokens
    (memory users), PostgreSQL users and tokens; and the Redis row with the async reader
    off (a worker thread). A row whose service does not answer is skipped."""
    from restauth.asgi import AuthMiddleware

    awaited, threaded = "awaited (async client)", "worker thread (async reader off)"
    rows: list[Scenario] = []
    try:
        manager, note = _redis_tokens()
        presented = manager.issue(USERID, users.get(USERID).stamp).token  # type: ignore[union-attr]
        app = AuthMiddleware(bare_asgi_app, users=users, tokens=manager, realm="bench")
        lifespan_started(loop, app)
        off = without_async_reads(
            AuthMiddleware(bare_asgi_app, users=users, tokens=manager, realm="bench")
        )
        rows.append(
            _where(app, 0, row(loop, A_REDIS, app, BARE_ASGI, 200, f"Token {presented}",
                               token_headers=True, note=f"{awaited}; {note}"))
        )  # fmt: skip
        rows.append(
            _where(off, 1, row(loop, A_REDIS_THREAD, off, BARE_ASGI, 200, f"Token {presented}",
                               token_headers=True, note=f"{threaded}; the row above's stores"))
        )  # fmt: skip
    except Mislabelled:
        raise
    except Exception as error:  # no Redis (or no redis-py): skip, say why
        log(f"skipped {A_REDIS} (and with the async reader off): {type(error).__name__}: {error}")
    try:
        pg_users, pg_tokens, note = postgres_users_and_tokens()
        user = pg_users.get(USERID)
        assert user is not None
        presented = pg_tokens.issue(USERID, user.stamp).token
        app = AuthMiddleware(bare_asgi_app, users=pg_users, tokens=pg_tokens, realm="bench")
        lifespan_started(loop, app)
        rows.append(
            _where(app, 0, row(loop, A_POSTGRES, app, BARE_ASGI, 200, f"Token {presented}",
                               token_headers=True, note=f"{awaited}; {note}"))
        )  # fmt: skip
    except Mislabelled:
        raise
    except Exception as error:  # no PostgreSQL (or no psycopg): skip, say why
        log(f"skipped {A_POSTGRES}: {type(error).__name__}: {error}")
    return rows


def lifespan_started(loop: EventLoop, app: ASGIApp) -> None:
    """``app``'s lifespan startup run on ``loop``, as a server runs it (the ASGI adapter's
    async readers live from there); its shutdown when the loop closes."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()

    async def begin() -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}}
        task = asyncio.ensure_future(app(scope, inbox.get, outbox.put))
        await inbox.put({"type": "lifespan.startup"})
        if (await outbox.get())["type"] != "lifespan.startup.complete":
            raise RuntimeError("the lifespan's startup failed")

        async def end() -> None:
            await inbox.put({"type": "lifespan.shutdown"})
            await outbox.get()
            await task

        loop.at_close(end)

    loop.run(begin)


class Mislabelled(RuntimeError):
    """A row's request was not decided where its label says."""


def _where(app: Any, threads: int, scenario: Scenario) -> Scenario:
    """``scenario`` once its set-up request went where its label says: to no worker
    thread (awaited) or to one."""
    used = min(_threads_used(app), 1)
    if used != threads:
        where = "a worker thread" if used else "no worker thread"
        raise Mislabelled(f"{scenario.name}: its set-up request went to {where}")
    return scenario


def starlette_rows(loop: EventLoop) -> list[Scenario]:
    from starlette.authentication import (
        AuthCredentials,
        AuthenticationBackend,
        AuthenticationError,
        BaseUser,
        SimpleUser,
    )
    from starlette.middleware.authentication import AuthenticationMiddleware
    from starlette.requests import HTTPConnection

    class TokenBackend(AuthenticationBackend):
        """The smallest backend: a bearer token looked up in a dict (Starlette's docs'
        example, with a token instead of Basic credentials)."""

        def __init__(self, tokens: dict[str, str]) -> None:
            self.tokens = tokens

        async def authenticate(
            self, conn: HTTPConnection
        ) -> tuple[AuthCredentials, BaseUser] | None:
            header = conn.headers.get("authorization")
            if header is None:
                return None
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer":
                return None
            userid = self.tokens.get(token)
            if userid is None:
                raise AuthenticationError("invalid token")
            return AuthCredentials(["authenticated"]), SimpleUser(userid)

    backend = TokenBackend({PEER_TOKEN: USERID})
    app = AuthenticationMiddleware(protected_bare_asgi_app, backend=backend)
    return [
        row(loop, "Starlette AuthenticationMiddleware token (dict backend)", app, BARE_ASGI, 200,
            f"Bearer {PEER_TOKEN}", equivalent=A_BEARER,
            note="no token headers, no throttle, no expiry"),
        row(loop, "Starlette AuthenticationMiddleware 401", app, BARE_ASGI, 401, equivalent=A_401,
            note="the 401 comes from the app (no challenge header)"),
    ]  # fmt: skip


def bare_fastapi() -> Any:
    from fastapi import FastAPI, Response

    app = FastAPI()

    @app.get("/")
    async def index() -> Response:
        return Response(BODY, media_type="text/plain")

    return app


def fastapi_rows(
    loop: EventLoop, users: MemoryUserStore, log: Callable[[str], None]
) -> list[Scenario]:
    """A bare FastAPI app, restauth.asgi around it, and fastapi-users' bearer transport
    with its JWT strategy (its docs' default) and its database strategy over dicts."""
    from restauth.asgi import AuthMiddleware

    bare = bare_fastapi()  # import error here: FastAPI is missing, skip all
    tokens = MemoryTokenManager(secret_key=SECRET_KEY)
    app = AuthMiddleware(bare, users=users, tokens=tokens, realm="bench")
    token = tokens.issue(USERID, users.get(USERID).stamp).token  # type: ignore[union-attr]
    rows = [
        row(loop, BARE_FASTAPI, bare, BARE_FASTAPI, 200),
        row(loop, A_TOKEN_FASTAPI, app, BARE_FASTAPI, 200, f"Token {token}", token_headers=True),
        row(loop, A_401_FASTAPI, app, BARE_FASTAPI, 401, note="answered before FastAPI runs"),
    ]
    try:
        rows += fastapi_users_rows(loop)
    except ImportError as error:
        log(f"skipped fastapi-users: not installed ({error.name}); pip install fastapi-users")
    return rows


def fastapi_users_rows(loop: EventLoop) -> list[Scenario]:
    """fastapi-users configured as its docs show (``get_user_db`` → ``get_user_manager`` →
    ``FastAPIUsers(...).current_user(active=True)``), the user and access tokens in dicts
    instead of SQLAlchemy (no database round trip, like restauth's memory stores)."""
    from fastapi import Depends, FastAPI, Response
    from fastapi_users import BaseUserManager, FastAPIUsers, IntegerIDMixin
    from fastapi_users.authentication import AuthenticationBackend, BearerTransport, JWTStrategy
    from fastapi_users.authentication.strategy.db import DatabaseStrategy
    from fastapi_users.db import BaseUserDatabase
    from fastapi_users.password import PasswordHelper

    @dataclasses.dataclass
    class User:
        id: int
        email: str
        hashed_password: str
        is_active: bool = True
        is_superuser: bool = False
        is_verified: bool = True

    @dataclasses.dataclass
    class AccessToken:
        token: str
        user_id: int
        created_at: datetime.datetime = dataclasses.field(
            default_factory=lambda: datetime.datetime.now(datetime.UTC)
        )

    class UserDatabase(BaseUserDatabase[User, int]):
        def __init__(self, users: dict[int, User]) -> None:
            self.users = users

        async def get(self, id: int) -> User | None:
            return self.users.get(id)

    class AccessTokenDatabase:
        def __init__(self) -> None:
            self.tokens: dict[str, AccessToken] = {}

        async def get_by_token(
            self, token: str, max_age: datetime.datetime | None = None
        ) -> AccessToken | None:
            found = self.tokens.get(token)
            if found is None or (max_age is not None and found.created_at < max_age):
                return None
            return found

        async def create(self, create_dict: dict[str, Any]) -> AccessToken:
            access_token = AccessToken(**create_dict)
            self.tokens[access_token.token] = access_token
            return access_token

    secret = SECRET_KEY + "-fastapi-users"
    hashed = PasswordHelper().hash(PASSWORD)  # set-up only: no password is checked per request
    user = User(1, "alice@example.com", hashed)
    user_db = UserDatabase({user.id: user})
    access_tokens = AccessTokenDatabase()

    class UserManager(IntegerIDMixin, BaseUserManager[User, int]):
        reset_password_token_secret = secret
        verification_token_secret = secret

    async def get_user_db() -> Any:
        yield user_db

    async def get_user_manager(db: Any = Depends(get_user_db)) -> Any:  # noqa: B008 - FastAPI
        yield UserManager(db)

    async def get_access_token_db() -> Any:
        yield access_tokens

    def get_jwt_strategy() -> JWTStrategy[User, int]:
        return JWTStrategy(secret=secret, lifetime_seconds=3600)

    def get_database_strategy(
        db: Any = Depends(get_access_token_db),  # noqa: B008 - FastAPI
    ) -> DatabaseStrategy[User, int, AccessToken]:
        return DatabaseStrategy(db, lifetime_seconds=3600)

    transport = BearerTransport(tokenUrl="auth/login")
    backends = {
        "JWT strategy": AuthenticationBackend("jwt", transport, get_jwt_strategy),
        "database strategy": AuthenticationBackend("db", transport, get_database_strategy),
    }
    written = {
        "JWT strategy": loop.run(lambda: get_jwt_strategy().write_token(user)),
        "database strategy": loop.run(
            lambda: DatabaseStrategy(access_tokens, 3600).write_token(user)  # type: ignore[arg-type]
        ),
    }
    notes = {
        "JWT strategy": "its docs' default: an HS256 JWT verified per request; users in a dict",
        "database strategy": "access tokens and users in dicts (no database)",
    }
    rows: list[Scenario] = []
    for label, backend in backends.items():
        users = FastAPIUsers[User, int](get_user_manager, [backend])
        current_user = users.current_user(active=True)
        app = FastAPI()

        @app.get("/")
        async def index(user: User = Depends(current_user)) -> Response:  # noqa: B008
            return Response(BODY, media_type="text/plain")

        rows.append(
            row(loop, f"fastapi-users Bearer ({label})", app, BARE_FASTAPI, 200,
                f"Bearer {written[label]}", equivalent=A_TOKEN_FASTAPI, note=notes[label])
        )  # fmt: skip
        if label == "database strategy":
            rows.append(
                row(loop, "fastapi-users 401", app, BARE_FASTAPI, 401, equivalent=A_401_FASTAPI)
            )
    return rows
