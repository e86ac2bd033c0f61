"""Real servers (gunicorn, waitress) in a subprocess, as a user would run them.

:func:`serving` starts one on a free port in its own process group, waits until it
accepts connections, and stops the whole group afterwards; the server's log goes to a
file the test can read. :func:`request` asks it over a real socket.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.services import free_port, port_open

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Server:
    """A running server: its process (gunicorn's master), port and log file."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def workers(self) -> list[int]:
        """The pids of the master's children (gunicorn's workers)."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children")
        return [int(child) for child in children.read_text().split()]


def command(server: str, app: str, port: int, workers: int = 2) -> list[str]:
    """How a user starts ``app`` (``module:callable``) under ``server`` on ``port``."""
    bind = f"127.0.0.1:{port}"
    if server == "gunicorn":
        return [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", bind, app]
    return [sys.executable, "-m", "waitress", "--listen", bind, app]


@contextlib.contextmanager
def serving(
    server: str,
    app: str,
    directory: Path,
    environment: Mapping[str, str] = {},
    workers: int = 2,
) -> Iterator[Server]:
    """Serve ``app`` from a module in ``directory``; stop every process of it afterwards."""
    port = free_port()
    path = os.pathsep.join(p for p in (str(directory), str(ROOT)) if p)
    env = {**os.environ, "PYTHONPATH": path, **environment}
    log = directory / f"{server}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command(server, app, port, workers),
            cwd=directory,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the workers go with it
        )
    running = Server(process, port, log)
    try:
        wait_until(lambda: port_open("127.0.0.1", port), running, f"{server} did not start")
        yield running
    finally:
        _stop(process)


def wait_until(condition: object, server: Server, message: str, seconds: float = 30) -> None:
    """Poll ``condition()`` until it is true; fail with the server's log if it exits first."""
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while not condition():
        assert server.process.poll() is None, f"{message}; server exited:\n{server.log_text()}"
        assert time.monotonic() < deadline, f"{message} in {seconds} s:\n{server.log_text()}"
        time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@dataclass
class Answer:
    """A response: its status, headers (names in lower case) and body."""

    status: int
    headers: dict[str, str]
    body: bytes


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | Iterator[bytes] | None = None,
    headers: Mapping[str, str] = {},
    *,
    chunked: bool = False,
) -> Answer:
    """One request on a new connection; ``chunked`` sends ``body`` with
    ``Transfer-Encoding: chunked`` and no ``Content-Length``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body, dict(headers), encode_chunked=chunked)
        response = connection.getresponse()
        headers_read = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, headers_read, response.read())
    finally:
        connection.close()
