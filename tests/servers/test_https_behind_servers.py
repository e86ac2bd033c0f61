"""``require_https`` under real servers: a client's ``X-Forwarded-Proto`` never gets it past.

gunicorn believes ``X-Forwarded-Proto`` from 127.0.0.1 by default (``forwarded_allow_ips``)
and rewrites ``wsgi.url_scheme``; waitress believes no proxy unless told. Both are started
here in a subprocess, as a user would run them, and asked over a real socket.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import request, serving

pytest.importorskip("gunicorn")
pytest.importorskip("waitress")

APP = """
from restauth import AuthMiddleware, MemoryUserStore, PasswordHasher

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["REMOTE_USER"].encode()]

users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
users.add("alice", "correct horse battery")
application = AuthMiddleware(app, users=users, trusted_proxies=TRUSTED)
"""
AUTH = "Basic " + base64.b64encode(b"alice:correct horse battery").decode()


def serve(tmp_path: Path, server: str, trusted: list[str]) -> Iterator[int]:
    """Serve the app on a free port; ``trusted`` goes to restauth and, for waitress, which
    drops proxy headers it was not told to trust, to waitress too (the README's recipe)."""
    (tmp_path / "https_app.py").write_text(APP.replace("TRUSTED", repr(trusted)))
    options = []
    if server == "waitress" and trusted:
        options = [f"--trusted-proxy={trusted[0]}", "--trusted-proxy-headers=x-forwarded-proto"]
    key = {"RESTAUTH_SECRET_KEY": "k" * 32}
    with serving(server, "https_app:application", tmp_path, key, options=options) as running:
        yield running.port


def status(port: int, headers: dict[str, str]) -> int:
    return request(port, "GET", "/", headers).status


@pytest.fixture(params=["gunicorn", "waitress"])
def untrusted(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[int]:
    yield from serve(tmp_path, request.param, trusted=[])


@pytest.fixture(params=["gunicorn", "waitress"])
def behind_proxy(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, int]]:
    for port in serve(tmp_path, request.param, trusted=["127.0.0.1"]):
        yield request.param, port


@pytest.mark.parametrize(
    "claim",
    [
        {"X-Forwarded-Proto": "https"},
        {"X-Forwarded-Ssl": "on"},
        {"X-Forwarded-Protocol": "ssl"},
        {"Forwarded": "proto=https"},
    ],
)
def test_a_client_cannot_claim_https(untrusted: int, claim: dict[str, str]) -> None:
    assert status(untrusted, {"Authorization": AUTH}) == 403
    assert status(untrusted, {"Authorization": AUTH, **claim}) == 403


def test_a_trusted_proxy_is_believed_by_its_own_value(behind_proxy: tuple[str, int]) -> None:
    server, port = behind_proxy
    assert status(port, {"Authorization": AUTH, "X-Forwarded-Proto": "https"}) == 200
    assert status(port, {"Authorization": AUTH}) == 403
    # The client wrote "https"; the proxy appended "http", what it really saw. (waitress
    # refuses a list with 400 itself; gunicorn passes it on and restauth reads the last.)
    spoofed = status(port, {"Authorization": AUTH, "X-Forwarded-Proto": "https, http"})
    assert spoofed == (403 if server == "gunicorn" else 400)
    if server == "gunicorn":
        assert status(port, {"Authorization": AUTH, "X-Forwarded-Proto": "http, https"}) == 200
