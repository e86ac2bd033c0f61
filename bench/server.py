"""Under a real server: gunicorn (sync, 1 worker) with and without restauth, driven by wrk.

The two servers run side by side on loopback ports and wrk alternates between them, so
both see the same machine. Skipped with a message when wrk or gunicorn is missing.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))


@dataclass
class ServerResult:
    bare_rps: list[float]
    token_rps: list[float]
    seconds: int
    connections: int

    @property
    def ratio(self) -> float:
        """Median over rounds of token ÷ bare in the same round (drift cancels out)."""
        pairs = zip(self.token_rps, self.bare_rps, strict=True)
        return statistics.median(token / bare for token, bare in pairs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "gunicorn", "--chdir", HERE, "-k", "sync", "-w", "1",
        "-b", f"127.0.0.1:{port}", "--log-level", "warning", f"server_app:{app}",
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_ready(port: int, headers: dict[str, str], deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers=headers)
            with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn on port {port} did not answer 200")


def _wrk(port: int, headers: dict[str, str], seconds: int, connections: int) -> float:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    command.append(f"http://127.0.0.1:{port}/")
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if match is None or "Non-2xx" in output:
        raise RuntimeError(f"wrk output not understood or non-2xx answers:\n{output}")
    return float(match.group(1))


def run(
    *, rounds: int, seconds: int, connections: int = 8, log: Callable[[str], None] = print
) -> ServerResult | None:
    if shutil.which("wrk") is None:
        log("skipped the server benchmark: wrk is not installed (apt-get install -y wrk)")
        return None
    try:
        import gunicorn  # noqa: F401
    except ImportError:
        log("skipped the server benchmark: gunicorn is not installed (pip install -e '.[bench]')")
        return None
    workdir = tempfile.mkdtemp(prefix="restauth-bench-")
    token_file = os.path.join(workdir, "token")
    env = {**os.environ, "PYTHONPATH": HERE}
    ports = {"bare": _free_port(), "token": _free_port()}
    servers = [
        _start("bare", ports["bare"], env),  # only the token server writes its token
        _start("token", ports["token"], {**env, "RESTAUTH_BENCH_TOKEN_FILE": token_file}),
    ]
    try:
        deadline = time.monotonic() + 30
        while not os.path.exists(token_file) and time.monotonic() < deadline:
            time.sleep(0.1)
        with open(token_file) as handle:
            token = handle.read().strip()
        https = {"X-Forwarded-Proto": "https"}
        headers = {"bare": https, "token": {**https, "Authorization": f"Token {token}"}}
        for app, port in ports.items():
            _wait_ready(port, headers[app], deadline)
        result = ServerResult([], [], seconds, connections)
        for index in range(rounds):
            order = ["bare", "token"] if index % 2 == 0 else ["token", "bare"]
            for app in order:
                rps = _wrk(ports[app], headers[app], seconds, connections)
                (result.bare_rps if app == "bare" else result.token_rps).append(rps)
            log(f"server round {index + 1}/{rounds}: bare {result.bare_rps[-1]:.0f} rps, "
                f"token {result.token_rps[-1]:.0f} rps")  # fmt: skip
        return result
    finally:
        for server in servers:
            server.send_signal(signal.SIGTERM)
        for server in servers:
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(workdir, ignore_errors=True)
