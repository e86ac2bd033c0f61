"""The results as markdown (one table per part) and a bar chart of overheads."""

from __future__ import annotations

import os
import statistics
from collections.abc import Mapping, Sequence

import asgi_server
import server
from asgi_server import UvicornResult
from harness import Row
from scale import ScaleRow
from server import ServerResult

TARGETS = {  # µs over the bare app (issue 6; SQLite: issue 16 item 8)
    "restauth Token": 5.0,
    "restauth Bearer": 5.0,
    "restauth token-as-password": 5.0,
    "restauth Basic (cached)": 8.0,
    "restauth 401": 10.0,
    "restauth Token (SQLite tokens)": 20.0,
}

# A row's time ÷ another row's, in the same rounds (issue 16 item 8): (the other row, at most).
RATIO_TARGETS = {"restauth Token (Redis tokens)": ("redis-py PING", 1.5)}


# The peers' overheads as issue 6 measured them on this kind of machine (µs over bare).
REFERENCE = {
    "wsgi-basic-auth Basic (plaintext compare)": 1.7,
    "Flask-HTTPAuth token": 10.5,
    "Flask-HTTPAuth Basic (plaintext compare)": 13.4,
    "repoze.who Basic (dict authenticator)": 25.0,
    "repoze.who auth_tkt cookie": 48.0,
    "DRF TokenAuthentication": 241.0,
}


def machine_factor(rows: Sequence[Row]) -> str:
    """How much slower this run's machine was than the issue's reference, judged by the peers."""
    ratios = sorted(
        row.overhead_wall / REFERENCE[row.name]
        for row in rows
        if row.name in REFERENCE and row.overhead_wall > 0
    )
    if not ratios:
        return ""
    factor = statistics.median(ratios)
    scaled = ", ".join(
        f"{row.name.removeprefix('restauth ')} {row.overhead_wall / factor:.1f} µs"
        f" (target {TARGETS[row.name]:g})"
        for row in rows
        if row.name in TARGETS
    )
    return (
        f"The peers' overheads in this run were {factor:.1f}× the figures issue 6 measured "
        f"on this kind of machine (median of {len(ratios)} peers, range "
        f"{ratios[0]:.1f}–{ratios[-1]:.1f}×): the machine was that much slower, shared with "
        f"other work. Divided by that factor — an estimate, not a measurement — restauth's "
        f"overheads would be: {scaled}."
    )


def _us(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def timing_table(rows: Sequence[Row], ratios: Mapping[str, float] | None = None) -> str:
    """``ratios``: for each row of :data:`RATIO_TARGETS`, its paired ratio to the other row."""
    by_name = {row.name: row for row in rows}
    ratios = ratios or {}
    lines = [
        "| scenario | median µs/request | × its bare app | overhead µs (wall) "
        "| overhead µs (CPU) | target (µs) | peer overhead ÷ restauth's | rounds |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for row in rows:
        target = TARGETS.get(row.name)
        verdict = ""
        if target is not None:
            verdict = f"≤ {target:g}: " + ("met" if row.overhead_wall <= target else "**missed**")
        if row.name in ratios:
            other, most = RATIO_TARGETS[row.name]
            ratio = ratios[row.name]
            verdict = (
                f"≤ {most:g}× {other}: {'met' if ratio <= most else '**missed**'} ({ratio:.2f}×)"
            )
        versus = ""
        mine = by_name.get(row.equivalent)
        if mine is not None and mine.overhead_wall > 0:
            versus = f"{row.overhead_wall / mine.overhead_wall:,.1f}× ({row.equivalent})"
        name = row.name if row.name != row.baseline else f"*{row.name}* (baseline)"
        if row.note:
            name += f" — {row.note}"
        lines.append(
            f"| {name} | {_us(row.median_wall)} "
            f"| {row.median_wall / by_name[row.baseline].median_wall:,.2f} "
            f"| {_us(row.overhead_wall)} "
            f"| {_us(row.overhead_cpu)} | {verdict} | {versus} | {row.rounds} |"
        )
    return "\n".join(lines)


SERVER_NAMES = {
    "bare": "bare WSGI app",
    "memory": "restauth `Token`, memory tokens",
    "sqlite": "restauth `Token`, SQLite tokens (a file, WAL)",
    "redis": "restauth `Token`, Redis tokens (loopback)",
}


def server_table(result: ServerResult) -> str:
    lines = [
        f"| app under gunicorn (sync, {server.WORKERS} workers) | requests/s, median "
        "| ÷ bare (median of rounds) | target | each run |",
        "| --- | ---: | ---: | --- | --- |",
    ]
    for app, runs in result.rps.items():
        ordered = sorted(runs)
        ratio = verdict = ""
        if app != "bare":
            value, target = result.ratio(app), server.TARGETS[app]
            ratio = f"**{value:.3f}**"
            verdict = f"≥ {target:g}: " + ("met" if value >= target else "**missed**")
        lines.append(
            f"| {SERVER_NAMES[app]} | {ordered[len(ordered) // 2]:,.0f} | {ratio} | {verdict} "
            f"| {', '.join(f'{r:,.0f}' for r in ordered)} |"
        )
    rounds = len(result.rps["bare"])
    lines += [
        "",
        f"Each ratio is the median over the {rounds} rounds of the app's requests/s ÷ the bare "
        f"app's in the same round; wrk -t1 -c{result.connections}, {result.seconds} s per run, "
        "the apps in a fresh order each round; users in memory, one token presented.",
    ]
    return "\n".join(lines)


def scale_table(rows: Sequence[ScaleRow]) -> str:
    lines = [
        "| live tokens | manager check µs | vs 10³ | whole Token request µs | vs 10³ "
        "| bytes/token (tracemalloc) | issues/s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    first = rows[0]
    for row in rows:
        lines.append(
            f"| {row.tokens:,} | {row.check_us:.2f} | {row.check_us / first.check_us:.2f}× "
            f"| {row.request_us:.2f} | {row.request_us / first.request_us:.2f}× "
            f"| {row.bytes_per_token:.0f} | {row.issues_per_second:,.0f} |"
        )
    last = rows[-1]
    check_ratio = last.check_us / first.check_us
    request_ratio = last.request_us / first.request_us
    most = max(r.bytes_per_token for r in rows)
    lines.append("")
    lines.append(
        f"Targets: a check at {last.tokens:,} tokens within 1.3× of {first.tokens:,}: manager "
        f"{check_ratio:.2f}× ({'met' if check_ratio <= 1.3 else '**missed**'}), whole request "
        f"{request_ratio:.2f}× ({'met' if request_ratio <= 1.3 else '**missed**'}); "
        f"≤ 400 B per token: {'met' if most <= 400 else '**missed**'} (at most {most:.0f} B)."
    )
    return "\n".join(lines)


def chart(rows: Sequence[Row], path: str) -> str | None:
    """Overheads as horizontal bars (log scale: bcrypt is 10^5 µs); None without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    # No bar for a negative overhead (restauth's 401 over Flask never runs Flask).
    shown = [r for r in rows if r.name != r.baseline and r.overhead_wall > 0]
    names = [r.name for r in shown]
    values = [max(r.overhead_wall, 0.01) for r in shown]
    colors = ["#2b6cb0" if r.name.startswith("restauth") else "#a0aec0" for r in shown]
    figure, axes = plt.subplots(figsize=(10, 0.38 * len(shown) + 1.6))
    bars = axes.barh(range(len(shown)), values, color=colors)
    axes.set_yticks(range(len(shown)), names, fontsize=8)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel("overhead over the framework's bare app, µs per request (median, log scale)")
    axes.set_title("restauth (blue) and its peers, in one process and one run")
    for bar, value in zip(bars, values, strict=True):
        axes.text(value * 1.08, bar.get_y() + bar.get_height() / 2, _us(value), va="center",
                  fontsize=7)  # fmt: skip
    figure.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def asgi_ratio_table(
    rows: Sequence[Row],
    pairs: Mapping[str, tuple[str, bool]],
    most: float,
    floors: tuple[str, str] | None = None,
) -> str:
    """Each restauth.asgi row's overhead over the bare ASGI app beside the WSGI adapter's
    same scenario over the bare WSGI app, in the same run: ``pairs`` maps an ASGI row to
    (its WSGI row, whether the ``most`` ratio is its target). ``floors``: (the ASGI floor
    row, the WSGI one), the least middleware of each protocol; each overhead less its
    protocol's floor is restauth's own work in that adapter, and their ratio a column."""
    by_name = {row.name: row for row in rows}
    floor_rows = None
    if floors is not None and floors[0] in by_name and floors[1] in by_name:
        floor_rows = by_name[floors[0]], by_name[floors[1]]
    lines = [
        "| scenario | decided | ASGI overhead µs (wall) | WSGI overhead µs (wall) "
        "| ASGI ÷ WSGI (wall) | ASGI ÷ WSGI (CPU) | target "
        "| over each floor: ASGI µs, WSGI µs, ASGI ÷ WSGI |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for name, (other, held) in pairs.items():
        mine, theirs = by_name.get(name), by_name.get(other)
        if mine is None or theirs is None:
            continue
        wall = mine.overhead_wall / theirs.overhead_wall if theirs.overhead_wall > 0 else 0.0
        cpu = mine.overhead_cpu / theirs.overhead_cpu if theirs.overhead_cpu > 0 else 0.0
        verdict = ""
        if held:
            verdict = f"≤ {most:g}×: " + ("met" if wall <= most else "**missed**")
        own = ""
        if floor_rows is not None:
            asgi_own = mine.overhead_wall - floor_rows[0].overhead_wall
            wsgi_own = theirs.overhead_wall - floor_rows[1].overhead_wall
            ratio = f"**{asgi_own / wsgi_own:.2f}×**" if wsgi_own > 0 else "–"
            own = f"{_us(asgi_own)}, {_us(wsgi_own)}, {ratio}"
        decided = mine.note.split(";")[0] or "inline"
        label = name.removeprefix("restauth.asgi ")
        lines.append(
            f"| {label} | {decided} | {_us(mine.overhead_wall)} | {_us(theirs.overhead_wall)} "
            f"| **{wall:.2f}×** | {cpu:.2f}× | {verdict} | {own} |"
        )
    floor_note = ""
    if floor_rows is not None:
        asgi_floor, wsgi_floor = floor_rows
        floor_wall = _ratio(asgi_floor.overhead_wall, wsgi_floor.overhead_wall)
        floor_cpu = _ratio(asgi_floor.overhead_cpu, wsgi_floor.overhead_cpu)
        lines.append(
            f"| *the floors: a minimal middleware* | – | {_us(asgi_floor.overhead_wall)} "
            f"| {_us(wsgi_floor.overhead_wall)} | {floor_wall} | {floor_cpu} |  |  |"
        )
        floor_note = (
            " The last column is restauth's own work in each adapter, its overhead less its "
            "protocol's floor (the last row: the least any middleware of that protocol does "
            "per request — ASGI: dispatch on the scope's type, copy the scope adding one key, "
            "wrap send to copy the response start adding one header; WSGI: one environ key, "
            "start_response wrapped to add one header), and the ratio of the two."
        )
    lines += [
        "",
        "Overheads over each adapter's own bare app (the bare ASGI app, the bare WSGI app), "
        "measured in the same interleaved rounds. The CPU column is the event loop's thread "
        "only: for rows decided in a worker thread it leaves out the decision itself, so "
        "only the wall clock compares there." + floor_note,
    ]
    return "\n".join(lines)


def _ratio(mine: float, theirs: float) -> str:
    return f"{mine / theirs:.2f}×" if theirs > 0 else "–"


def uvicorn_table(result: UvicornResult) -> str:
    lines = [
        "| app under uvicorn | workers | requests/s, median | ÷ bare, same workers "
        "(median of rounds) | gunicorn's target, for reference | each run |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for app, runs in result.rps.items():
        ordered = sorted(runs)
        workers = asgi_server.APPS[app][1]
        ratio = verdict = ""
        if app in asgi_server.TARGETS:
            value, target = result.ratio(app), asgi_server.TARGETS[app]
            ratio = f"**{value:.3f}**"
            verdict = f"≥ {target:g}: " + ("met" if value >= target else "**missed**")
        elif asgi_server.APPS[app][2] != app:
            ratio = f"{result.ratio(app):.3f}"
        lines.append(
            f"| {asgi_server.NAMES[app]} | {workers} | {ordered[len(ordered) // 2]:,.0f} "
            f"| {ratio} | {verdict} | {', '.join(f'{r:,.0f}' for r in ordered)} |"
        )
    rounds = len(result.rps["bare-1"])
    lines += [
        "",
        f"uvicorn with {result.stack} (what it found installed), `--no-access-log`. Each "
        f"ratio is the median over the {rounds} rounds of the app's requests/s ÷ the bare "
        f"app's with as many workers in the same round; wrk -t1 -c{result.connections}, "
        f"{result.seconds} s per run, the servers in a fresh order each round; users "
        "in memory, one token presented. Memory tokens live in one process, so that row "
        "has one worker; SQLite and Redis tokens are shared by two.",
    ]
    return "\n".join(lines)
