"""Real servers in a subprocess, as a user would run them, and requests to them.

The one place the tests start a server (gunicorn, waitress, ``restauth serve``, the demo,
a README's ``python3 app.py``), wait for it, stop it and talk to it:

- :func:`running` runs a command in its own process group with its stdout and stderr in a
  log file, waits until it accepts connections on its port (or, started on port 0, until
  it prints the port it took), fails with that log when it exits or never listens, and
  stops the whole group (gunicorn's workers too) when the block ends.
- :func:`serving` is :func:`running` for ``module:callable`` under gunicorn or waitress
  (:func:`command`), from a module written in a directory.
- :func:`environment` is this process's environment with directories first on
  ``PYTHONPATH``; :func:`wait_until` polls a condition, failing with the server's log.
- :func:`running_demo` is :func:`running` for ``python -m restauth.demo``, read from
  the banner it prints.
- :func:`request` sends one request over a new connection (chunked when asked) and
  returns an :class:`Answer`: status, headers (read in any case), body, ``.json()``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import basic
from tests.services import free_port, port_open

__all__ = [
    "ROOT",
    "Answer",
    "Demo",
    "Server",
    "basic",
    "command",
    "environment",
    "free_port",
    "request",
    "running",
    "running_demo",
    "serving",
    "wait_until",
]

ROOT = Path(__file__).resolve().parents[2]
ANNOUNCED = r"http://127\.0\.0\.1:(\d+)/"  # how a server started on port 0 says its port


@dataclass
class Server:
    """A started server: its port, the file its stdout and stderr go to, its process
    (gunicorn's master)."""

    port: int
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def log_text(self) -> str:
        return self.log.read_text("utf-8", errors="replace") if self.log.exists() else ""

    def workers(self) -> list[int]:
        """The pids of the master's children (gunicorn's workers)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children")
        return [int(child) for child in children.read_text().split()]


def uvicorn_workers(server: Server) -> list[int]:
    """The pids of uvicorn's worker processes (spawned by multiprocessing)."""
    return [
        pid
        for pid in server.workers()
        if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    ]


@contextlib.contextmanager
def only_worker(worker: int, workers: list[int]) -> Iterator[None]:
    """Every connection taken by ``worker``: the other ``workers`` stopped (SIGSTOP)
    meanwhile. They share the listening socket, so a stopped one accepts nothing."""
    others = [pid for pid in workers if pid != worker]
    for pid in others:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in others:
            os.kill(pid, signal.SIGCONT)


def environment(extra: Mapping[str, str] = {}, *path: Path) -> dict[str, str]:
    """This process's environment, plus ``extra``, with ``path`` first on ``PYTHONPATH``,
    then this checkout's ``src``: a server started by a test runs the code of the checkout
    the test comes from, not whichever ``restauth`` the environment has installed."""
    python_path = [str(p) for p in (*path, ROOT / "src")]
    if os.environ.get("PYTHONPATH"):
        python_path.append(os.environ["PYTHONPATH"])
    env = {**os.environ, **extra}
    if python_path:
        env["PYTHONPATH"] = os.pathsep.join(python_path)
    return env


def wait_until(
    condition: Callable[[], object], server: Server, message: str, seconds: float = 30
) -> None:
    """Poll ``condition()`` until it is true; fail with the server's log if the server
    exits first or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while not condition():
        if server.process.poll() is not None:
            pytest.fail(f"{message}; the server exited:\n{server.log_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"{message} in {seconds} s:\n{server.log_text()}")
        time.sleep(0.05)


@contextlib.contextmanager
def running(
    command: Sequence[str],
    *,
    cwd: Path,
    port: int = 0,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    timeout: float = 30.0,
) -> Iterator[Server]:
    """Run ``command`` until the block ends; it must listen on 127.0.0.1:``port``, or,
    with ``port`` 0, print the address it took (``http://127.0.0.1:PORT/``)."""
    log = log or cwd / f"server-{port or 'announced'}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: workers are stopped with it
        )
    server = Server(port, log, process)
    try:
        started = f"{' '.join(command)} did not start"
        if not port:
            wait_until(lambda: re.search(ANNOUNCED, server.log_text()), server, started, timeout)
            server.port = int(re.findall(ANNOUNCED, server.log_text())[0])
        wait_until(lambda: port_open("127.0.0.1", server.port), server, started, timeout)
        yield server
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the whole group, then SIGKILL if it has not ended within 15 s."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def command(
    server: str, app: str, port: int, workers: int = 2, options: Sequence[str] = ()
) -> list[str]:
    """How a user starts ``app`` (``module:callable``) under ``server`` on ``port``;
    ``options`` go before the app."""
    bind = f"127.0.0.1:{port}"
    if server == "gunicorn":
        start = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", bind]
    else:
        start = [sys.executable, "-m", "waitress", "--listen", bind]
    return [*start, *options, app]


@contextlib.contextmanager
def serving(
    server: str,
    app: str,
    directory: Path,
    env: Mapping[str, str] = {},
    workers: int = 2,
    options: Sequence[str] = (),
) -> Iterator[Server]:
    """Serve ``app`` from a module in ``directory`` under gunicorn or waitress, on a free
    port, its log in ``directory/SERVER.log``."""
    port = free_port()
    with running(
        command(server, app, port, workers, options),
        cwd=directory,
        port=port,
        env=environment(env, directory, ROOT),
        log=directory / f"{server}.log",
    ) as started:
        yield started


@dataclass
class Demo:
    """The demo as it announced itself: address, the users' passwords, data directory."""

    url: str
    passwords: dict[str, str]
    data_dir: Path | None
    server: Server = field(repr=False)


@contextlib.contextmanager
def running_demo(directory: Path, *extra: str) -> Iterator[Demo]:
    """``python -m restauth.demo --port 0 EXTRA...`` run from ``directory`` (its log
    there), read from the banner it prints once it listens."""
    argv = [sys.executable, "-m", "restauth.demo", "--port", "0", *extra]
    with running(argv, cwd=directory) as server:
        wait_until(lambda: "\ntry: " in server.log_text(), server, "the demo's banner")
        text = server.log_text()
        users = re.search(r"^users: (.*)$", text, re.M)
        data = re.search(r"^data: (.+)/restauth-demo\.db ", text, re.M)
        assert users, text
        passwords = dict(re.findall(r"(\w+) \([^)]*\) password (\S+?)(?:;|$)", users[1]))
        assert set(passwords) == {"alice", "bob"}, text
        data_dir = Path(data[1]) if data else None
        yield Demo(f"http://127.0.0.1:{server.port}", passwords, data_dir, server)


@dataclass(frozen=True)
class Answer:
    """A response: its status, headers (``http.client.HTTPMessage``: names in any case,
    ``.get(name, default)``) and body."""

    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    method: str,
    path: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | Iterable[bytes] | None = None,
    *,
    chunked: bool = False,
    source: str | None = None,
) -> Answer:
    """One request over a new connection (what curl does), the whole answer read.
    ``chunked`` sends ``body`` with ``Transfer-Encoding: chunked`` and no
    ``Content-Length``; ``source`` is the local address to send from (``127.0.0.2``)."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=30, source_address=(source, 0) if source else None
    )
    try:
        connection.request(method, path, body, dict(headers or {}), encode_chunked=chunked)
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()
