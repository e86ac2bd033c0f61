"""The request view over an ASGI scope: what the pipeline reads of an ``http`` or
``websocket`` request."""

from __future__ import annotations

from restauth.asgi.spec import Scope
from restauth.wire.request import HeaderSet

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
