"""restauth's benchmark: ``python bench/run.py [--quick] [--scale] [--no-server]``.

Installs nothing: ``pip install -e '.[bench]'`` brings the peers, gunicorn and matplotlib;
``wrk`` comes from the system (``apt-get install -y wrk``). In one process and one run it
measures the bare app, restauth's scenarios and the peers' equivalents, interleaved round
by round (see harness.py), then gunicorn + wrk (the bare app against restauth with memory,
SQLite and Redis tokens; see server.py), and with ``--scale`` the memory token manager from
10^3 to 10^6 tokens. The ASGI adapter is measured the same way in the same rounds (its rows
over a bare ASGI app, driven on one event loop, beside Starlette's AuthenticationMiddleware
and fastapi-users when installed; see asgi_scenarios.py), then under uvicorn + wrk (see
asgi_server.py); ``--no-asgi`` leaves it out. Writes ``bench/results/latest.md`` and
``latest.png`` (``--name`` for another name) and prints the tables.
``python bench/instructions.py`` counts instructions per request under callgrind instead.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import asgi_scenarios  # noqa: E402
import asgi_server  # noqa: E402
import harness  # noqa: E402
import peers  # noqa: E402
import report  # noqa: E402
import restauth_scenarios  # noqa: E402
import scale  # noqa: E402
import server  # noqa: E402

from restauth import MemoryUserStore  # noqa: E402


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            names = [
                line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")
            ]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}, "
        f"Python {platform.python_version()}; load average at the start: {load}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="fewer rounds and shorter wrk runs: under 2 minutes"
    )
    parser.add_argument("--scale", action="store_true", help="also 10^3 -> 10^6 memory tokens")
    parser.add_argument("--no-server", action="store_true", help="skip gunicorn/uvicorn + wrk")
    parser.add_argument(
        "--no-asgi", action="store_true", help="skip restauth.asgi (in process and uvicorn)"
    )
    parser.add_argument("--name", default="latest", help="the results' file name, without .md/.png")
    parser.add_argument("--out", default=os.path.join(HERE, "results"), help="results folder")
    parser.add_argument(
        "--profile",
        metavar="ROW",
        help="cProfile one restauth row instead (e.g. 'Token', '401', 'restauth.asgi Token')",
    )
    args = parser.parse_args(argv)
    if args.profile:
        return profile(args.profile)
    started = time.monotonic()
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    host = machine()
    log(f"restauth benchmark, {when}: {host}")

    users = restauth_scenarios.users_with_alice(rounds=12)
    rounds, slow_rounds, batch = (15, 1, 0.01) if args.quick else (61, 3, 0.03)
    with contextlib.ExitStack() as stack:
        scenarios = restauth_scenarios.scenarios(users, log)
        for name, build in peers.PEERS.items():
            try:
                built = build()
            except ImportError as error:
                log(f"skipped {name}: not installed ({error.name}); pip install -e '.[bench]'")
                continue
            scenarios += built
            if name == "Flask-HTTPAuth":
                flask = peers.bare_flask()
                scenarios += restauth_scenarios.over_flask(flask, users, peers.FLASK_BARE)
        if not args.no_asgi:
            scenarios += asgi_rows(stack, users)
        log(f"in-process: {len(scenarios)} scenarios, {rounds} interleaved rounds")
        samples = harness.run_rounds(
            scenarios, rounds=rounds, slow_rounds=slow_rounds, batch_seconds=batch,
            progress=lambda line: log(line) if line.endswith(("/1", "0", "5")) else None,
        )  # fmt: skip
    everything = harness.summarise(scenarios, samples)
    rows = [row for row in everything if row.baseline not in asgi_scenarios.BASELINES]
    asgi = [row for row in everything if row.baseline in asgi_scenarios.BASELINES]
    ratios = {
        name: harness.paired_ratio(samples, name, other)
        for name, (other, _) in report.RATIO_TARGETS.items()
        if name in samples and other in samples
    }

    sections = [
        "# restauth benchmark results",
        "",
        f"Run {when} with `python bench/run.py{' --quick' if args.quick else ''}"
        f"{' --scale' if args.scale else ''}{' --no-server' if args.no_server else ''}"
        f"{' --no-asgi' if args.no_asgi else ''}`"
        f" on {host}.",
        "",
        "## In process (one WSGI call per request, body consumed)",
        "",
        report.timing_table(rows, ratios),
        "",
        report.machine_factor(rows),
        "",
    ]
    if asgi:
        sections += [
            "## In process, ASGI (one `await app(scope, receive, send)` per request, "
            "one event loop)",
            "",
            report.asgi_ratio_table(
                asgi + rows,
                asgi_scenarios.PAIRS,
                asgi_scenarios.RATIO_TARGET,
                asgi_scenarios.FLOORS,
            ),
            "",
            report.timing_table(asgi),
            "",
        ]
    if not args.no_server:
        result = server.run(rounds=3 if args.quick else 10, seconds=2 if args.quick else 3, log=log)
        sections += ["## Under gunicorn with wrk", ""]
        sections += [report.server_table(result) if result else "Skipped (see the log)."]
        sections += [""]
        if not args.no_asgi:
            uvicorn = asgi_server.run(
                rounds=3 if args.quick else 10, seconds=2 if args.quick else 3, log=log
            )
            sections += ["## Under uvicorn with wrk", ""]
            sections += [report.uvicorn_table(uvicorn) if uvicorn else "Skipped (see the log)."]
            sections += [""]
    if args.scale:
        sizes = [10**3, 10**4, 10**5] if args.quick else [10**3, 10**4, 10**5, 10**6]
        scale_rows = scale.run(sizes, rounds=5 if args.quick else 15, log=log)
        sections += ["## Memory token manager at scale", "", report.scale_table(scale_rows), ""]
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    sections += [
        f"Load average at the end: {load}; whole run {time.monotonic() - started:.0f} s. "
        "Overheads are medians of per-round differences to the same framework's bare app; "
        "CPU is this thread's CPU time (steadier on a shared machine; it leaves out time "
        "spent waiting for Redis or SQLite).",
        "",
    ]
    text = "\n".join(sections)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"{args.name}.md"), "w", encoding="utf-8") as handle:
        handle.write(text)
    picture = report.chart(everything, os.path.join(args.out, f"{args.name}.png"))
    if picture is None:
        log("no chart: matplotlib is not installed (pip install -e '.[bench]')")
    print(text)
    return 0


def asgi_rows(
    stack: contextlib.ExitStack[bool | None], users: MemoryUserStore
) -> list[harness.Scenario]:
    """restauth.asgi's rows and the ASGI peers', on one event loop that ``stack`` closes."""
    loop = stack.enter_context(asgi_scenarios.EventLoop())
    try:
        rows = asgi_scenarios.scenarios(loop, users, log)
    except ImportError as error:  # restauth.asgi needs anyio: pip install -e '.[asgi]'
        log(f"skipped restauth.asgi: not installed ({error.name}); pip install -e '.[asgi]'")
        return []
    try:
        rows += asgi_scenarios.fastapi_rows(loop, users, log)
    except ImportError as error:
        log(f"skipped the FastAPI rows: not installed ({error.name})")
    return rows


def profile(row: str, calls: int = 20_000) -> int:
    """Where one restauth scenario spends its time: cProfile, by own time (an ASGI row:
    the event loop's thread only, not anyio's worker threads)."""
    import cProfile
    import pstats

    users = restauth_scenarios.users_with_alice(rounds=12)
    with contextlib.ExitStack() as stack:
        if row.startswith("restauth.asgi"):
            candidates = asgi_rows(stack, users)
        else:
            candidates = restauth_scenarios.scenarios(users, log)
        chosen = [s for s in candidates if s.name in (f"restauth {row}", row)]
        if not chosen or chosen[0].slow:
            log(f"no fast restauth row named 'restauth {row}' or '{row}'")
            return 2
        run = chosen[0].runner()
        run(100)  # warm
        profiler = cProfile.Profile()
        profiler.enable()
        run(calls)
        profiler.disable()
    stats = pstats.Stats(profiler)
    print(f"{chosen[0].name}: {stats.total_calls / calls:.0f} function calls per request")  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
