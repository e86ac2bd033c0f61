"""Counters in Redis, so every node throttles a guesser together (``restauth[redis]``).

A counter is the string ``"<count> <last>"``, ``<last>`` being the exact ``repr`` of the
time Python passed in, so a script can compare it with another time as a string.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from restauth._storage.redis import errors_as_unavailable, redis_client, text
from restauth.throttle.policy import Admission, Counted, Counter, Rule, ThrottlePolicy

# KEYS: the counters of one attempt. ARGV: now, window, base delay, then a threshold and a
# longest delay per key. Refused: {wait}, nothing written. Admitted: {'0', one value per
# key as it was before ('' when none was alive)}. The wait is restauth.throttle.policy.wait_for.
_ADMIT = """
local now, window, base = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local counts, previous, wait = {}, {}, 0
for i, key in ipairs(KEYS) do
  counts[i], previous[i] = 0, ''
  local value = redis.call('GET', key)
  if value then
    local n, last = string.match(value, '^(%d+) (.+)$')
    if n and tonumber(last) and now - tonumber(last) <= window then
      counts[i], previous[i] = tonumber(n), value
      local threshold, longest = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
      if counts[i] >= threshold then
        local delay = math.min(base * 2 ^ (counts[i] - threshold), longest)
        wait = math.max(wait, tonumber(last) + delay - now)
      end
    end
  end
end
if wait > 0 then return {tostring(wait)} end
local ttl = math.ceil(window * 1000) + 60000
for i, key in ipairs(KEYS) do
  redis.call('SET', key, (counts[i] + 1) .. ' ' .. ARGV[1], 'PX', ttl)
end
return {'0', unpack(previous)}
"""

# KEYS: counters to take one attempt back from (restauth.throttle.policy.undone), then at most one
# to delete. ARGV: the attempt's time, then per counter the time of the attempt before it
# ('' when none).
_RELEASE = """
local taken = #ARGV - 1
for i = 1, taken do
  local value = redis.call('GET', KEYS[i])
  if value then
    local n, last = string.match(value, '^(%d+) (.+)$')
    if n and tonumber(n) > 1 then
      if last == ARGV[1] and ARGV[1 + i] ~= '' then last = ARGV[1 + i] end
      redis.call('SET', KEYS[i], (tonumber(n) - 1) .. ' ' .. last, 'KEEPTTL')
    else
      redis.call('DEL', KEYS[i])
    end
  end
end
for i = taken + 1, #KEYS do redis.call('DEL', KEYS[i]) end
return 0
"""


# KEYS[1] counter key. ARGV: now, window (seconds).
class RedisThrottleStore:
    """The :class:`restauth.throttle.policy.ThrottleStore` protocol over Redis (6.0 or later),
    keys under ``prefix``.

    A password attempt is one script that judges and counts it (Redis runs a script
    alone, so no other attempt can slip in between), and one more when it succeeds.
    The first look at an attempt is one ``MGET``. Redis expires a counter a minute after its
    window, so invented userids cost nothing for long.
    """

    def __init__(self, url_or_client: str | redis.Redis, prefix: str = "restauth:") -> None:
        self.client = redis_client(url_or_client)
        self.prefix = prefix + "throttle:"
        self._admit = self.client.register_script(_ADMIT)
        self._release = self.client.register_script(_RELEASE)

    def admit(self, rules: Sequence[Rule], now: float, policy: ThrottlePolicy) -> Admission:
        arguments = [repr(now), repr(policy.window), repr(policy.base_delay)]
        for rule in rules:
            arguments += [str(rule.threshold), repr(rule.max_delay)]
        with errors_as_unavailable():
            reply: Any = self._admit(
                keys=[self.prefix + rule.key for rule in rules], args=arguments
            )
        wait = float(text(reply[0]))
        return Admission(wait, tuple(_counter(value) for value in reply[1:]))

    def release(self, counted: Sequence[Counted], at: float, reset: str | None = None) -> None:
        keys = [self.prefix + key for key, _ in counted]
        if reset is not None:
            keys.append(self.prefix + reset)
        arguments = [repr(at)] + ["" if old is None else repr(old.last) for _, old in counted]
        with errors_as_unavailable():
            self._release(keys=keys, args=arguments)

    def get_many(self, keys: list[str]) -> list[Counter | None]:
        with errors_as_unavailable():
            values: list[Any] = self.client.mget([self.prefix + key for key in keys])
        return [_counter(value) for value in values]

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
        return None  # not ours (or ''): ignore rather than fail every login
