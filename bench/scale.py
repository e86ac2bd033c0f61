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
    return [grant.token for userid in chosen if (grant := manager.lookup(userid))]


def _median_per_call(calls: list[Callable[[], object]], rounds: int) -> float:
    rng = random.Random(11)
    per_call = []
    for _ in range(rounds):
        rng.shuffle(calls)
        start = time.perf_counter_ns()
        for call in calls:
            call()
        per_call.append((time.perf_counter_ns() - start) / len(calls))
    return statistics.median(per_call) / 1000


def _check_time(manager: MemoryTokenManager, tokens: list[str], rounds: int) -> float:
    return _median_per_call([lambda t=t: manager.authenticate(t) for t in tokens], rounds)


def _request_time(
    manager: MemoryTokenManager, users: MemoryUserStore, tokens: list[str], rounds: int
) -> float:
    app = AuthMiddleware(bare_app, users=users, tokens=manager, realm="bench")
    calls = [requester(app, base_environ(HTTP_AUTHORIZATION=f"Token {t}")) for t in tokens]
    return _median_per_call(calls, rounds)


def run(sizes: list[int], *, rounds: int, log: Callable[[str], None] = print) -> list[ScaleRow]:
    userids = [f"user-{index:07d}@example.org" for index in range(max(sizes))]
    rows = []
    for count in sizes:
        memory = _bytes_per_token(count, userids)
        rate, manager = _issue_rate(count, userids)
        users = _users(userids[:count])
        stamp = users.get(userids[0]).stamp  # type: ignore[union-attr]
        for userid in userids[:count]:  # the store's stamp, so the middleware accepts them
            manager.issue(userid, stamp)
        tokens = _sample(manager, userids[:count])
        check = _check_time(manager, tokens, rounds)
        request = _request_time(manager, users, tokens, rounds)
        rows.append(ScaleRow(count, check, request, memory, rate))
        log(f"scale {count:>9,} tokens: check {check:.2f} µs, request {request:.2f} µs, "
            f"{memory:.0f} B/token, {rate:,.0f} issues/s")  # fmt: skip
        del manager, users
        gc.collect()
    return rows
