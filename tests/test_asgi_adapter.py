"""The ASGI adapter where ASGI is not WSGI: what the application finds in the scope, bodies
that come in messages (the application's own never touched), ``root_path``, headers as
repeated byte pairs, paths as text.

The contract itself (statuses, challenges, endpoints, headers) runs against both adapters
in the contract modules (``tests/adapters.py``); this file talks ASGI directly, with a
hand-written ``receive``/``send`` that counts what the middleware reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from restauth import CookieMode, Identity, MemoryTokenManager, MemoryUserStore
from restauth.asgi import AuthMiddleware

from .adapters import run_async
from .conftest import ALICE_PASSWORD, BOB_PASSWORD, basic

Message = dict[str, Any]
LIMIT = 16 * 1024  # restauth's bodies: a login, a registration, a password change


@dataclass
class Answer:
    """What the server was sent, and what the application saw."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    delivered: list[Message]  # every message receive() handed out, to anyone
    app: App | None

    def all(self, name: str) -> list[str]:
        raw = name.lower().encode("latin-1")
        return [value.decode("latin-1") for key, value in self.headers if key == raw]

    def get(self, name: str) -> str | None:
        values = self.all(name)
        assert len(values) <= 1, (name, values)
        return values[0] if values else None

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def bytes_read(self) -> int:
        return sum(len(m.get("body", b"")) for m in self.delivered)


@dataclass
class App:
    """An ASGI application that records its scope and reads its own body to the end."""

    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    scope: Any = None
    body: bytes = b""
    read_before_me: int = -1  # messages the middleware read before calling the app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.scope = scope
        self.read_before_me = len(scope["test.delivered"])
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body"):
                break
        self.body = b"".join(chunks)
        identity = scope.get("restauth.identity")
        body = json.dumps({"userid": identity.userid if identity else None}).encode()
        headers = [(b"content-type", b"application/json"), *self.headers]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def run(
    middleware: AuthMiddleware,
    method: str = "GET",
    path: str = "/",
    headers: Iterable[tuple[str, str]] = (),
    body: Iterable[Message] | bytes | None = None,
    **scope: Any,
) -> Answer:
    """One request through ``middleware``: ``body`` as bytes (one message, with its
    Content-Length) or as the messages a server would hand over (``http.disconnect``
    once they run out, as when the client has gone)."""
    raw_headers = [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers]
    if isinstance(body, bytes):
        raw_headers.append((b"content-length", str(len(body)).encode()))
        messages: Iterator[Message] = iter([{"type": "http.request", "body": body}])
    else:
        messages = iter([{"type": "http.request", "body": b""}] if body is None else body)
    delivered: list[Message] = []
    sent: list[Message] = []
    full_scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode("utf-8", "surrogateescape"),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"api.example"), *raw_headers],
        "client": ("192.0.2.7", 50000),
        "server": ("api.example", 443),
        "test.delivered": delivered,
        **scope,
    }

    async def receive() -> Message:
        message = next(messages, {"type": "http.disconnect"})
        delivered.append(message)
        return message

    async def send(message: Message) -> None:
        sent.append(message)

    run_async(middleware(full_scope, receive, send))
    start, *bodies = sent
    assert start["type"] == "http.response.start"
    app = middleware.app if isinstance(middleware.app, App) else None
    return Answer(
        start["status"],
        list(start.get("headers", [])),
        b"".join(m.get("body", b"") for m in bodies),
        delivered,
        app if app is not None and app.scope is not None else None,
    )


def chunks(data: bytes, size: int) -> list[Message]:
    """``data`` as a server hands over a body of unknown length (chunked, HTTP/2)."""
    pieces = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
    return [
        {"type": "http.request", "body": piece, "more_body": i < len(pieces) - 1}
        for i, piece in enumerate(pieces)
    ]


def login_json(userid: str = "alice", password: str = ALICE_PASSWORD) -> bytes:
    return json.dumps({"username": userid, "password": password}).encode()


JSON = ("Content-Type", "application/json")


@pytest.fixture
def site(users: MemoryUserStore, tokens: MemoryTokenManager) -> AuthMiddleware:
    return AuthMiddleware(App(), users=users, tokens=tokens, public=["/health"])


# -- what the application finds in the scope --------------------------------------------


def test_the_app_finds_the_identity_user_and_roles_in_the_scope(site: AuthMiddleware) -> None:
    answer = run(site, headers=[("Authorization", basic("alice", ALICE_PASSWORD))])
    assert answer.status == 200
    assert answer.app is not None
    scope = answer.app.scope
    identity = scope["restauth.identity"]
    assert (identity.userid, identity.roles, identity.mechanism) == (
        "alice", frozenset({"admin", "user"}), "basic",
    )  # fmt: skip
    user = scope["user"]
    assert user.is_authenticated
    assert user.display_name == "alice"
    assert user.identity is identity
    assert user.roles == frozenset({"admin", "user"})
    assert scope["auth"].scopes == ["admin", "user"]
    assert "REMOTE_USER" not in scope  # a WSGI name: the identity is the scope's own key


def test_an_anonymous_request_carries_no_identity_whatever_came_in(site: AuthMiddleware) -> None:
    forged = Identity("mallory", frozenset({"admin"}), "basic")
    answer = run(site, path="/health", **{"restauth.identity": forged, "user": "mallory"})
    assert answer.status == 200
    assert answer.app is not None
    scope = answer.app.scope
    assert "restauth.identity" not in scope
    assert scope["user"].is_authenticated is False
    assert scope["user"].display_name == ""
    assert scope["auth"].scopes == []


def test_starlettes_requires_reads_the_roles(users: MemoryUserStore) -> None:
    from starlette.applications import Starlette
    from starlette.authentication import requires
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    @requires("admin")
    async def admin(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.user.display_name)

    app = AuthMiddleware(Starlette(routes=[Route("/admin", admin)]), users=users, tokens=None)
    alice = run(app, path="/admin", headers=[("Authorization", basic("alice", ALICE_PASSWORD))])
    assert (alice.status, alice.body) == (200, b"alice")
    bob = run(app, path="/admin", headers=[("Authorization", basic("bob", BOB_PASSWORD))])
    assert bob.status == 403  # Starlette's refusal: bob is known but not an admin


def test_the_query_token_never_reaches_the_app(
    users: MemoryUserStore, tokens: MemoryTokenManager
) -> None:
    app = AuthMiddleware(App(), users=users, tokens=tokens, query_token="access_token")
    token = run(app, "POST", "/tokens", [JSON], login_json()).json["token"]
    query = f"page=2&access_token={token}&q=caf%C3%A9".encode()
    answer = run(app, path="/data", query_string=query)
    assert answer.status == 200
    assert answer.app is not None
    assert answer.app.scope["query_string"] == b"page=2&q=caf%C3%A9"
    assert token.encode() not in repr(answer.app.scope).encode()
    assert answer.get("Referrer-Policy") == "no-referrer"


# -- headers: repeated request headers, the application's repeated response headers -------


def test_the_apps_repeated_headers_are_kept_and_ours_merged(
    users: MemoryUserStore, tokens: MemoryTokenManager
) -> None:
    inner = App(
        headers=[
            (b"set-cookie", b"a=1; Path=/"), (b"set-cookie", b"b=2; Path=/"),
            (b"cache-control", b"public, max-age=600"), (b"auth-token", b"forged"),
            (b"x-trace", b"1"), (b"x-trace", b"2"),
        ]
    )  # fmt: skip
    app = AuthMiddleware(inner, users=users, tokens=tokens)
    answer = run(app, headers=[("Authorization", basic("alice", ALICE_PASSWORD))])
    assert answer.all("Set-Cookie") == ["a=1; Path=/", "b=2; Path=/"]  # never joined
    assert answer.all("X-Trace") == ["1", "2"]
    assert answer.all("Cache-Control") == ["no-store"]
    assert answer.get("Auth-Token") not in (None, "forged")
    assert all(name == name.lower() for name, _ in answer.headers)


def test_repeated_authorization_headers_are_joined_as_a_server_joins_them(
    site: AuthMiddleware,
) -> None:
    """WSGI servers join repeated headers with commas; the ASGI adapter sees the list and
    must judge it the same way: two credentials are a malformed request, never either one."""
    twice = [("Authorization", basic("bob", BOB_PASSWORD)), ("Authorization", "Bearer x.y")]
    answer = run(site, headers=twice)
    assert answer.status == 400
    assert answer.app is None


def test_cookie_headers_split_by_http2_are_one_cookie_list(
    users: MemoryUserStore, tokens: MemoryTokenManager
) -> None:
    """HTTP/2 clients (Chrome) send each cookie in a header of its own, and ASGI servers
    (Granian, Hypercorn) pass them on as they came: they are one list, joined by "; "
    (RFC 9113 §8.2.3, the ASGI spec), not by the comma of other repeated headers."""
    app = AuthMiddleware(App(), users=users, tokens=tokens, cookie=CookieMode())
    login = run(app, "POST", "/tokens", [JSON, ("X-Requested-With", "t")], login_json())
    cookie = login.get("Set-Cookie")
    assert cookie is not None
    session = cookie.partition(";")[0]  # __Host-restauth=<token>
    for split in ([("Cookie", "theme=dark"), ("Cookie", session)],
                  [("Cookie", session), ("Cookie", "theme=dark")]):  # fmt: skip
        answer = run(app, headers=split)
        assert answer.status == 200, (split, answer.status)
        assert answer.json["userid"] == "alice"


# -- root_path -------------------------------------------------------------------------------


def test_an_app_mounted_below_a_root_path(
    users: MemoryUserStore, tokens: MemoryTokenManager
) -> None:
    acl = [{"path": "/", "methods": ["GET"], "roles": ["$unauthenticated"]}]
    app = AuthMiddleware(App(), users=users, tokens=tokens, public=["/health"], acl=acl)
    mounted = {"root_path": "/api"}
    login = run(app, "POST", "/api/tokens", [JSON], login_json(), **mounted)
    assert login.status == 200  # restauth's endpoint, below the mount point
    assert login.get("Auth-Token-Location") == "/tokens/alice"  # as the WSGI adapter says it
    assert run(app, path="/api/health", **mounted).status == 200
    root = run(app, path="/api", **mounted)  # the mount point itself is "/" (WSGI: PATH_INFO "")
    assert root.status == 200
    assert root.app is not None
    assert (root.app.scope["path"], root.app.scope["root_path"]) == ("/api", "/api")  # untouched
    assert run(app, path="/api/x", **mounted).status == 401


# -- bodies -----------------------------------------------------------------------------------


def test_a_body_the_client_cut_short_is_400(site: AuthMiddleware) -> None:
    declared = [JSON, ("Content-Length", "200")]
    half = [{"type": "http.request", "body": login_json()[:20], "more_body": True}]
    for messages in (half, []):  # the rest never comes: http.disconnect
        answer = run(site, "POST", "/tokens", declared, messages)
        assert answer.status == 400
        assert answer.delivered[-1]["type"] == "http.disconnect"
    unannounced = run(site, "POST", "/tokens", [JSON], half)  # chunked, then gone
    assert unannounced.status == 400


@pytest.mark.parametrize("declared", [LIMIT + 1, 10**12])
@pytest.mark.parametrize("path", ["/tokens", "/tokens/alice"])
def test_a_declared_body_over_16_kib_is_413_unread(
    site: AuthMiddleware, declared: int, path: str
) -> None:
    headers = [JSON, ("Content-Length", str(declared)), ("Authorization", basic("alice", "x"))]
    answer = run(site, "POST" if path == "/tokens" else "DELETE", path, headers, [])
    assert answer.delivered == []  # judged by its Content-Length alone
    if path == "/tokens":
        assert answer.status == 413


def test_a_streamed_body_over_16_kib_is_413_without_reading_it_all(site: AuthMiddleware) -> None:
    def endless() -> Iterator[Message]:
        while True:
            yield {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    answer = run(site, "POST", "/tokens", [JSON], endless())
    assert answer.status == 413
    assert LIMIT < answer.bytes_read <= LIMIT + 1000  # one piece past the limit, no more


def test_a_chunked_login_body_is_read(site: AuthMiddleware) -> None:
    """No Content-Length: a WSGI server without wsgi.input_terminated cannot say where the
    body ends (411); an ASGI server always can."""
    answer = run(site, "POST", "/tokens", [JSON], chunks(login_json(), 7))
    assert answer.status == 200
    assert answer.json["userid"] == "alice"
    empty = run(site, "POST", "/tokens", [JSON], chunks(b"", 7))
    assert empty.status == 401  # no body, no credentials


@pytest.mark.parametrize("size", [0, 100, 5 * LIMIT])
def test_the_apps_own_body_is_never_read(users: MemoryUserStore, size: int) -> None:
    app = AuthMiddleware(App(), users=users, tokens=None)
    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    auth = ("Authorization", basic("alice", ALICE_PASSWORD))
    for path in ("/notes", "/tokens"):  # tokens off: /tokens is the application's
        answer = run(app, "POST", path, [auth], chunks(data, 4096))
        assert answer.status == 200
        assert answer.app is not None
        assert answer.app.read_before_me == 0
        assert answer.app.body == data


# -- paths as text, HEAD ------------------------------------------------------------------------


def test_non_ascii_paths(users: MemoryUserStore) -> None:
    users.add("jörg", "schön-password-1")
    acl = [
        {"path": "/menü/**", "roles": ["$unauthenticated"]},
        {"path": "/users/{userid}/**", "roles": ["$authenticated"]},
    ]
    app = AuthMiddleware(App(), users=users, acl=acl)
    assert run(app, path="/menü/heute").status == 200
    assert run(app, path="/menu/heute").status == 401
    jörg = [("Authorization", basic("jörg", "schön-password-1"))]
    assert run(app, path="/users/jörg/notes", headers=jörg).json["userid"] == "jörg"
    assert run(app, path="/users/bob/notes", headers=jörg).status == 403
    for odd in ("/users/j\udcc3\udcb6rg/notes", "/menü/\ufffd", "/\x00"):  # servers' escapes
        assert run(app, path=odd, headers=jörg).status in (200, 403)


def test_head_is_answered_like_get(site: AuthMiddleware) -> None:
    refused = run(site, "HEAD", "/x")
    assert refused.status == 401
    assert refused.all("WWW-Authenticate")
    alice = run(site, "HEAD", "/x", [("Authorization", basic("alice", ALICE_PASSWORD))])
    assert alice.status == 200
    assert alice.app is not None
    assert alice.app.scope["method"] == "HEAD"
    assert alice.get("Auth-Token")


def test_both_request_views_read_one_request_alike() -> None:
    """The request view of each adapter reads one request the same way."""
    from restauth.asgi import ScopeRequest
    from restauth.middleware import EnvironRequest

    environ = {
        "REQUEST_METHOD": "POST", "SCRIPT_NAME": "/api", "PATH_INFO": "/tokens/j\xc3\xb6rg",
        "QUERY_STRING": "all=true", "wsgi.url_scheme": "https", "HTTP_HOST": "api.example",
        "REMOTE_ADDR": "192.0.2.7", "HTTP_X_A": "1,2", "CONTENT_LENGTH": "12",
    }  # fmt: skip
    scope = {
        "type": "http", "method": "POST", "root_path": "/api", "path": "/api/tokens/jörg",
        "query_string": b"all=true", "scheme": "https", "client": ("192.0.2.7", 1),
        "headers": [(b"host", b"api.example"), (b"x-a", b"1"), (b"x-a", b"2"),
                    (b"content-length", b"12")],
    }  # fmt: skip
    wsgi, asgi = EnvironRequest(environ), ScopeRequest(scope)
    for name in ("method", "path", "query", "scheme", "peer", "host", "content_length"):
        assert getattr(wsgi, name) == getattr(asgi, name), name
    for header in ("x-a", "host", "content-length", "authorization"):
        assert wsgi.header(header) == asgi.header(header), header


def test_headers_of_any_iterable_and_bytes_like_names_are_read() -> None:
    """The spec asks for an iterable of byte-string pairs: a generator, lists for pairs,
    ``bytearray`` names, upper-case names and repeats are all read as HTTP means them (the
    fast path is for a list of lower-case, unique names)."""
    from restauth.asgi import ScopeRequest

    pairs = [
        (bytearray(b"Authorization"), b"Token abc"),
        [b"cookie", b"a=1"],
        (b"cookie", b"b=2"),
        (b"accept", b"text/html"),
        (b"Accept", b"application/json"),
    ]
    for headers in (iter(pairs), (pair for pair in pairs), list(pairs)):
        request = ScopeRequest({"type": "http", "path": "/", "headers": headers})
        assert request.header("authorization") == "Token abc"
        assert request.header("cookie") == "a=1; b=2"
        assert request.header("accept") == "text/html,application/json"
        assert request.has_header("cookie")
        assert not request.has_header("host")
