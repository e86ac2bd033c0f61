"""One contract, two adapters: the middleware the contract tests build, WSGI or ASGI.

The tests speak WSGI (an app like :func:`tests.conftest.echo_app`, a ``webtest.TestApp``
around the middleware). :func:`AuthMiddleware` builds what the ``adapter`` fixture of
``tests/conftest.py`` names:

* ``"wsgi"``: :class:`restauth.AuthMiddleware` itself;
* ``"asgi"``: :class:`restauth.asgi.AuthMiddleware` between two bridges: the WSGI app is
  served as an ASGI app (:class:`WSGIApp`: the identity restauth puts in the scope becomes
  ``environ["restauth.identity"]`` and ``REMOTE_USER``), and the middleware is served to
  WebTest as a WSGI app (:class:`ASGIServer`: each request is one ASGI call on an event
  loop in a thread of its own, as a server runs it). The bridges are this file's own:
  a2wsgi's ``WSGIMiddleware`` does not pass ``restauth.identity`` on (it copies no scope
  key into the environ) and decodes the query string as ASCII.

A module runs its tests against both with ``pytestmark = pytest.mark.usefixtures("adapter")``;
a test about WSGI itself (the environ, ``start_response``, PEP 3333's Latin-1 paths) is
marked :func:`wsgi_only`, with its reason.
"""

from __future__ import annotations

import asyncio
import io
import sys
import threading
from collections.abc import Callable, Coroutine, Iterable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from typing import Any, TypeVar
from urllib.parse import quote

import pytest

import restauth
import restauth.asgi
from restauth.middleware import EnvironRequest
from tests.conftest import echo_app

ADAPTERS = ("wsgi", "asgi")
T = TypeVar("T")
Environ = dict[str, Any]
Message = dict[str, Any]
StartResponse = Callable[..., Any]
WSGIApplication = Callable[[Environ, StartResponse], Iterable[bytes]]

_current = ["wsgi"]  # what AuthMiddleware builds; the adapter fixture sets it per test


@contextmanager
def using(adapter: str) -> Iterator[None]:
    """Build ``adapter``'s middleware (``"wsgi"`` or ``"asgi"``) inside the block."""
    if adapter not in ADAPTERS:
        raise ValueError(f"unknown adapter {adapter!r}")
    previous = _current[0]
    _current[0] = adapter
    try:
        yield
    finally:
        _current[0] = previous


def current() -> str:
    return _current[0]


def AuthMiddleware(app: WSGIApplication, **settings: Any) -> Any:
    """``restauth.AuthMiddleware(app, **settings)``, or the same settings through the ASGI
    adapter: a WSGI callable that reads like the middleware (``.options``, ``.pipeline``,
    ``.users``, ``.tokens``, ... are the ASGI middleware's)."""
    if current() == "wsgi":
        return restauth.AuthMiddleware(app, **settings)
    return ASGIServer(restauth.asgi.AuthMiddleware(WSGIApp(app), **settings))


def configured(config: Any, app: WSGIApplication, **overrides: Any) -> Any:
    """``config.middleware(app, **overrides)``, or ``config.asgi_middleware`` served the
    same way: the configuration file's entry point of the adapter under test."""
    if current() == "wsgi":
        return config.middleware(app, **overrides)
    return ASGIServer(config.asgi_middleware(WSGIApp(app), **overrides))


def wsgi_only(reason: str) -> pytest.MarkDecorator:
    """Run a test of a contract module for the WSGI adapter only: it is about WSGI itself.
    The reason says why, and where the ASGI counterpart is tested if it has one."""
    if not reason.strip():
        raise ValueError("say why the test is about WSGI only")
    return pytest.mark.parametrize("adapter", ["wsgi"], indirect=True)


@pytest.fixture
def middleware(adapter: str, users: Any, tokens: Any) -> Any:
    """``tests/conftest.py``'s ``middleware`` (and so its ``client``), built by the adapter
    under test: a contract module imports this fixture to override conftest's."""
    return AuthMiddleware(echo_app, users=users, tokens=tokens, realm="test", public=["/health"])


def request_view(environ: Environ) -> Any:
    """The adapter's request view of what ``environ`` describes: the WSGI adapter's
    ``EnvironRequest``, or the ASGI adapter's ``ScopeRequest`` over the scope a server
    would give for the same request."""
    if current() == "wsgi":
        return EnvironRequest(environ)
    return restauth.asgi.ScopeRequest(scope_of(environ))


# -- WSGI request -> ASGI scope (what a server gives the ASGI middleware) -------------------


def _wire(text: str) -> bytes:
    """A WSGI string (bytes as Latin-1 characters) as the bytes it stands for."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:  # not a PEP 3333 string; send it as UTF-8, as a client would
        return text.encode("utf-8")


def _path(text: str) -> str:
    """A WSGI path as ASGI's ``path``: the bytes decoded as UTF-8 (uvicorn's 'replace')."""
    return _wire(text).decode("utf-8", "replace")


def scope_of(environ: Environ) -> Message:
    """The ``http`` scope an ASGI server gives for the request ``environ`` describes."""
    headers: list[tuple[bytes, bytes]] = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            name = key.replace("_", "-").lower()
        else:
            continue
        headers.append((name.encode("latin-1"), _wire(value)))
    script, path_info = environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", "")
    server_name, server_port = environ.get("SERVER_NAME"), environ.get("SERVER_PORT", "")
    address = environ.get("REMOTE_ADDR")
    port = environ.get("REMOTE_PORT", "")
    protocol = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": protocol.partition("/")[2] or "1.1",
        "method": environ.get("REQUEST_METHOD", "GET"),
        "scheme": environ.get("wsgi.url_scheme", "http"),
        "path": _path(script + path_info),  # ASGI's path includes the root path
        "raw_path": quote(_wire(script + path_info), safe="/:@!$&'()*+,;=~").encode("ascii"),
        "root_path": _path(script),
        "query_string": _wire(environ.get("QUERY_STRING", "")),
        "headers": headers,
        "client": (address, int(port) if port.isdigit() else 0) if address else None,
        "server": (
            (server_name, int(server_port) if server_port.isdigit() else None)
            if server_name
            else None
        ),
        "extensions": {},
        "state": {},
    }


_CHUNK = 64 * 1024


def _declared_length(environ: Environ) -> int | None:
    declared = environ.get("CONTENT_LENGTH") or ""
    return int(declared) if declared.isdigit() else None


class _Exchange:
    """One request to an ASGI app: ``receive`` hands over the WSGI body in 64 KiB pieces
    (``http.disconnect`` when it ends before its Content-Length or cannot be read, as a
    server does when the client goes away); ``send`` collects the answer."""

    def __init__(self, environ: Environ) -> None:
        self.stream = environ.get("wsgi.input")
        self.left = _declared_length(environ)
        # Without a Content-Length a body is read to its end only where one is known to
        # exist (chunked; a server that says where the body ends); else there is none.
        self.to_the_end = self.left is None and (
            "HTTP_TRANSFER_ENCODING" in environ
            or bool(environ.get("wsgi.input_terminated"))
            or environ.get("CONTENT_LENGTH") not in (None, "")  # malformed: read what came
        )
        self.body_done = self.stream is None or (self.left in (None, 0) and not self.to_the_end)
        self.received = False  # a request without a body is still one http.request message
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.complete = False

    async def receive(self) -> Message:
        if self.body_done:
            if self.received:
                return {"type": "http.disconnect"}
            self.received = True
            return {"type": "http.request", "body": b"", "more_body": False}
        self.received = True
        want = _CHUNK if self.left is None else min(_CHUNK, self.left)
        try:
            chunk = self.stream.read(want)  # type: ignore[union-attr]
        except Exception:  # the client went away mid-body (OSError, webob's DisconnectionError)
            self.body_done = True
            return {"type": "http.disconnect"}
        if self.left is None:
            more = bool(chunk)
        else:
            if not chunk:  # fewer bytes than announced: the client went away
                self.body_done = True
                return {"type": "http.disconnect"}
            self.left -= len(chunk)
            more = self.left > 0
        self.body_done = not more
        return {"type": "http.request", "body": chunk, "more_body": more}

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            assert self.status is None, "http.response.start sent twice"
            self.status = int(message["status"])
            self.headers = [(bytes(n), bytes(v)) for n, v in message.get("headers") or ()]
        elif kind == "http.response.body":
            assert self.status is not None, "a body before http.response.start"
            assert not self.complete, "a body after the response ended"
            self.chunks.append(bytes(message.get("body", b"")))
            self.complete = not message.get("more_body", False)
        else:
            raise AssertionError(f"unexpected message {kind!r}")


_loop_lock = threading.Lock()
_loops: list[asyncio.AbstractEventLoop] = []


def _event_loop() -> asyncio.AbstractEventLoop:
    """The event loop the ASGI calls run on: one, in a daemon thread, for the session."""
    with _loop_lock:
        if not _loops:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="asgi-server", daemon=True).start()
            _loops.append(loop)
        return _loops[0]


def run_async(call: Coroutine[Any, Any, T], timeout: float = 60) -> T:
    """Run ``call`` on :func:`_event_loop`, never in the calling thread: a session fixture
    may keep an event loop running there (Playwright's sync API in tests/e2e does)."""
    return asyncio.run_coroutine_threadsafe(call, _event_loop()).result(timeout=timeout)


class ASGIServer:
    """An ASGI app served as a WSGI app (for WebTest), reading like the app it serves:
    attributes are the ASGI app's, set and read."""

    def __init__(self, app: Any) -> None:
        object.__setattr__(self, "asgi_app", app)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.asgi_app, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.asgi_app, name, value)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        exchange = _Exchange(environ)
        call = self.asgi_app(scope_of(environ), exchange.receive, exchange.send)
        run_async(call)
        if exchange.status is None or not exchange.complete:
            raise AssertionError("the ASGI app returned without a complete response")
        try:
            reason = HTTPStatus(exchange.status).phrase
        except ValueError:
            reason = "Unknown"
        headers = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in exchange.headers]
        start_response(f"{exchange.status} {reason}", headers)
        return [b"".join(exchange.chunks)]


# -- ASGI scope -> WSGI environ (what a WSGI app behind the ASGI middleware sees) ------------


def environ_of(scope: Message, body: bytes) -> Environ:
    """The environ a WSGI app is given for an ASGI ``http`` scope: the PEP 3333 keys, the
    headers, and the identity restauth put in the scope (``REMOTE_USER`` too)."""
    root = scope.get("root_path", "")
    path = scope.get("path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    server = scope.get("server") or ("localhost", 80)
    environ: Environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": root.encode("utf-8").decode("latin-1"),
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1] or ""),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.input_terminated": True,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "asgi.scope": scope,
    }
    client = scope.get("client")
    if client:
        environ["REMOTE_ADDR"], environ["REMOTE_PORT"] = client[0], str(client[1])
    for raw_name, raw_value in scope.get("headers") or ():
        name = raw_name.decode("latin-1").upper().replace("-", "_")
        key = name if name in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + name
        value = raw_value.decode("latin-1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    identity = scope.get("restauth.identity")
    if identity is not None:
        environ["restauth.identity"] = identity
        environ["REMOTE_USER"] = identity.userid
    return environ


class WSGIApp:
    """A WSGI app served as an ASGI app (``http`` only): its body read whole first, its
    answer (``write()`` and the iterable alike) sent piece by piece."""

    def __init__(self, app: WSGIApplication) -> None:
        self.app = app

    async def __call__(self, scope: Message, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError(f"a WSGI app serves http, not {scope['type']}")
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        started: list[tuple[str, list[tuple[str, str]]]] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            if started and exc_info is None:
                raise AssertionError("start_response called twice without exc_info")
            started[:] = [(status, list(headers))]  # nothing sent yet: exc_info may replace
            return written.append

        result = self.app(environ_of(scope, b"".join(chunks)), start_response)
        try:
            written.extend(result)  # after what write() was given, in order
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        (status, headers) = started[0]
        await send(
            {
                "type": "http.response.start",
                "status": int(status[:3]),
                "headers": [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers],
            }
        )
        for chunk in written:
            if chunk:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
