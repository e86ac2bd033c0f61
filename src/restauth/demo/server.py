"""``restauth demo``: the notes API and its page behind the middleware, on a threaded server.

Users and tokens live in a SQLite file (``restauth-demo.db``) in a temporary directory,
or in ``--data-dir`` to keep them across restarts. Two users get fresh random passwords
at every start, printed once: an example must not ship a default account (ASVS 5.0 6.3.2).
"""

from __future__ import annotations

import os
import secrets
import socketserver
import tempfile
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from restauth.demo.app import NotesApp
from restauth.middleware import AuthMiddleware
from restauth.tokens.base import TokenManager
from restauth.tokens.memory import MemoryTokenManager
from restauth.tokens.sqlite import SQLiteTokenManager
from restauth.users.base import WritableUserStore
from restauth.users.sqlite import SQLiteUserStore

PUBLIC = ["/", "/index.html", "/static/*", "/health"]
DEMO_USERS = {"alice": ["user", "admin"], "bob": ["user"]}


def build_app(
    users: WritableUserStore,
    *,
    tokens: TokenManager | None = None,
    ttl: float = 900,
    cookie: bool = False,
) -> AuthMiddleware:
    return AuthMiddleware(
        NotesApp(users),
        users=users,
        tokens=tokens or MemoryTokenManager(ttl=ttl),
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
        if users.get(userid) is None:
            users.add(userid, passwords[userid], roles=roles)
        else:  # a kept data directory: new password (old tokens die with the old stamp)
            users.set_password(userid, passwords[userid])
            users.set_roles(userid, roles)
    return passwords


def open_stores(data_dir: Path, ttl: float = 900) -> tuple[SQLiteUserStore, SQLiteTokenManager]:
    """The demo's SQLite file and the key its tokens are signed with (kept beside it, 0600)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    key_file = data_dir / "secret.key"
    if not key_file.exists():
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    database = data_dir / "restauth-demo.db"
    users = SQLiteUserStore(database)
    tokens = SQLiteTokenManager(database, ttl, secret_key=key_file.read_text().strip())
    return users, tokens


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a browser's idle keep-alive connection must not block the server


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    cookie: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
) -> None:
    directory = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="restauth-demo-"))
    users, tokens = open_stores(directory)
    passwords = seed(users)
    server = make_server(
        host,
        port,
        build_app(users, tokens=tokens, cookie=cookie),
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
    print(f"data: {directory / 'restauth-demo.db'} (SQLite)", flush=True)
    print(f"try: curl -i -u alice:{passwords['alice']} {url}api/notes", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        users.close()
        tokens.close()
