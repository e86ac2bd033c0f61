"""Start a real server in a subprocess, wait for its port, stop it; talk to it over HTTP.

One place for what the example, README and server tests all do: run a command as a user
would (``gunicorn -w 2 ...``, ``restauth serve ...``), wait until it accepts connections,
and fail with its output when it dies or never listens.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import basic
from tests.services import free_port

__all__ = ["Answer", "Server", "basic", "call", "environment", "free_port", "running"]


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def environment(extra: Mapping[str, str], *path: Path) -> dict[str, str]:
    """This process's environment, plus ``extra``, with ``path`` first on ``PYTHONPATH``."""
    python_path = [str(p) for p in path]
    if os.environ.get("PYTHONPATH"):
        python_path.append(os.environ["PYTHONPATH"])
    env = {**os.environ, **extra}
    if python_path:
        env["PYTHONPATH"] = os.pathsep.join(python_path)
    return env


@dataclass
class Server:
    """A started server: its port and the file its stdout and stderr go to."""

    port: int
    log: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    def output(self) -> str:
        return self.log.read_text("utf-8", errors="replace")


@contextmanager
def running(
    command: Sequence[str],
    *,
    port: int,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    log: Path | None = None,
    timeout: float = 30.0,
) -> Iterator[Server]:
    """Run ``command`` (which must listen on 127.0.0.1:``port``) until the block ends."""
    log = log or cwd / f"server-{port}.log"
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
        deadline = time.monotonic() + timeout
        while not listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{' '.join(command)} did not start:\n{server.output()}")
            time.sleep(0.1)
        yield server
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    port: int,
    method: str,
    path: str,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
) -> Answer:
    """One request over a fresh connection (what curl does), the whole answer read."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=dict(headers or {}))
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()
