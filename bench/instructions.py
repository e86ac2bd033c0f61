"""Instructions per request under callgrind: ``python bench/instructions.py [--save PATH]``.

The wall clock of a shared machine moves a row 2x from run to run; the instructions a
request executes do not. Each row is run in a subprocess under ``valgrind --tool=callgrind``
twice, with 1 request and with 1 + ``--requests`` (2000) requests, after the same set-up;
instructions per request = the difference ÷ ``--requests`` (start-up, imports, set-up and
the first, warming request cancel out). At most 2 subprocesses at once.

Rows: the bare ASGI and WSGI apps, each protocol's floor (asgi_scenarios.Floor,
harness.Floor), and restauth with memory stores (asgi_scenarios.memory_cases,
restauth_scenarios.memory_cases): Token, Bearer, 401, Basic with a password the cache
remembers (users hashed at bcrypt cost 4, the cache warmed by a checked request; the run
fails if a counted request calls bcrypt) and Token with 9 request headers
(asgi_scenarios.EXTRA_HEADERS). An ASGI request is one ``app(scope.copy(), receive,
send)`` coroutine driven by a single ``.send(None)``, no event loop: a request that would
wait (a worker thread, an await on a store) fails the run, so every counted ASGI request
was decided inline. A WSGI request is harness.requester's call (environ copied, body
consumed, ``close()`` honoured). Each row's first and last requests are checked
(status; restauth's token headers on a 200). PYTHONHASHSEED=0 in every subprocess.

The counts are repeatable to about 1 % (time-dependent work such as renewals and
per-second headers remains), but they depend a little on the process's history:
another script's driver around the same requests (a loop at module level, other
imports) gave restauth's rows up to about 3k more a request, the bare apps 0.5k. Compare
rows counted by one run of this script, not across scripts.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import asgi_scenarios  # noqa: E402
import harness  # noqa: E402
import restauth_scenarios  # noqa: E402

ROUNDS = 4  # bcrypt cost of the users' hashes: only the cache-warming request checks one


class Row(NamedTuple):
    key: str  # the subprocess's argument
    label: str
    asgi: str  # asgi_scenarios' row (memory_cases)
    wsgi: str  # restauth_scenarios' row (memory_cases), or the bare app / floor
    extra: bool = False  # WSGI: asgi_scenarios.EXTRA_HEADERS sent too (ASGI: the case's)


ROWS = [
    Row("bare", "bare app", asgi_scenarios.BARE_ASGI, restauth_scenarios.BARE),
    Row("floor", "floor: minimal middleware", asgi_scenarios.FLOOR_ASGI,
        restauth_scenarios.FLOOR_WSGI),
    Row("token", "Token", asgi_scenarios.A_TOKEN, restauth_scenarios.TOKEN),
    Row("bearer", "Bearer", asgi_scenarios.A_BEARER, restauth_scenarios.BEARER),
    Row("401", "401 (no credentials)", asgi_scenarios.A_401, restauth_scenarios.UNAUTHORIZED),
    Row("basic", "Basic (cached)", asgi_scenarios.A_BASIC, restauth_scenarios.BASIC_CACHED),
    Row("headers", "Token, 9 request headers", asgi_scenarios.A_TOKEN_HEADERS,
        restauth_scenarios.TOKEN, extra=True),
]  # fmt: skip
BY_KEY = {row.key: row for row in ROWS}
PROTOCOLS = ("asgi", "wsgi")

Run = Callable[[int], None]


# --- in the subprocess: one row's requests ----------------------------------------------


class BcryptCounter:
    """Counts bcrypt.checkpw calls (restauth's hasher calls it through the module)."""

    def __init__(self) -> None:
        import bcrypt

        self.calls = 0
        checkpw = bcrypt.checkpw

        def counted(password: bytes, hashed_password: bytes) -> bool:
            self.calls += 1
            return checkpw(password, hashed_password)

        bcrypt.checkpw = counted


def _drive(coroutine: Any) -> Any:
    """Run ``coroutine`` to its end with one ``send(None)``; it must not wait."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise RuntimeError("a request waited (a worker thread or a store): not decided inline")


def asgi_requests(row: Row) -> tuple[Run, Callable[[], None]]:
    """``n`` requests of ``row`` through the ASGI app, and a check of one more."""
    users = restauth_scenarios.users_with_alice(rounds=ROUNDS)
    case = {case.name: case for case in asgi_scenarios.memory_cases(users)}[row.asgi]
    extra = case.extra  # the 9-header row's: asgi_scenarios.EXTRA_HEADERS
    with asgi_scenarios.EventLoop() as loop:  # the checked set-up request (may use a thread)
        asgi_scenarios.row(
            loop, case.name, case.app, asgi_scenarios.BARE_ASGI, case.expect,
            case.authorization, extra=extra, token_headers=case.token_headers,
        )  # fmt: skip
    app, scope = case.app, asgi_scenarios.request_scope(case.authorization, extra)
    receive, drop = asgi_scenarios._receive, asgi_scenarios._drop

    def run(n: int) -> None:
        for _ in range(n):
            _drive(app(scope.copy(), receive, drop))

    def check() -> None:
        status, headers = _drive(asgi_scenarios._once(app, scope))
        _expect(row, status, case.expect, case.token_headers and "auth-token" not in headers)

    return run, check


def wsgi_environ_headers(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI request headers as a WSGI server puts them in the environ."""
    return {
        "HTTP_" + name.decode("latin-1").upper().replace("-", "_"): value.decode("latin-1")
        for name, value in headers
    }


def wsgi_requests(row: Row) -> tuple[Run, Callable[[], None]]:
    """``n`` requests of ``row`` through the WSGI app, and a check of one more."""
    users = restauth_scenarios.users_with_alice(rounds=ROUNDS)
    extra = wsgi_environ_headers(asgi_scenarios.EXTRA_HEADERS) if row.extra else {}
    bare: dict[str, harness.WSGIApp] = {
        restauth_scenarios.BARE: harness.bare_app,
        restauth_scenarios.FLOOR_WSGI: harness.Floor(harness.bare_app),
    }
    if row.wsgi in bare:
        app, expect, token_headers = bare[row.wsgi], "200", False
        environ = harness.base_environ(**extra)
        call = harness.requester(app, environ)
    else:
        case = {case.name: case for case in restauth_scenarios.memory_cases(users)}[row.wsgi]
        app, expect, token_headers = case.app, case.expect, case.expect == "200"
        environ = restauth_scenarios.request_environ(case.authorization, **extra)
        call = restauth_scenarios.checked(app, environ, expect, case.name)
    if extra and len([key for key in environ if key.startswith("HTTP_")]) != 9:
        raise RuntimeError(f"{row.label}: not 9 request headers")

    def run(n: int) -> None:
        for _ in range(n):
            call()

    def check() -> None:
        status, headers = harness.status_of(app, environ)
        _expect(row, status.split()[0], expect, token_headers and "Auth-Token" not in headers)

    if not token_headers:
        check()  # the bare app and the floor: checked() has not checked them
    return run, check


def _expect(row: Row, status: object, expect: object, missing_token_headers: bool) -> None:
    if str(status) != str(expect):
        raise RuntimeError(f"{row.label}: expected {expect}, got {status}")
    if missing_token_headers:
        raise RuntimeError(f"{row.label}: restauth's token headers missing")


def child(protocol: str, key: str, n: int) -> int:
    """``n`` requests of one row, checked before and after (the process callgrind counts)."""
    row = BY_KEY[key]
    bcrypt = BcryptCounter()
    run, check = (asgi_requests if protocol == "asgi" else wsgi_requests)(row)
    warmed = bcrypt.calls
    if row.key == "basic" and not warmed:
        raise RuntimeError(f"{row.label}: the set-up request checked no password")
    run(n)
    check()
    if bcrypt.calls != warmed:
        raise RuntimeError(f"{row.label}: {bcrypt.calls - warmed} bcrypt checks counted")
    return 0


# --- in the parent: counting, the table ---------------------------------------------------


def collected(valgrind: str, protocol: str, key: str, n: int) -> int:
    """Instructions callgrind counts for the whole subprocess making ``n`` requests."""
    command = [
        valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, os.path.abspath(__file__), "--child", protocol, key, str(n),
    ]  # fmt: skip
    environ = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts in every run
    done = subprocess.run(command, capture_output=True, text=True, env=environ, check=False)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode or found is None:
        tail = "\n".join(done.stderr.splitlines()[-15:])
        raise RuntimeError(f"{protocol} {key} ({n} requests) failed:\n{tail}")
    return int(found.group(1))


def preflight() -> None:
    """Every row once in this process, without valgrind: a failing check fails fast (and
    the bytecode caches are written before any counted run)."""
    for row in ROWS:
        for requests in (asgi_requests, wsgi_requests):
            run, check = requests(row)
            run(2)
            check()


def measure(
    valgrind: str, requests: int, jobs: int, log: Callable[[str], None]
) -> dict[tuple[str, str], float]:
    """(protocol, row key) -> instructions per request."""
    runs = [(p, row.key, n) for row in ROWS for p in PROTOCOLS for n in (1, 1 + requests)]
    started = time.monotonic()

    def one(job: tuple[str, str, int]) -> int:
        count = collected(valgrind, *job)
        log(f"  {job[0]} {job[1]:8} {job[2]:5} requests: {count:>13,} instructions "
            f"({time.monotonic() - started:.0f} s)")  # fmt: skip
        return count

    with ThreadPoolExecutor(jobs) as pool:
        counts = dict(zip(runs, pool.map(one, runs), strict=True))
    return {
        (p, key): (counts[(p, key, 1 + requests)] - counts[(p, key, 1)]) / requests
        for p, key, n in runs
        if n == 1
    }


def _k(value: float) -> str:
    return f"{value / 1000:.1f}k"


def table(per_request: dict[tuple[str, str], float]) -> str:
    bare = {p: per_request[(p, "bare")] for p in PROTOCOLS}
    floor = {p: per_request[(p, "floor")] - bare[p] for p in PROTOCOLS}
    lines = [
        "| row | ASGI | WSGI | ASGI overhead | WSGI overhead | ASGI ÷ WSGI | ÷ less floors |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for row in ROWS:
        asgi, wsgi = per_request[("asgi", row.key)], per_request[("wsgi", row.key)]
        over = {"asgi": asgi - bare["asgi"], "wsgi": wsgi - bare["wsgi"]}
        ratio = over_floor = "–"
        if row.key != "bare":
            ratio = f"{over['asgi'] / over['wsgi']:.2f}×"
        if row.key not in ("bare", "floor"):
            over_floor = f"{(over['asgi'] - floor['asgi']) / (over['wsgi'] - floor['wsgi']):.2f}×"
        lines.append(
            f"| {row.label} | {_k(asgi)} | {_k(wsgi)} | {_k(over['asgi'])} | {_k(over['wsgi'])} "
            f"| {ratio} | {over_floor} |"
        )
    return "\n".join(lines)


def header(valgrind: str, requests: int) -> str:
    git = shutil.which("git")
    commit = "unknown"
    if git:
        described = subprocess.run(
            [git, "-C", HERE, "describe", "--always", "--dirty"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        commit = described.stdout.strip() or commit
    version = subprocess.run([valgrind, "--version"], capture_output=True, text=True, check=False)
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join([
        "# restauth: instructions per request (callgrind)",
        "",
        f"`python bench/instructions.py` at commit {commit}, {when}; "
        f"Python {platform.python_version()}, {version.stdout.strip()}, Linux "
        f"{platform.release()} {platform.machine()}.",
        "",
        "Instructions executed per request, counted by callgrind (deterministic, unlike the "
        "wall clock of a shared machine): each row is one process run twice, with 1 and "
        f"with {1 + requests} requests after the same set-up; the difference ÷ {requests}. "
        "The in-process harness's request: ASGI, one `app(scope.copy(), receive, send)` "
        "coroutine run by one `.send(None)` (no event loop; every request decided inline); "
        "WSGI, one call with the environ copied and the body consumed. PYTHONHASHSEED=0. "
        "Overhead: over the "
        "same protocol's bare app. ASGI ÷ WSGI: the overheads' ratio; less floors: each "
        "overhead less its protocol's minimal middleware's (the floor row) first. Memory "
        "users and tokens, throttle and password cache on (restauth's defaults); Basic: a "
        f"password the cache remembers (bcrypt cost {ROUNDS}, no bcrypt in the counted "
        "requests). Instructions are not time: a C call (HMAC, a dict) counts its own "
        "instructions, a cache miss costs none. Repeat runs agree to about 1 %; another "
        "script's driver around the same requests (a loop at module level, other imports) "
        "counted restauth's rows up to about 3k higher: compare rows of one run.",
        "",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", metavar="PATH", help="also write the table as markdown")
    parser.add_argument(
        "--requests", type=int, default=2000, help="requests counted per row (default 2000)"
    )
    parser.add_argument(
        "--jobs", type=int, choices=(1, 2), default=2, help="valgrind processes at once"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        protocol, key, n = args.child
        return child(protocol, key, int(n))
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("valgrind is not installed (apt-get install -y valgrind): nothing counted.")
        return 0

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    preflight()
    log(f"callgrind: {len(ROWS) * len(PROTOCOLS) * 2} runs, {args.jobs} at once")
    text = table(measure(valgrind, args.requests, args.jobs, log))
    print(text)
    if args.save:
        with open(args.save, "w", encoding="utf-8") as handle:
            handle.write(header(valgrind, args.requests) + "\n" + text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
