"""``restauth demo``: the notes API and its page behind the middleware, on a threaded server.

Two users are created at start with random passwords, printed once: an example must
not ship a default account (ASVS 5.0 6.3.2).
"""

from __future__ import annotations

import secrets
import socketserver
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from restauth.demo.app import NotesApp
from restauth.middleware import AuthMiddleware
from restauth.tokens.memory import MemoryTokenManager
from restauth.users.base import WritableUserStore
from restauth.users.memory import MemoryUserStore

PUBLIC = ["/", "/index.html", "/static/*", "/health"]
DEMO_USERS = {"alice": ["user", "admin"], "bob": ["user"]}


def build_app(
    users: WritableUserStore, *, ttl: float = 900, cookie: bool = False
) -> AuthMiddleware:
    return AuthMiddleware(
        NotesApp(users),
        users=users,
        tokens=MemoryTokenManager(ttl=ttl),
        realm="restauth-demo",
        public=PUBLIC,
        cookie=cookie,
        require_https=False,  # the demo serves plain HTTP on loopback; production must not
    )


def seed(users: WritableUserStore) -> dict[str, str]:
    """Create the demo users with fresh random passwords; returns them to print."""
    passwords = {}
    for userid, roles in DEMO_USERS.items():
        passwords[userid] = secrets.token_urlsafe(9)
        users.add(userid, passwords[userid], roles=roles)
    return passwords


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a browser's idle keep-alive connection must not block the server


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(host: str = "127.0.0.1", port: int = 8080, *, cookie: bool = False) -> None:
    users = MemoryUserStore()
    passwords = seed(users)
    server = make_server(
        host,
        port,
        build_app(users, cookie=cookie),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    url = f"http://{host}:{server.server_port}/"
    described = "; ".join(
        f"{userid} ({', '.join(DEMO_USERS[userid])}) password {password}"
        for userid, password in passwords.items()
    )
    mode = "cookie mode: the token lives in an HttpOnly cookie" if cookie else "token mode"
    print(f"restauth demo on {url} ({mode})", flush=True)
    print(f"users: {described}", flush=True)
    print(f"try: curl -i -u alice:{passwords['alice']} {url}api/notes", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
