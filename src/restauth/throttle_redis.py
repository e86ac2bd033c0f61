"""Failure counters in Redis, so every node throttles a guesser together (``restauth[redis]``)."""

from __future__ import annotations

from typing import Any

import redis

from restauth.storage.redis import errors_as_unavailable, redis_client, text
from restauth.throttle import Counter

# KEYS[1] counter key. ARGV: now, window (seconds). A counter is "<count> <last failure>".
_ADD_FAILURE = """
local now, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local count = 1
local old = redis.call('GET', KEYS[1])
if old then
  local n, last = string.match(old, '^(%d+) (.+)$')
  if n and now - tonumber(last) <= window then count = tonumber(n) + 1 end
end
redis.call('SET', KEYS[1], count .. ' ' .. ARGV[1], 'PX', math.ceil(window * 1000) + 60000)
return count
"""


class RedisThrottleStore:
    """The :class:`restauth.throttle.ThrottleStore` protocol over Redis, keys under ``prefix``.

    Reads are one ``MGET``; a failure is one script. Redis expires a counter a minute
    after its window, so invented userids cost nothing for long.
    """

    def __init__(self, url_or_client: str | redis.Redis, prefix: str = "restauth:") -> None:
        self.client = redis_client(url_or_client)
        self.prefix = prefix + "throttle:"
        self._add_failure = self.client.register_script(_ADD_FAILURE)

    def get_many(self, keys: list[str]) -> list[Counter | None]:
        with errors_as_unavailable():
            values: list[Any] = self.client.mget([self.prefix + key for key in keys])
        return [_counter(value) for value in values]

    def add_failure(self, key: str, now: float, window: float) -> Counter:
        with errors_as_unavailable():
            count: Any = self._add_failure(keys=[self.prefix + key], args=[repr(now), repr(window)])
        return Counter(int(count), now)

    def reset(self, key: str) -> None:
        with errors_as_unavailable():
            self.client.delete(self.prefix + key)


def _counter(value: bytes | str | None) -> Counter | None:
    if value is None:
        return None
    count, _, last = text(value).partition(" ")
    try:
        return Counter(int(count), float(last))
    except ValueError:
        return None  # not ours: ignore rather than fail every login
