"""How many account requests (registrations, reset and verification requests) one client
address may make per window: each request is counted, and past the allowance the caller
waits (429 with ``Retry-After``) until the window has passed.

The counters live in the throttle's store (memory, a SQLite file, Redis), so every
process and node that shares it shares the allowance; the check and the count are the
store's one atomic step, as for password guesses.
"""

from __future__ import annotations

import math
import time

from restauth._time import Clock
from restauth.throttle.policy import Rule, ThrottlePolicy, ThrottleStore


class RequestLimiter:
    """At most ``allowance`` requests per address per ``window`` seconds."""

    def __init__(
        self, store: ThrottleStore, allowance: int, window: float, clock: Clock = time.time
    ) -> None:
        self._store = store
        self._allowance = allowance
        self._clock = clock
        # a flat wait: the window itself once the allowance is spent (no doubling)
        self._policy = ThrottlePolicy(window=window, base_delay=window)
        self._window = window

    def admit(self, kind: str, address: str) -> int:
        """Count one request of ``kind`` from ``address``; seconds to wait (0: go ahead)."""
        rule = Rule(f"r:{kind}:{address}", self._allowance, self._window)
        verdict = self._store.admit([rule], self._clock(), self._policy)
        return math.ceil(verdict.wait) if verdict.wait > 0 else 0
