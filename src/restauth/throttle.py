"""Brute-force throttling (ASVS 4.0.3 2.2.1, 5.0 6.3.1), without a lockout an attacker could use.

Failed authentications are counted per userid (canonical form, whether or not the
user exists) and per client address. Past a threshold the caller waits, doubling
each failure; a blocked attempt is refused before any bcrypt work (429 with
``Retry-After``), even with the right password. Two caps keep it from being a
weapon: the per-userid wait never exceeds ``user_max_delay`` (one minute by
default: about 60 guesses an hour at most, under ASVS's 100), and a counter is
forgotten after ``window`` seconds without failures. A single noisy address waits
much longer (``address_max_delay``). A success resets the userid's counter.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from restauth.tokens.base import Clock


@dataclass(frozen=True, slots=True)
class Counter:
    count: int
    last: float


class ThrottleStore(Protocol):
    """Where failure counters live: this process (memory) or all nodes (Redis).

    ``get_many`` is one round trip for all the keys of one attempt.
    """

    def get_many(self, keys: list[str]) -> list[Counter | None]: ...

    def add_failure(self, key: str, now: float, window: float) -> Counter: ...

    def reset(self, key: str) -> None: ...


class MemoryThrottleStore:
    """Counters in a bounded LRU dict: a flood of invented userids cannot exhaust memory."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self._counters: OrderedDict[str, Counter] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, keys: list[str]) -> list[Counter | None]:
        return [self._counters.get(key) for key in keys]

    def add_failure(self, key: str, now: float, window: float) -> Counter:
        with self._lock:
            old = self._counters.pop(key, None)
            count = 1 if old is None or now - old.last > window else old.count + 1
            counter = self._counters[key] = Counter(count, now)
            while len(self._counters) > self.max_entries:
                self._counters.popitem(last=False)
        return counter

    def reset(self, key: str) -> None:
        with self._lock:
            self._counters.pop(key, None)


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """Thresholds and delays; the defaults are argued for in the module docstring."""

    user_threshold: int = 5
    address_threshold: int = 20
    window: float = 900.0
    base_delay: float = 1.0
    user_max_delay: float = 60.0
    address_max_delay: float = 900.0


class Throttle:
    """Decides whether an attempt may be checked at all, and records how it went."""

    def __init__(
        self,
        policy: ThrottlePolicy | None = None,
        *,
        store: ThrottleStore | None = None,
        clock: Clock = time.time,
    ) -> None:
        self.policy = policy or ThrottlePolicy()
        self.store: ThrottleStore = store or MemoryThrottleStore()
        self.clock = clock

    def check(self, userid: str | None, address: str | None) -> tuple[int, bool]:
        """Seconds to wait before this attempt may be checked (0: now), and whether the
        userid has a counter (so a success need not write when there is nothing to reset)."""
        policy = self.policy
        keys, limits = [], []
        if userid is not None:
            keys.append(_user_key(userid))
            limits.append((policy.user_threshold, policy.user_max_delay))
        if address is not None:
            keys.append(_address_key(address))
            limits.append((policy.address_threshold, policy.address_max_delay))
        if not keys:
            return 0, False
        counters = self.store.get_many(keys)
        if not any(counters):
            return 0, False  # the common case: no recent failure from this user or address
        now = self.clock()
        wait = max(
            self._wait(counter, threshold, max_delay, now)
            for counter, (threshold, max_delay) in zip(counters, limits, strict=True)
        )
        user_seen = userid is not None and counters[0] is not None
        return (math.ceil(wait) if wait > 0 else 0), user_seen

    def failure(self, userid: str | None, address: str | None) -> None:
        now = self.clock()
        if userid is not None:
            self.store.add_failure(_user_key(userid), now, self.policy.window)
        if address is not None:
            self.store.add_failure(_address_key(address), now, self.policy.window)

    def success(self, userid: str) -> None:
        self.store.reset(_user_key(userid))

    def _wait(self, counter: Counter | None, threshold: int, max_delay: float, now: float) -> float:
        if counter is None or counter.count < threshold or now - counter.last > self.policy.window:
            return 0.0
        delay = min(self.policy.base_delay * 2.0 ** (counter.count - threshold), max_delay)
        return counter.last + delay - now


def _user_key(userid: str) -> str:
    return "u:" + userid


def _address_key(address: str) -> str:
    return "a:" + address
