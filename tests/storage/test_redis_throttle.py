"""Failure counters in Redis: every node throttles a guesser together."""

from __future__ import annotations

import pytest
from webtest import TestApp

from restauth import AuthMiddleware, MemoryUserStore
from restauth.throttle.policy import Counter, Rule, Throttle, ThrottlePolicy
from tests.conftest import FakeClock, basic, echo_app
from tests.services import redis_url
from tests.storage.conftest import SECRET_KEY


def test_store_counts_and_resets(redis_prefix: str) -> None:
    from restauth.throttle.redis import RedisThrottleStore

    store = RedisThrottleStore(redis_url(), prefix=redis_prefix)
    policy, alice = ThrottlePolicy(), Rule("u:alice", 5, 60)
    assert store.get_many(["u:alice", "a:10.0.0.1"]) == [None, None]
    assert store.admit([alice], 1000.0, policy).previous == (None,)
    assert store.admit([alice], 1001.5, policy).previous == (Counter(1, 1000.0),)
    counter, other = store.get_many(["u:alice", "a:10.0.0.1"])
    assert counter is not None
    assert (counter.count, counter.last, other) == (2, 1001.5, None)
    store.admit([alice], 1001.5 + 901, policy)  # the window passed: counting starts again
    assert store.get_many(["u:alice"]) == [Counter(1, 1001.5 + 901)]
    store.reset("u:alice")
    assert store.get_many(["u:alice"]) == [None]


def test_nodes_share_the_counters(
    redis_prefix: str, users: MemoryUserStore, clock: FakeClock
) -> None:
    from restauth.tokens.redis import RedisTokenManager

    def node() -> TestApp:
        tokens = RedisTokenManager(redis_url(), prefix=redis_prefix, secret_key=SECRET_KEY)
        middleware = AuthMiddleware(echo_app, users=users, tokens=tokens)
        assert middleware.throttle is not None
        middleware.throttle.clock = clock
        return TestApp(middleware)

    node_a, node_b = node(), node()
    for attempt in range(5):
        (node_a if attempt % 2 else node_b).get(
            "/x", headers={"Authorization": basic("alice", "wrong")}, status=401
        )
    response = node_a.get(
        "/x", headers={"Authorization": basic("alice", "rabbit:hole wörd")}, status=429
    )
    assert int(response.headers["Retry-After"]) >= 1


def test_default_throttle_stays_in_memory_for_other_managers(users: MemoryUserStore) -> None:
    from restauth.throttle.policy import MemoryThrottleStore

    middleware = AuthMiddleware(echo_app, users=users)
    assert isinstance(middleware.throttle, Throttle)
    assert isinstance(middleware.throttle.store, MemoryThrottleStore)


@pytest.mark.parametrize("garbage", [b"", b"x", b"12", b"abc def"])
def test_foreign_values_are_ignored(redis_prefix: str, garbage: bytes) -> None:
    from restauth.throttle.redis import RedisThrottleStore

    store = RedisThrottleStore(redis_url(), prefix=redis_prefix)
    store.client.set(redis_prefix + "throttle:u:x", garbage)
    assert store.get_many(["u:x"]) == [None]
    store.admit([Rule("u:x", 5, 60)], 5.0, ThrottlePolicy())
    assert store.get_many(["u:x"]) == [Counter(1, 5.0)]
    assert ThrottlePolicy().user_threshold == 5
