"""Throttle stores: check-and-count is one atomic step, and every store judges alike.

Each test runs against the memory, SQLite and Redis stores. The concurrent tests fire
many wrong passwords at once (threads released together by a barrier) and count the
bcrypt checks they caused: with threshold N, at most N, whatever the concurrency
(before the fix, all 50 reached bcrypt). The contract tests pin the schedule,
so the Redis script and the Python rule cannot drift apart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from webob import Request

from restauth import AuthMiddleware, MemoryTokenManager, MemoryUserStore
from restauth.throttle.policy import (
    Counter,
    MemoryThrottleStore,
    Rule,
    Throttle,
    ThrottlePolicy,
    ThrottleStore,
)
from restauth.throttle.sqlite import SQLiteThrottleStore
from tests.conftest import ALICE_PASSWORD, FakeClock, basic, echo_app
from tests.services import redis_url

GUESSES = 50
POLICY = ThrottlePolicy()  # user threshold 5, address threshold 20
USER = Rule("u:alice", POLICY.user_threshold, POLICY.user_max_delay)
ADDRESS = Rule("a:192.0.2.1", POLICY.address_threshold, POLICY.address_max_delay)
T0 = 1_800_000_000.0


@pytest.fixture(params=["memory", "sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """Stores of one kind over the same counters (memory: the same object again)."""
    made: list[Any] = []
    if request.param == "memory":
        memory = MemoryThrottleStore()
        yield lambda: memory
        return
    if request.param == "sqlite":

        def make() -> Any:
            made.append(SQLiteThrottleStore(tmp_path / "restauth.db"))
            return made[-1]

    else:
        from restauth.throttle.redis import RedisThrottleStore

        url, prefix = redis_url(), request.getfixturevalue("redis_prefix")

        def make() -> Any:
            return RedisThrottleStore(url, prefix=prefix)

    yield make
    for store in made:
        store.database.close()


@pytest.fixture
def store(make_store: Callable[[], ThrottleStore]) -> ThrottleStore:
    return make_store()


def attempt(app: Any, userid: str, password: str, address: str = "192.0.2.1") -> int:
    request = Request.blank(
        "/",
        headers={"Authorization": basic(userid, password)},
        environ={"wsgi.url_scheme": "https", "REMOTE_ADDR": address},
    )
    return int(request.get_response(app).status_int)


def all_at_once(calls: list[Callable[[], int]]) -> list[int]:
    """Run every call on its own thread, released together."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], int]) -> int:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls, timeout=120))


def middleware(users: MemoryUserStore, store: ThrottleStore, clock: FakeClock) -> AuthMiddleware:
    throttle = Throttle(POLICY, store=store, clock=clock)
    return AuthMiddleware(echo_app, users=users, tokens=MemoryTokenManager(), throttle=throttle)


# -- item 3: concurrent guesses ---------------------------------------------------------------


def test_concurrent_guesses_for_one_userid_reach_bcrypt_at_most_threshold_times(
    users: MemoryUserStore,
    make_store: Callable[[], ThrottleStore],
    clock: FakeClock,
    bcrypt_calls: list[bytes],
) -> None:
    apps = [middleware(users, make_store(), clock) for _ in range(2)]  # two nodes, one store
    statuses = all_at_once(
        [lambda i=i: attempt(apps[i % 2], "alice", f"guess{i}") for i in range(GUESSES)]
    )
    assert len(bcrypt_calls) == statuses.count(401) == POLICY.user_threshold
    assert statuses.count(429) == GUESSES - POLICY.user_threshold
    # ... and the right password is refused too until the delay has passed:
    assert attempt(apps[0], "alice", ALICE_PASSWORD) == 429
    clock.advance(1.01)
    assert attempt(apps[1], "alice", ALICE_PASSWORD) == 200


def test_concurrent_guesses_from_one_address_reach_bcrypt_at_most_threshold_times(
    users: MemoryUserStore, store: ThrottleStore, clock: FakeClock, bcrypt_calls: list[bytes]
) -> None:
    app = middleware(users, store, clock)
    statuses = all_at_once([lambda i=i: attempt(app, f"user{i}", "x") for i in range(GUESSES)])
    assert len(bcrypt_calls) == statuses.count(401) == POLICY.address_threshold
    assert statuses.count(429) == GUESSES - POLICY.address_threshold


def test_concurrent_right_passwords_never_count(
    users: MemoryUserStore, store: ThrottleStore, clock: FakeClock
) -> None:
    app = middleware(users, store, clock)
    for _ in range(4):  # one short of the threshold: each success must leave it so
        assert attempt(app, "alice", "typo") == 401
        assert attempt(app, "bob", "typo") == 401
    assert attempt(app, "alice", ALICE_PASSWORD) == 200  # resets alice's counter
    statuses = all_at_once([lambda: attempt(app, "alice", ALICE_PASSWORD) for _ in range(4)])
    assert statuses == [200] * 4  # in flight together: at most 4 counted at any time
    for _ in range(30):
        assert attempt(app, "alice", ALICE_PASSWORD, "192.0.2.9") == 200
    assert store.get_many(["u:alice", "a:192.0.2.9"]) == [None, None]
    assert attempt(app, "bob", "typo") == 401  # bob's 5th failure: still let in ...
    assert attempt(app, "bob", "typo") == 429  # ... and the 6th waits


# -- the same rules in every store --------------------------------------------------------------


def test_schedule_is_the_sequential_one(store: ThrottleStore) -> None:
    now, waits = T0, []
    for _ in range(13):
        verdict = store.admit([USER], now, POLICY)
        while verdict.wait > 0:  # refused: wait exactly as long as told, then try again
            waits.append(verdict.wait)
            now += verdict.wait
            verdict = store.admit([USER], now, POLICY)
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]
    assert store.get_many(["u:alice"]) == [Counter(13, now)]


def test_a_refused_attempt_writes_nothing(store: ThrottleStore) -> None:
    for _ in range(5):
        assert store.admit([USER, ADDRESS], T0, POLICY).wait == 0
    before = store.get_many([USER.key, ADDRESS.key])
    verdict = store.admit([USER, ADDRESS], T0 + 0.25, POLICY)
    assert verdict.wait == pytest.approx(0.75)
    assert verdict.previous == ()
    assert store.get_many([USER.key, ADDRESS.key]) == before == [Counter(5, T0)] * 2


def test_admission_reports_the_counters_before_it(store: ThrottleStore) -> None:
    assert store.admit([USER, ADDRESS], T0, POLICY).previous == (None, None)
    assert store.admit([USER, ADDRESS], T0 + 1, POLICY).previous == (Counter(1, T0),) * 2
    later = T0 + 1 + POLICY.window + 1  # a quiet window: forgotten, counting starts again
    assert store.admit([USER, ADDRESS], later, POLICY).previous == (None, None)
    assert store.get_many([USER.key]) == [Counter(1, later)]


def test_release_puts_the_counter_back_as_it_was(store: ThrottleStore) -> None:
    store.admit([ADDRESS], T0, POLICY)
    store.admit([ADDRESS], T0 + 1, POLICY)
    previous = store.admit([USER, ADDRESS], T0 + 2, POLICY).previous
    store.release([(ADDRESS.key, previous[1])], T0 + 2, reset=USER.key)
    assert store.get_many([USER.key, ADDRESS.key]) == [None, Counter(2, T0 + 1)]
    # Another attempt counted in between keeps its own time:
    mine = store.admit([ADDRESS], T0 + 3, POLICY).previous
    store.admit([ADDRESS], T0 + 4, POLICY)
    store.release([(ADDRESS.key, mine[0])], T0 + 3)
    assert store.get_many([ADDRESS.key]) == [Counter(3, T0 + 4)]
    # The last attempt taken back: no counter at all.
    fresh = Rule("a:198.51.100.1", 20, 900)
    store.release([(fresh.key, store.admit([fresh], T0, POLICY).previous[0])], T0)
    assert store.get_many([fresh.key]) == [None]
