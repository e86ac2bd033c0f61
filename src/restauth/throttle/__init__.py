"""Brute-force throttling: the policy and attempt bookkeeping (``policy``), and where the
counters live: this process (``MemoryThrottleStore``), a SQLite file (``sqlite``) or
Redis (``redis``, the ``redis`` extra).

May import ``restauth._time``, ``restauth.errors`` and ``restauth._storage``; never HTTP
modules or the user and token stores.
"""

from restauth.throttle.policy import (
    MemoryThrottleStore,
    SharesThrottleCounters,
    Throttle,
    ThrottlePolicy,
    ThrottleStore,
    shared_store,
)

__all__ = [
    "MemoryThrottleStore",
    "SharesThrottleCounters",
    "Throttle",
    "ThrottlePolicy",
    "ThrottleStore",
    "shared_store",
]
