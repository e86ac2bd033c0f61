"""Under a real server: gunicorn (sync, 2 workers) bare and behind restauth, driven by wrk.

One server per app, side by side on loopback ports: the bare app, and restauth with
memory, SQLite and Redis tokens (users in memory). Each round runs wrk against every app
in turn, in a fresh order, so all see the same machine; an app's figure is the median over
rounds of its requests/s ÷ the bare app's in the same round. Skipped with a message when
wrk or gunicorn is missing; the Redis app when no Redis answers.
"""

from __future__ import annotations

import os
import random
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
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
WORKERS = 2
STORES = ("memory", "sqlite", "redis")
TARGETS = {"memory": 0.95, "sqlite": 0.80, "redis": 0.75}  # issue 16 item 8: ratio to bare


@dataclass
class ServerResult:
    rps: dict[str, list[float]] = field(default_factory=dict)  # app -> one figure per round
    seconds: int = 0
    connections: int = 0

    def ratio(self, app: str) -> float:
        """Median over rounds of app ÷ bare in the same round (drift cancels out)."""
        pairs = zip(self.rps[app], self.rps["bare"], strict=True)
        return statistics.median(mine / bare for mine, bare in pairs)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _control_socket_flags() -> list[str]:
    """gunicorn 25+ opens a control socket at one fixed path: four servers would share it."""
    from gunicorn.config import KNOWN_SETTINGS

    names = {setting.name for setting in KNOWN_SETTINGS}
    return ["--no-control-socket"] if "control_socket_disable" in names else []


def _start(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "gunicorn", "--chdir", HERE, "-k", "sync", "-w", str(WORKERS),
        "--preload", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
        *_control_socket_flags(), f"server_app:{app}",
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


def _redis_answers() -> bool:
    try:
        import redis

        url = os.environ.get("RESTAUTH_REDIS_URL", "redis://127.0.0.1:6379/15")
        client = redis.Redis.from_url(url, socket_timeout=2)
        client.ping()
        client.close()
    except Exception:  # not installed, not running: the row is skipped
        return False
    return True


def _token(path: str, server: subprocess.Popen[bytes], deadline: float) -> str:
    """The token the app's master issued before forking its workers."""
    while not os.path.exists(path):
        if server.poll() is not None or time.monotonic() > deadline:
            error = server.stderr.read().decode() if server.stderr else ""
            raise RuntimeError(f"gunicorn exited or issued no token:\n{error}")
        time.sleep(0.1)
    with open(path) as handle:
        return handle.read().strip()


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
    stores = [s for s in STORES if s != "redis" or _redis_answers()]
    if "redis" not in stores:
        log("skipped the Redis server row: no Redis on RESTAUTH_REDIS_URL")
    workdir = tempfile.mkdtemp(prefix="restauth-bench-")
    env = {**os.environ, "PYTHONPATH": HERE, "RESTAUTH_BENCH_DIR": workdir}
    ports = {app: _free_port() for app in ["bare", *stores]}
    servers = {"bare": _start("bare", ports["bare"], env)}
    for store in stores:
        extra = {"RESTAUTH_BENCH_STORE": store}
        extra["RESTAUTH_BENCH_TOKEN_FILE"] = os.path.join(workdir, f"{store}.token")
        servers[store] = _start("token", ports[store], {**env, **extra})
    try:
        deadline = time.monotonic() + 60
        https = {"X-Forwarded-Proto": "https"}
        headers = {"bare": https}
        for store in stores:
            token = _token(os.path.join(workdir, f"{store}.token"), servers[store], deadline)
            headers[store] = {**https, "Authorization": f"Token {token}"}
        for app, port in ports.items():
            _wait_ready(port, headers[app], deadline)
        result = ServerResult({app: [] for app in ports}, seconds, connections)
        rng = random.Random(16)
        for index in range(rounds):
            order = list(ports)
            rng.shuffle(order)
            for app in order:
                result.rps[app].append(_wrk(ports[app], headers[app], seconds, connections))
            figures = ", ".join(f"{app} {result.rps[app][-1]:.0f}" for app in ports)
            log(f"server round {index + 1}/{rounds} (requests/s): {figures}")
        return result
    finally:
        for server in servers.values():
            server.send_signal(signal.SIGTERM)
        for server in servers.values():
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(workdir, ignore_errors=True)
