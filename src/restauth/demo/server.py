"""``restauth demo``: the notes API and its page behind the middleware, on a threaded server.

Users and tokens live in a SQLite file (``restauth-demo.db``) in a temporary directory,
removed when the demo stops (Ctrl-C, SIGTERM), or in ``--data-dir`` to keep them across
restarts. Two users get fresh random passwords at every start, printed once: an example
must not ship a default account (ASVS 5.0 6.3.2).

Accounts are on (``/users``): anyone may register, alice (role ``admin``) administers,
and a password reset link is printed on stderr by a :class:`ConsoleNotifier` — the
demo's stand-in for an e-mail; never a production notifier.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import signal
import socketserver
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from restauth.accounts import Accounts
from restauth.demo.app import NotesApp
from restauth.errors import UsageError
from restauth.middleware import AuthMiddleware
from restauth.notify.console import ConsoleNotifier
from restauth.tokens.base import TokenManager
from restauth.tokens.memory import MemoryTokenManager
from restauth.tokens.sqlite import SQLiteTokenManager
from restauth.users.base import AccountStore
from restauth.users.sqlite import SQLiteUserStore

# /favicon.ico: browsers fetch it on every page load; protected, it was a 401 each time.
PUBLIC = ["/", "/index.html", "/static/*", "/health", "/favicon.ico"]
ADMIN_ROLE = "admin"
DEMO_USERS = {"alice": ["user", ADMIN_ROLE], "bob": ["user"]}
DEFAULT_URL = "http://127.0.0.1:8080/"


def build_app(
    users: AccountStore,
    *,
    tokens: TokenManager | None = None,
    ttl: float = 900,
    cookie: bool = False,
    url: str = DEFAULT_URL,
) -> AuthMiddleware:
    """The notes app behind the middleware; ``url`` is the page's address, which the
    password reset links printed on stderr point to."""
    return AuthMiddleware(
        NotesApp(users),
        users=users,
        # Not `tokens or ...`: a token manager has __len__, so an empty one is false.
        tokens=tokens if tokens is not None else MemoryTokenManager(ttl=ttl),
        realm="restauth-demo",
        public=PUBLIC,
        cookie=cookie,
        require_https=False,  # the demo serves plain HTTP on loopback; production must not
        admin_role=ADMIN_ROLE,
        accounts=Accounts("open", default_roles=["user"], notifier=reset_notifier(url)),
    )


def reset_notifier(url: str) -> ConsoleNotifier:
    """Prints ``restauth: password-reset for 'bob': <url>#reset=<token>`` on stderr, the
    link the page opens to choose a new password. Development only: whoever reads the
    terminal can reset any account."""
    return ConsoleNotifier(links={"password-reset": url + "#reset={token}"})


def page_url(host: str, port: int) -> str:
    """The page's address on ``host``:``port`` (an IPv6 address in brackets)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def new_password(users: AccountStore, userid: str) -> str:
    """A fresh random password the store's policy accepts (a random one could, rarely,
    contain the userid: ``bob`` in 12 characters about once in 3,000 starts)."""
    policy = users.policy
    while True:
        password = secrets.token_urlsafe(9)
        try:
            if policy is not None:
                policy.check(password, userid)
        except ValueError:
            continue
        return password


def seed(users: AccountStore) -> dict[str, str]:
    """Create the demo users with fresh random passwords; returns them to print."""
    passwords = {}
    for userid, roles in DEMO_USERS.items():
        passwords[userid] = new_password(users, userid)
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


def is_loopback(host: str) -> bool:
    """Whether ``host`` is only reachable from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


# SIGHUP: the terminal that started the demo was closed.
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


@contextmanager
def _stopped_by_signals() -> Iterator[None]:
    """SIGTERM (``kill``, a test's ``terminate()``), SIGHUP and SIGINT end the demo as Ctrl-C does,
    so its ``finally`` runs and the temporary directory is removed. SIGINT too: a process
    started in the background by a shell inherits it ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, interrupt) for number in _STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def serve(
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    cookie: bool = False,
    data_dir: str | os.PathLike[str] | None = None,
) -> None:
    """Run the demo until Ctrl-C or SIGTERM. Raises :class:`UsageError` when it cannot
    listen; a temporary data directory is removed in every case."""
    temporary = not data_dir
    directory = Path(data_dir) if data_dir else Path(tempfile.mkdtemp(prefix="restauth-demo-"))
    try:
        with _stopped_by_signals():
            _serve(directory, host, port, cookie=cookie, temporary=temporary)
    except KeyboardInterrupt:
        pass
    finally:
        if temporary:
            shutil.rmtree(directory, ignore_errors=True)


def _serve(directory: Path, host: str, port: int, *, cookie: bool, temporary: bool) -> None:
    users, tokens = open_stores(directory)
    try:
        passwords = seed(users)
        try:
            server = _ThreadingServer((host, port), _QuietHandler)
        except OSError as error:
            raise UsageError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
        with server:
            # Built once the port is known (--port 0): the reset links carry it.
            url = page_url(host, server.server_port)
            server.set_app(build_app(users, tokens=tokens, cookie=cookie, url=url))
            _announce(server, host, passwords, directory, cookie=cookie, temporary=temporary)
            server.serve_forever()
    finally:
        users.close()
        tokens.close()


def _announce(
    server: WSGIServer,
    host: str,
    passwords: dict[str, str],
    directory: Path,
    *,
    cookie: bool,
    temporary: bool,
) -> None:
    url = page_url(host, server.server_port)
    described = "; ".join(
        f"{userid} ({', '.join(DEMO_USERS[userid])}) password {password}"
        for userid, password in passwords.items()
    )
    mode = "cookie mode: the token lives in an HttpOnly cookie" if cookie else "token mode"
    kept = "removed when the demo stops" if temporary else "kept"
    print(f"restauth demo on {url} ({mode})", flush=True)
    print(f"users: {described}", flush=True)
    print(f"data: {directory / 'restauth-demo.db'} (SQLite, {kept})", flush=True)
    print(
        f"accounts: anyone may register on the page; password reset links ({url}#reset=...) "
        "are printed on stderr, the demo's stand-in for an e-mail",
        flush=True,
    )
    print(f"try: curl -i -u alice:{passwords['alice']} {url}api/notes", flush=True)
    if not is_loopback(host):
        print(
            f"restauth demo: warning: plain HTTP on {host}, reachable from other machines: "
            "passwords and tokens cross the network in clear text. The demo turns "
            "require_https off; use 127.0.0.1, or put it behind TLS.",
            file=sys.stderr,
            flush=True,
        )
