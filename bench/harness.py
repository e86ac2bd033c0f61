"""Interleaved in-process timing: every scenario is measured in every round, beside its baseline.

A round runs one batch of each scenario, in a fresh random order; a scenario's overhead
is the median, over rounds, of (its time per request - its baseline's in the same round),
so drift of a shared machine (other processes, frequency changes) mostly cancels out.
Both the wall clock and this thread's CPU time are recorded: the CPU time is steadier
when other processes compete for the cores, the wall clock is what a client waits for
(and the only honest one for scenarios that wait on Redis or SQLite).
"""

from __future__ import annotations

import io
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

BODY = b"hello, benchmark!!!\n"  # 20 bytes, as in the measurements
assert len(BODY) == 20

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def bare_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The baseline: a WSGI app that returns 20 bytes."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "20")])
    return [BODY]


FLOOR_HEADER = ("X-Floor", "1")


class Floor:
    """The least any WSGI auth middleware does per request: add one key to the environ,
    wrap ``start_response`` to add one header to the application's (a new list, as
    restauth's merge makes). The WSGI side of asgi_scenarios.Floor."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ["floor.user"] = None

        def starting(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            return start_response(status, [*headers, FLOOR_HEADER], exc_info)

        return self.app(environ, starting)


def protected_bare_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """The bare app for peers that leave the 401 to the application (repoze.who)."""
    if not environ.get("REMOTE_USER"):
        start_response("401 Unauthorized", [("Content-Type", "text/plain")])
        return [b""]
    return bare_app(environ, start_response)


def base_environ(**extra: Any) -> dict[str, Any]:
    """A complete GET over HTTPS from loopback, as a server would pass it."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "443",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "localhost",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "https",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    environ.update(extra)
    return environ


def _ignore(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    return None


def requester(app: WSGIApp, environ: dict[str, Any]) -> Callable[[], None]:
    """One request per call: a fresh environ, the body consumed, ``close()`` honoured."""

    def call() -> None:
        result = app(environ.copy(), _ignore)
        try:
            for _chunk in result:
                pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    return call


def status_of(app: WSGIApp, environ: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The status line and headers one request gets (set-up check, not timed)."""
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = status, dict(headers)
        return lambda data: None

    result = app(environ.copy(), start_response)
    b"".join(result)
    getattr(result, "close", lambda: None)()
    return seen["status"], seen["headers"]


@dataclass
class Scenario:
    """One row: ``call`` makes one request; ``baseline`` names the bare app it is compared to."""

    name: str
    call: Callable[[], None]
    baseline: str
    slow: bool = False  # bcrypt on every request: a few calls only
    equivalent: str = ""  # for a peer: the restauth row doing the same job
    note: str = ""
    # ``n`` requests in one go (ASGI: one trip into the event loop per batch, not per
    # request); None: ``call`` in a loop.
    batch: Callable[[int], None] | None = None

    def runner(self) -> Callable[[int], None]:
        if self.batch is not None:
            return self.batch
        call = self.call

        def run(n: int) -> None:
            for _ in range(n):
                call()

        return run


@dataclass
class Samples:
    wall: list[float] = field(default_factory=list)  # ns per request, one per round
    cpu: list[float] = field(default_factory=list)


def _batch(run: Callable[[int], None], n: int) -> tuple[float, float]:
    wall0, cpu0 = time.perf_counter_ns(), time.thread_time_ns()
    run(n)
    return (time.perf_counter_ns() - wall0) / n, (time.thread_time_ns() - cpu0) / n


def calibrate(run: Callable[[int], None], batch_seconds: float) -> int:
    """Requests per batch so a batch lasts about ``batch_seconds``."""
    run(1)
    n = 1
    while True:
        wall, _ = _batch(run, n)
        if wall * n > 2e6 or n >= 100_000:  # 2 ms measured: enough
            return max(1, min(200_000, int(batch_seconds * 1e9 / wall)))
        n *= 4


def run_rounds(
    scenarios: list[Scenario],
    *,
    rounds: int,
    slow_rounds: int,
    batch_seconds: float,
    progress: Callable[[str], None] = lambda line: None,
) -> dict[str, Samples]:
    """Each round measures every fast scenario; the first ``slow_rounds`` also the slow ones."""
    runners = {s.name: s.runner() for s in scenarios}
    sizes = {s.name: 1 if s.slow else calibrate(runners[s.name], batch_seconds) for s in scenarios}
    samples = {s.name: Samples() for s in scenarios}
    rng = random.Random(6)
    for index in range(rounds):
        order = [s for s in scenarios if not s.slow or index < slow_rounds]
        rng.shuffle(order)
        for scenario in order:
            wall, cpu = _batch(runners[scenario.name], sizes[scenario.name])
            samples[scenario.name].wall.append(wall)
            samples[scenario.name].cpu.append(cpu)
        progress(f"round {index + 1}/{rounds}")
    return samples


@dataclass
class Row:
    name: str
    baseline: str
    median_wall: float  # µs per request
    overhead_wall: float  # µs over the baseline (median of paired differences)
    overhead_cpu: float
    rounds: int
    equivalent: str
    note: str


def summarise(scenarios: list[Scenario], samples: dict[str, Samples]) -> list[Row]:
    rows = []
    for scenario in scenarios:
        mine, base = samples[scenario.name], samples[scenario.baseline]
        count = len(mine.wall)
        if not count:
            continue
        if scenario.name == scenario.baseline:
            wall_diff = cpu_diff = [0.0]
        elif scenario.slow:  # measured in a few rounds only: against the baseline's median
            wall_diff = [w - statistics.median(base.wall) for w in mine.wall]
            cpu_diff = [c - statistics.median(base.cpu) for c in mine.cpu]
        else:
            wall_diff = [a - b for a, b in zip(mine.wall, base.wall, strict=True)]
            cpu_diff = [a - b for a, b in zip(mine.cpu, base.cpu, strict=True)]
        rows.append(
            Row(
                scenario.name,
                scenario.baseline,
                statistics.median(mine.wall) / 1000,
                statistics.median(wall_diff) / 1000,
                statistics.median(cpu_diff) / 1000,
                count,
                scenario.equivalent,
                scenario.note,
            )
        )
    return rows


def paired_ratio(samples: dict[str, Samples], name: str, other: str) -> float:
    """Median over rounds of ``name``'s wall time ÷ ``other``'s in the same round."""
    pairs = zip(samples[name].wall, samples[other].wall, strict=True)
    return statistics.median(mine / theirs for mine, theirs in pairs)
