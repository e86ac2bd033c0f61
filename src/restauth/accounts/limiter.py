"""How many account requests (registrations, reset and verification requests) one client
address may make per window: each request is counted in the window it falls in (fixed
windows: the hour from 10:00, from 11:00, ... for ``window=3600``), and past the allowance
the caller waits (429 with ``Retry-After``) until that window ends.

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
        now = self._clock()
        window = math.floor(now / self._window)
        rule = Rule(f"r:{kind}:{address}:{window}", self._allowance, self._window)
        verdict = self._store.admit([rule], now, self._policy)
        if verdict.wait <= 0:
            return 0
        return max(1, math.ceil((window + 1) * self._window - now))
