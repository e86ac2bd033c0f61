"""The request view over an ASGI scope: what the pipeline reads of an ``http`` or
``websocket`` request."""

from __future__ import annotations

from collections.abc import Iterable

from restauth.asgi.spec import Scope
from restauth.wire.request import HeaderSet, declared_length

_SCHEMES = {"ws": "http", "wss": "https"}
_RAW_SETS: dict[HeaderSet, tuple[bytes, ...]] = {}  # the names of each set, as bytes


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
        self._headers: dict[bytes, bytes] | None = None
        self.body: bytes | None = b""  # None: the client went away before sending it all

    def _all(self) -> dict[bytes, bytes]:
        """The headers by name, as bytes: decoded only when asked for (few are)."""
        headers = self._headers
        if headers is None:
            raw = self.scope.get("headers") or ()
            if type(raw) is not list:  # any iterable, as the spec allows
                raw = list(raw)
            try:
                headers = dict(raw)  # the common case, at C speed: lower-case names, each once
            except TypeError:  # names of another type (bytearray): read one by one
                headers = {}
            if len(headers) != len(raw) or not b"".join(headers).islower():
                headers = _joined(raw)
            self._headers = headers
        return headers

    @property
    def host(self) -> str:
        host = self._all().get(b"host")
        if host:
            return host.decode("latin-1")
        server = self.scope.get("server") or ("", "")
        return f"{server[0]}:{server[1]}"

    def header(self, name: str) -> str | None:
        value = self._all().get(name.encode("latin-1"))
        return None if value is None else value.decode("latin-1")

    def has_header(self, name: str) -> bool:
        return name.encode("latin-1") in self._all()

    def has_any_header(self, names: HeaderSet) -> bool:
        raw_names = _RAW_SETS.get(names)
        if raw_names is None:
            raw_names = _RAW_SETS[names] = tuple(name.encode("latin-1") for name in names.names)
        headers = self._all()
        for name in raw_names:  # noqa: SIM110 - a loop, not any(): this runs on every request
            if name in headers:
                return True
        return False

    @property
    def content_length(self) -> int | None:
        return declared_length(self._all().get(b"content-length"))

    def read_body(self, limit: int) -> bytes | None:
        body = self.body
        if body is None:
            raise OSError("the client went away before its body ended")
        length = self.content_length
        if length is not None and 0 <= length <= limit and len(body) < length:
            raise OSError(f"the body ended {length - len(body)} bytes before its Content-Length")
        return body[: limit + 1]


def _joined(raw: Iterable[Iterable[bytes]]) -> dict[bytes, bytes]:
    """The headers by lower-cased name, a repeated one joined as HTTP says: with ``,``, and
    cookies (HTTP/2 sends each alone) with ``; `` (RFC 9113, 8.2.3)."""
    headers: dict[bytes, bytes] = {}
    for raw_name, raw_value in raw:
        name, value = bytes(raw_name).lower(), bytes(raw_value)
        if name in headers:
            value = headers[name] + (b"; " if name == b"cookie" else b",") + value
        headers[name] = value
    return headers
