"""A tiny notes API behind the middleware, served by a threaded wsgiref server.

Two users are created at start with random passwords, printed once: an example must
not ship a default account (ASVS 5.0 6.3.2).
"""

from __future__ import annotations

import json
import secrets
import socketserver
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from restauth.middleware import AuthMiddleware
from restauth.tokens.memory import MemoryTokenManager
from restauth.users.memory import MemoryUserStore

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def notes_app(environ: WSGIEnvironment, start_response: StartResponse) -> list[bytes]:
    """The protected application: it only reads the identity restauth put in the environ."""
    identity = environ.get("restauth.identity")
    path = environ.get("PATH_INFO", "/")
    status, data = "200 OK", dict[str, object]()
    if path == "/health":
        data = {"status": "ok"}
    elif identity is None:
        status, data = "404 Not Found", {"error": "not found"}
    elif path == "/me":
        data = {"userid": identity.userid, "roles": sorted(identity.roles)}
    elif path == "/admin":
        if "admin" in identity.roles:
            data = {"message": f"welcome, administrator {identity.userid}"}
        else:
            status, data = "403 Forbidden", {"error": "admins only"}
    else:
        status, data = "404 Not Found", {"error": "not found"}
    body = json.dumps(data).encode("utf-8")
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
    )
    return [body]


def build_app(users: MemoryUserStore) -> AuthMiddleware:
    return AuthMiddleware(
        notes_app,
        users=users,
        tokens=MemoryTokenManager(ttl=900),
        realm="restauth-demo",
        public=["/health"],
    )


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(host: str = "127.0.0.1", port: int = 8080) -> None:
    users = MemoryUserStore()
    passwords = {"alice": secrets.token_urlsafe(9), "bob": secrets.token_urlsafe(9)}
    users.add("alice", passwords["alice"], roles=["user", "admin"])
    users.add("bob", passwords["bob"], roles=["user"])
    server = make_server(
        host, port, build_app(users), server_class=_ThreadingServer, handler_class=_QuietHandler
    )
    print(f"restauth demo on http://{host}:{server.server_port}/", flush=True)
    print(
        f"users: alice (roles user, admin) password {passwords['alice']}; "
        f"bob (role user) password {passwords['bob']}",
        flush=True,
    )
    print(
        f"try: curl -u alice:{passwords['alice']} http://{host}:{server.server_port}/me -i",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
