"""Under a real server: uvicorn, the bare ASGI app and restauth.asgi around it, driven by wrk.

server.py's method, for ASGI: one server per app, side by side on loopback ports; each
round runs wrk against every app in turn, in a fresh order; an app's figure is the median
over rounds of its requests/s ÷ its bare app's in the same round, the bare app run with
the same number of workers:

- ``uvicorn --workers 1``: the bare app, and restauth with memory tokens (they live in
  one process: uvicorn's workers do not share them); and the bare app answering with
  the headers restauth adds (the server's share of the cost: h11 checks each header);
- ``uvicorn --workers 2``: the bare app, restauth with SQLite tokens (a file shared by
  the workers; each decision runs in a worker thread), and restauth with Redis tokens
  (shared by the workers; each Token check awaited through ``redis.asyncio``, no thread).

Skipped with a message when wrk or uvicorn is missing; the Redis app when no Redis
answers. uvicorn runs with what it finds: httptools and uvloop when installed
(``uvicorn[standard]``), else h11 and asyncio.
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from server import _free_port, _redis_answers, _wait_ready, _wrk

HERE = os.path.dirname(os.path.abspath(__file__))

# app -> (the uvicorn app, workers, its bare app, restauth's token store or None)
APPS = {
    "bare-1": ("bare", 1, "bare-1", None),
    "memory": ("token", 1, "bare-1", "memory"),
    "headers": ("headers", 1, "bare-1", None),
    "bare-2": ("bare", 2, "bare-2", None),
    "sqlite": ("token", 2, "bare-2", "sqlite"),
    "redis": ("token", 2, "bare-2", "redis"),
}
NAMES = {
    "bare-1": "bare ASGI app",
    "memory": "restauth.asgi `Token`, memory tokens (inline)",
    "headers": "bare ASGI app sending the 8 headers of restauth's Token response",
    "bare-2": "bare ASGI app",
    "sqlite": "restauth.asgi `Token`, SQLite tokens (worker thread)",
    "redis": "restauth.asgi `Token`, Redis tokens (awaited, redis.asyncio)",
}
# gunicorn's targets (issue 16 item 8), for reference
TARGETS = {"memory": 0.95, "sqlite": 0.80, "redis": 0.75}


@dataclass
class UvicornResult:
    rps: dict[str, list[float]] = field(default_factory=dict)  # app -> one figure per round
    seconds: int = 0
    connections: int = 0
    stack: str = ""  # uvicorn's HTTP parser and event loop

    def ratio(self, app: str) -> float:
        """Median over rounds of app ÷ its bare app (same workers) in the same round."""
        bare = APPS[app][2]
        pairs = zip(self.rps[app], self.rps[bare], strict=True)
        return statistics.median(mine / theirs for mine, theirs in pairs)


def stack() -> str:
    """What ``uvicorn --http auto --loop auto`` picks here."""
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"{http} + {loop}"


def _start(app: str, workers: int, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", "--app-dir", HERE, "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--log-level", "warning",
        "--no-access-log", f"asgi_server_app:{app}",
    ]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _stored_tokens(env: dict[str, str], stores: Sequence[str]) -> tuple[dict[str, str], str]:
    """A token issued beforehand into each shared store the workers read (``sqlite``,
    ``redis``: the manager asgi_server_app builds from the same environment), and the
    user's password hash (the credential stamp derives from it)."""
    from asgi_server_app import tokens
    from restauth_scenarios import PASSWORD, USERID

    from restauth import MemoryUserStore, PasswordHasher

    users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    user = users.add(USERID, PASSWORD)
    issued = {}
    for store in stores:
        manager = tokens(store, env)
        try:
            issued[store] = manager.issue(USERID, user.stamp).token
        finally:
            getattr(manager, "close", lambda: None)()
    return issued, user.password_hash


def _memory_token(path: str, server: subprocess.Popen[bytes], deadline: float) -> str:
    while not os.path.exists(path):
        if server.poll() is not None or time.monotonic() > deadline:
            error = server.stderr.read().decode() if server.stderr else ""
            raise RuntimeError(f"uvicorn exited or issued no token:\n{error}")
        time.sleep(0.1)
    with open(path) as handle:
        return handle.read().strip()


def run(
    *, rounds: int, seconds: int, connections: int = 8, log: Callable[[str], None] = print
) -> UvicornResult | None:
    if shutil.which("wrk") is None:
        log("skipped the uvicorn benchmark: wrk is not installed (apt-get install -y wrk)")
        return None
    if importlib.util.find_spec("uvicorn") is None:
        log("skipped the uvicorn benchmark: uvicorn is not installed (pip install uvicorn)")
        return None
    if importlib.util.find_spec("anyio") is None:
        log("skipped the uvicorn benchmark: restauth.asgi needs anyio (pip install -e '.[asgi]')")
        return None
    apps = [app for app in APPS if app != "redis" or _redis_answers()]
    if "redis" not in apps:
        log("skipped the uvicorn Redis row: no Redis on RESTAUTH_REDIS_URL")
    workdir = tempfile.mkdtemp(prefix="restauth-bench-asgi-")
    env = {
        **os.environ, "PYTHONPATH": HERE, "RESTAUTH_BENCH_DIR": workdir,
        "RESTAUTH_BENCH_REDIS_PREFIX": f"restauth-bench-asgi-{os.getpid()}:",
    }  # fmt: skip
    ports = {app: _free_port() for app in apps}
    https = {"X-Forwarded-Proto": "https"}
    headers = {app: dict(https) for app in apps}
    servers: dict[str, subprocess.Popen[bytes]] = {}
    try:
        shared = [store for store in ("sqlite", "redis") if store in apps]
        issued, password_hash = _stored_tokens(env, shared)
        for app in apps:
            store = APPS[app][3]
            if store in issued:
                headers[app]["Authorization"] = f"Token {issued[store]}"
        token_file = os.path.join(workdir, "memory.token")
        for app in apps:
            target, workers, _, store = APPS[app]
            extra = {}
            if store == "memory":
                extra = {"RESTAUTH_BENCH_STORE": store, "RESTAUTH_BENCH_TOKEN_FILE": token_file}
            elif store is not None:
                extra = {"RESTAUTH_BENCH_STORE": store, "RESTAUTH_BENCH_HASH": password_hash}
            servers[app] = _start(target, workers, ports[app], {**env, **extra})
        deadline = time.monotonic() + 60
        memory_token = _memory_token(token_file, servers["memory"], deadline)
        headers["memory"]["Authorization"] = f"Token {memory_token}"
        for app, port in ports.items():
            _wait_ready(port, headers[app], deadline)
        result = UvicornResult({app: [] for app in apps}, seconds, connections, stack())
        rng = random.Random(20)
        for index in range(rounds):
            order = list(apps)
            rng.shuffle(order)
            for app in order:
                result.rps[app].append(_wrk(ports[app], headers[app], seconds, connections))
            figures = ", ".join(f"{app} {result.rps[app][-1]:.0f}" for app in apps)
            log(f"uvicorn round {index + 1}/{rounds} (requests/s): {figures}")
        return result
    finally:
        for process in servers.values():
            process.send_signal(signal.SIGTERM)
        for process in servers.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(workdir, ignore_errors=True)
