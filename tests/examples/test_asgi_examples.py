"""The FastAPI and Starlette examples under uvicorn, run as their docstrings say.

``uvicorn --workers 2`` in a subprocess from the repository root, with the command line
the example's docstring gives (only the port differs), the users and tokens in one SQLite
file both workers share; the passwords are the ones the example prints at its first start.
Over real sockets: restauth's 401 and its challenge, Basic then the token it answered with,
that token on the *other* worker (the first one stopped meanwhile), ``POST /tokens`` and
logout, the admin route (the FastAPI dependency, Starlette's ``requires``), the view's own
401 on a public path, websockets (greeted with the token; refused before ``accept``
without it), the application's own lifespan, and a clean exit on ``SIGTERM``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import (
    Server,
    basic,
    environment,
    free_port,
    only_worker,
    request,
    running,
    uvicorn_workers,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
FRAMEWORK = {"fastapi_app": "fastapi", "starlette_app": "starlette"}
REALM = 'realm="restauth example"'
STARTED = "Application startup complete."


def docstring_command(example: str, port: int) -> list[str]:
    """The example's own uvicorn command line, as its docstring writes it, on ``port``."""
    text = (ROOT / "examples" / f"{example}.py").read_text("utf-8")
    [line] = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("uvicorn ")]
    command = shlex.split(line)
    assert command[-1] == f"examples.{example}:app"
    assert command[1:3] == ["--workers", "2"]
    at = command.index("--port")
    assert command[at - 2 : at + 2] == ["--host", "127.0.0.1", "--port", "8000"]
    command[at + 1] = str(port)
    command[0] = str(BIN / "uvicorn")
    return command


@dataclass
class Example:
    """An example under uvicorn: its server, port and users' passwords."""

    name: str
    server: Server
    passwords: dict[str, str]

    @property
    def port(self) -> int:
        return self.server.port

    def workers(self) -> list[int]:
        return uvicorn_workers(self.server)


@contextlib.contextmanager
def serving(example: str, directory: Path) -> Iterator[Example]:
    """``example`` under uvicorn with two workers until the block ends, both started."""
    pytest.importorskip(FRAMEWORK[example])
    pytest.importorskip("uvicorn")
    port = free_port()
    env = environment(
        {
            "RESTAUTH_SECRET_KEY": "example-key-" + "k" * 32,
            "RESTAUTH_EXAMPLE_DB": str(directory / "example.db"),
        }
    )
    log = directory / "uvicorn.log"
    with running(docstring_command(example, port), cwd=ROOT, port=port, env=env, log=log) as server:
        wait_until(lambda: server.log_text().count(STARTED) == 2, server, "two workers' startup")
        pattern = r"example user (\w+) \(roles [^)]*\) password (\S+)"
        found = dict(re.findall(pattern, server.log_text()))
        assert set(found) == {"alice", "bob"}, server.log_text()
        started = Example(example, server, found)
        assert len(started.workers()) == 2, server.log_text()
        yield started


@pytest.fixture(scope="module", params=list(FRAMEWORK))
def example(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Example]:
    with serving(request.param, tmp_path_factory.mktemp(request.param)) as started:
        yield started


def only(worker: int, example: Example) -> contextlib.AbstractContextManager[None]:
    """Every connection taken by ``worker``, the other worker stopped meanwhile."""
    return only_worker(worker, example.workers())


def auth(token: str, scheme: str = "Token") -> dict[str, str]:
    return {"Authorization": f"{scheme} {token}"}


# -- HTTP ----------------------------------------------------------------------------


def test_health_answers_once_the_apps_own_startup_ran(example: Example) -> None:
    # 503 {"status": "starting"} until the application's lifespan startup has run.
    assert request(example.port, "GET", "/health").json() == {"status": "ok"}
    assert example.server.log_text().count("example app: started") == 2
    if example.name == "fastapi_app":  # its interactive documentation is public
        assert request(example.port, "GET", "/docs").status == 200
        assert "/me" in request(example.port, "GET", "/openapi.json").json()["paths"]


def test_anonymous_gets_restauths_challenge(example: Example) -> None:
    for path in ("/me", "/admin"):
        answer = request(example.port, "GET", path)
        assert answer.status == 401
        challenges = answer.headers.get_all("WWW-Authenticate")
        assert challenges == [f'Basic {REALM}, charset="UTF-8"', f"Bearer {REALM}"]
        assert answer.headers["Content-Type"] == "application/problem+json"
    wrong = request(example.port, "GET", "/me", {"Authorization": basic("bob", "wrong")})
    assert wrong.status == 401
    assert request(example.port, "GET", "/me", auth("not-a-token")).status == 401


def test_basic_login_then_the_token_on_the_other_worker(example: Example) -> None:
    first, second = example.workers()
    with only(first, example):
        login = request(
            example.port, "GET", "/me", {"Authorization": basic("bob", example.passwords["bob"])}
        )
    assert login.status == 200
    assert login.json() == {"userid": "bob", "roles": ["user"], "mechanism": "basic"}
    token = login.headers["Auth-Token"]
    assert login.headers["Auth-Token-Location"] == "/tokens/bob"
    assert login.headers["Auth-Token-Valid-Until"].endswith("Z")
    with only(second, example):
        for scheme in ("Token", "Bearer", "Token"):
            me = request(example.port, "GET", "/me", auth(token, scheme))
            assert me.status == 200
            assert me.json() == {"userid": "bob", "roles": ["user"], "mechanism": "token"}
            assert me.headers["Auth-Token"] == token
    for _ in range(6):  # both workers running: whichever takes it
        assert request(example.port, "GET", "/me", auth(token)).status == 200


def test_post_tokens_then_logout_on_the_other_worker(example: Example) -> None:
    first, second = example.workers()
    body = f'{{"username": "alice", "password": "{example.passwords["alice"]}"}}'.encode()
    with only(second, example):
        login = request(example.port, "POST", "/tokens", {"Content-Type": "application/json"}, body)
    assert login.status == 200
    assert login.json()["userid"] == "alice"
    token = login.json()["token"]
    assert login.headers["Auth-Token"] == token
    with only(first, example):
        admin = request(example.port, "GET", "/admin", auth(token))
        assert admin.status == 200
        assert admin.json() == {"message": "hello, administrator alice"}
        assert request(example.port, "DELETE", "/tokens/alice", auth(token)).status == 204
    with only(second, example):
        assert request(example.port, "GET", "/me", auth(token)).status == 401


def test_admin_route_is_for_admins(example: Example) -> None:
    bob = {"Authorization": basic("bob", example.passwords["bob"])}
    refused = request(example.port, "GET", "/admin", bob)
    assert refused.status == 403
    assert "detail" in refused.json()
    alice = {"Authorization": basic("alice", example.passwords["alice"])}
    admin = request(example.port, "GET", "/admin", alice)
    assert admin.status == 200
    assert admin.json() == {"message": "hello, administrator alice"}


def test_the_views_own_401_on_a_public_path(example: Example) -> None:
    """restauth lets anonymous requests through to /hello (public, every method): GET
    greets them, POST needs the caller and answers 401 itself (the FastAPI dependency,
    the Starlette helper)."""
    bob = {"Authorization": basic("bob", example.passwords["bob"])}
    assert request(example.port, "GET", "/hello").json() == {"message": "hello, stranger"}
    assert request(example.port, "GET", "/hello", bob).json() == {"message": "hello, bob"}
    anonymous = request(example.port, "POST", "/hello")
    assert anonymous.status == 401
    assert anonymous.json() == {"detail": "authentication required"}
    assert anonymous.headers.get_all("WWW-Authenticate") == [f'Basic {REALM}, charset="UTF-8"']
    waved = request(example.port, "POST", "/hello", bob)
    assert waved.status == 200
    assert waved.json() == {"message": "bob waves hello"}


# -- WebSocket -----------------------------------------------------------------------


def test_websocket_with_a_token_is_greeted(example: Example) -> None:
    pytest.importorskip("websockets")
    from websockets.sync.client import connect

    login = request(
        example.port, "GET", "/me", {"Authorization": basic("alice", example.passwords["alice"])}
    )
    token = login.headers["Auth-Token"]
    url = f"ws://127.0.0.1:{example.port}/ws"
    for _ in range(3):  # either worker
        with connect(url, additional_headers=auth(token), open_timeout=10) as websocket:
            assert websocket.recv(timeout=10) == "hello, alice"
            websocket.send("ping")
            assert websocket.recv(timeout=10) == "alice: ping"
    bob = {"Authorization": basic("bob", example.passwords["bob"])}
    with connect(url, additional_headers=bob, open_timeout=10) as websocket:
        assert websocket.recv(timeout=10) == "hello, bob"


BASIC = f'Basic {REALM}, charset="UTF-8"'


@pytest.mark.parametrize(
    ("path", "headers", "challenge"),
    [
        ("/ws", {}, BASIC),
        ("/ws", {"Authorization": basic("bob", "wrong")}, BASIC),
        ("/ws", {"Authorization": "Token not-a-token"}, f'Bearer {REALM}, error="invalid_token"'),
    ],
)
def test_websocket_refused_before_accept(
    example: Example, path: str, headers: dict[str, str], challenge: str
) -> None:
    """uvicorn offers ``websocket.http.response``: the refusal is restauth's own HTTP
    answer to the handshake, its challenge included; the application never accepts."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    accepted = example.server.log_text().count("[accepted]")
    url = f"ws://127.0.0.1:{example.port}{path}"
    with pytest.raises(InvalidStatus) as refused:
        connect(url, additional_headers=headers, open_timeout=10)
    response = refused.value.response
    assert response.status_code == 401
    assert response.headers.get_all("WWW-Authenticate")[0] == challenge
    assert b'"status": 401' in response.body
    assert example.server.log_text().count("[accepted]") == accepted


@pytest.mark.parametrize("path", ["/tokens/bob", "/roles/bob"])
def test_restauths_own_endpoints_take_no_websocket(example: Example, path: str) -> None:
    """restauth's endpoints speak HTTP only: a handshake there, even with credentials a
    GET would accept, is refused (403), and the endpoint does not run."""
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    bob = {"Authorization": basic("bob", example.passwords["bob"])}
    assert request(example.port, "GET", path, bob).status == 200
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://127.0.0.1:{example.port}{path}", additional_headers=bob, open_timeout=10)
    assert refused.value.response.status_code == 403


# -- Shutdown ------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FRAMEWORK))
def test_sigterm_ends_uvicorn_cleanly(name: str, tmp_path: Path) -> None:
    """SIGTERM to uvicorn's parent process, a websocket open and the SQLite stores in use
    on both workers: the application's shutdown runs on each, restauth closes its stores,
    and uvicorn exits 0 without a traceback."""
    pytest.importorskip("websockets")
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    with serving(name, tmp_path) as example:
        alice = {"Authorization": basic("alice", example.passwords["alice"])}
        token = ""
        for worker in example.workers():
            with only(worker, example):
                me = request(example.port, "GET", "/me", alice)
                assert me.status == 200
                token = me.headers["Auth-Token"]
        url = f"ws://127.0.0.1:{example.port}/ws"
        with connect(url, additional_headers=auth(token), open_timeout=10) as websocket:
            assert websocket.recv(timeout=10) == "hello, alice"
            process = example.server.process
            os.kill(process.pid, signal.SIGTERM)
            assert process.wait(timeout=30) == 0, example.server.log_text()
            with pytest.raises(ConnectionClosed) as closed:
                websocket.recv(timeout=10)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1012  # service restart: uvicorn going away
        log = example.server.log_text()
    assert "Traceback" not in log
    assert "ERROR" not in log
    assert "WARNING" not in log
    assert log.count("example app: stopped") == 2
    assert log.count("Application shutdown complete.") == 2
    assert "Stopping parent process" in log
