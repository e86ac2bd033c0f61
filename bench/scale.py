"""The memory token manager from 10^3 to 10^6 live tokens: check time, bytes per token, issue rate.

Check time is ``MemoryTokenManager.authenticate`` on tokens drawn at random from all
live ones (so big dicts pay their cache misses), median of batches. Bytes per token
come from tracemalloc around the issuing of every token (userids are made beforehand
and the credential stamp is shared, as a user store shares it). The issue rate is
measured in a separate pass without tracemalloc, which slows allocation down.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

from restauth import MemoryTokenManager

STAMP = "0123456789abcdef"


@dataclass
class ScaleRow:
    tokens: int
    check_us: float
    bytes_per_token: float
    issues_per_second: float


def _filled(count: int, userids: list[str]) -> MemoryTokenManager:
    manager = MemoryTokenManager(secret_key="benchmark-secret-key-0123456789")
    for userid in userids[:count]:
        manager.issue(userid, STAMP)
    return manager


def _bytes_per_token(count: int, userids: list[str]) -> float:
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    manager = _filled(count, userids)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del manager
    return (after - before) / count


def _issue_rate(count: int, userids: list[str]) -> tuple[float, MemoryTokenManager]:
    gc.collect()
    start = time.perf_counter()
    manager = _filled(count, userids)
    return count / (time.perf_counter() - start), manager


def _check_time(manager: MemoryTokenManager, userids: list[str], rounds: int) -> float:
    rng = random.Random(10)
    sample = [
        g.token for u in rng.sample(userids, min(2000, len(userids))) if (g := manager.lookup(u))
    ]
    per_call = []
    for _ in range(rounds):
        rng.shuffle(sample)
        start = time.perf_counter_ns()
        for token in sample:
            manager.authenticate(token)
        per_call.append((time.perf_counter_ns() - start) / len(sample))
    return statistics.median(per_call) / 1000


def run(sizes: list[int], *, rounds: int, log: Callable[[str], None] = print) -> list[ScaleRow]:
    userids = [f"user-{index:07d}@example.org" for index in range(max(sizes))]
    rows = []
    for count in sizes:
        memory = _bytes_per_token(count, userids)
        rate, manager = _issue_rate(count, userids)
        check = _check_time(manager, userids[:count], rounds)
        rows.append(ScaleRow(count, check, memory, rate))
        log(f"scale {count:>9,} tokens: check {check:.2f} µs, {memory:.0f} B/token, "
            f"{rate:,.0f} issues/s")  # fmt: skip
        del manager
        gc.collect()
    return rows
