"""The memory token manager from 10^3 to 10^6 live tokens: check time, bytes per token, issue rate.

Check time is ``MemoryTokenManager.authenticate`` on tokens drawn at random from all
live ones (so big dicts pay their cache misses), median of batches; the request time
is a whole ``Token`` request through the middleware (user store of the same size)
with those tokens. Bytes per token
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

from harness import bare_app, base_environ, requester

from restauth import AuthMiddleware, MemoryTokenManager, MemoryUserStore, PasswordHasher

HASH = "$2b$04$" + "x" * 53  # never checked: only tokens are presented here


@dataclass
class ScaleRow:
    tokens: int
    check_us: float
    request_us: float
    bytes_per_token: float
    issues_per_second: float


STAMP = "0123456789abcdef"


def _filled(count: int, userids: list[str]) -> MemoryTokenManager:
    manager = MemoryTokenManager(secret_key="benchmark-secret-key-0123456789")
    for userid in userids[:count]:
        manager.issue(userid, STAMP)
    return manager


def _users(userids: list[str]) -> MemoryUserStore:
    users = MemoryUserStore(hasher=PasswordHasher(rounds=4))
    for userid in userids:
        users.add_hashed(userid, HASH)
    return users


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


def _sample(manager: MemoryTokenManager, userids: list[str]) -> list[str]:
    rng = random.Random(10)
    chosen = rng.sample(userids, min(2000, len(userids)))
    # each user's basic session: the one token a manager hands out again (no new session)
    return [manager.issue(userid, STAMP, kind="basic").token for userid in chosen]


def _per_call(calls: list[Callable[[], object]]) -> float:
    start = time.perf_counter_ns()
    for call in calls:
        call()
    return (time.perf_counter_ns() - start) / len(calls)


def _request_calls(
    manager: MemoryTokenManager, users: MemoryUserStore, tokens: list[str]
) -> list[Callable[[], None]]:
    app = AuthMiddleware(bare_app, users=users, tokens=manager, realm="bench")
    return [requester(app, base_environ(HTTP_AUTHORIZATION=f"Token {t}")) for t in tokens]


def run(sizes: list[int], *, rounds: int, log: Callable[[str], None] = print) -> list[ScaleRow]:
    """Fill one manager per size (all kept), then measure them interleaved, round by round."""
    userids = [f"user-{index:07d}@example.org" for index in range(max(sizes))]
    memory, rates, checks, requests = {}, {}, {}, {}
    for count in sizes:
        memory[count] = _bytes_per_token(count, userids)
        rates[count], manager = _issue_rate(count, userids)
        users = _users(userids[:count])
        stamp = users.get(userids[0]).stamp  # type: ignore[union-attr]
        for userid in userids[:count]:  # the store's stamp, so the middleware accepts them
            manager.issue(userid, stamp)
        tokens = _sample(manager, userids[:count])
        checks[count] = [lambda t=t, m=manager: m.authenticate(t) for t in tokens]
        requests[count] = _request_calls(manager, users, tokens)
        log(f"scale: {count:,} tokens issued, {memory[count]:.0f} B/token, "
            f"{rates[count]:,.0f} issues/s")  # fmt: skip
    rng = random.Random(11)
    check_times: dict[int, list[float]] = {count: [] for count in sizes}
    request_times: dict[int, list[float]] = {count: [] for count in sizes}
    for _ in range(rounds):
        order = list(sizes)
        rng.shuffle(order)
        for count in order:
            rng.shuffle(checks[count])
            rng.shuffle(requests[count])
            check_times[count].append(_per_call(checks[count]))
            request_times[count].append(_per_call(requests[count]))
    rows = []
    for count in sizes:
        check = statistics.median(check_times[count]) / 1000
        request = statistics.median(request_times[count]) / 1000
        rows.append(ScaleRow(count, check, request, memory[count], rates[count]))
        log(f"scale {count:>9,} tokens: check {check:.2f} µs, request {request:.2f} µs")
    return rows
