"""Tokens in Redis (extra ``restauth[redis]``): shared by every process on every machine.

Each check is one round trip: a Lua script reads the record, judges it by the
manager's ``clock()`` (passed in, so tests and every node agree on one notion of
time), renews it if a renewal is due and returns it, atomically. Renewal is coarse
(:func:`~restauth.tokens.base.renewal_step`): while the stored deadline is within one
step of ``now + ttl`` the script only reads, so most checks write nothing (no key
change, nothing for replicas or the AOF), and the grant reports the stored deadline.
Redis's own key expiry only collects garbage a little after the clock says the token
died. Keys (all under ``prefix``):
``token:<id>`` is a hash (userid, stamp, created, deadline) and ``user:<userid>`` holds
the id of the user's current token. A token is ``id.HMAC(secret_key, id)`` and only the
id is stored, so ``redis-cli --scan`` plus ``GET`` yields nothing that authenticates.

The scripts touch keys they compute, so they need a standalone Redis (or Sentinel),
not Redis Cluster.
"""

from __future__ import annotations

import time
from typing import Any

import redis

from restauth._storage.redis import errors_as_unavailable, redis_client, text
from restauth._time import Clock, Duration, as_seconds
from restauth.throttle.redis import RedisThrottleStore
from restauth.tokens.base import (
    DEFAULT_MAX_LIFETIME,
    DEFAULT_TTL,
    TokenCodec,
    TokenGrant,
    persistent_secret_key,
    renewal_step,
)

GARBAGE_GRACE = 60.0  # seconds a dead record may linger in Redis before it expires there

# KEYS[1] token key. ARGV: now, new deadline, max_lifetime, grace, renewal step.
# No renewal due (the stored deadline within a step of the new one): a read, nothing written.
_AUTHENTICATE = """
local r = redis.call('HMGET', KEYS[1], 'userid', 'stamp', 'created', 'deadline')
if not r[1] then return false end
local now, created, stored = tonumber(ARGV[1]), tonumber(r[3]), tonumber(r[4])
local hard = created + tonumber(ARGV[3])
if now >= stored or now >= hard then return false end
if tonumber(ARGV[2]) - stored <= tonumber(ARGV[5]) then return r end
redis.call('HSET', KEYS[1], 'deadline', ARGV[2])
local keep = math.min(tonumber(ARGV[2]), hard) - now + tonumber(ARGV[4])
redis.call('PEXPIRE', KEYS[1], math.ceil(keep * 1000))
return {r[1], r[2], r[3], ARGV[2]}
"""

# KEYS[1] user key, KEYS[2] key for a new token. ARGV: now, new deadline, max_lifetime,
# grace, renewal step, stamp, userid, new id, token key prefix.
_ISSUE = """
local now, maxlife, grace = tonumber(ARGV[1]), tonumber(ARGV[3]), tonumber(ARGV[4])
local old = redis.call('GET', KEYS[1])
if old then
  local key = ARGV[9] .. old
  local r = redis.call('HMGET', key, 'stamp', 'created', 'deadline')
  if r[1] then
    local hard, stored = tonumber(r[2]) + maxlife, tonumber(r[3])
    if r[1] == ARGV[6] and now < stored and now < hard then
      if tonumber(ARGV[2]) - stored <= tonumber(ARGV[5]) then return {old, r[2], r[3]} end
      redis.call('HSET', key, 'deadline', ARGV[2])
      local keep = math.min(tonumber(ARGV[2]), hard) - now + grace
      redis.call('PEXPIRE', key, math.ceil(keep * 1000))
      return {old, r[2], ARGV[2]}
    end
    redis.call('DEL', key)
  end
end
redis.call('HSET', KEYS[2], 'userid', ARGV[7], 'stamp', ARGV[6], 'created', ARGV[1],
           'deadline', ARGV[2])
local keep = math.min(tonumber(ARGV[2]), now + maxlife) - now + grace
redis.call('PEXPIRE', KEYS[2], math.ceil(keep * 1000))
redis.call('SET', KEYS[1], ARGV[8], 'PX', math.ceil((maxlife + grace) * 1000))
return {ARGV[8], ARGV[1], ARGV[2]}
"""

# KEYS[1] user key. ARGV: now, max_lifetime, token key prefix.
_LOOKUP = """
local id = redis.call('GET', KEYS[1])
if not id then return false end
local r = redis.call('HMGET', ARGV[3] .. id, 'stamp', 'created', 'deadline')
if not r[1] then return false end
local now = tonumber(ARGV[1])
if now >= tonumber(r[3]) or now >= tonumber(r[2]) + tonumber(ARGV[2]) then return false end
return {id, r[1], r[2], r[3]}
"""

# KEYS[1] user key. ARGV: token key prefix.
_REVOKE = """
local id = redis.call('GET', KEYS[1])
if not id then return 0 end
redis.call('DEL', KEYS[1])
return redis.call('DEL', ARGV[1] .. id)
"""


class RedisTokenManager:
    """Tokens in Redis under ``prefix``; ``url_or_client`` is a ``redis://`` URL or a client."""

    def __init__(
        self,
        url_or_client: str | redis.Redis,
        ttl: Duration = DEFAULT_TTL,
        *,
        max_lifetime: Duration = DEFAULT_MAX_LIFETIME,
        clock: Clock = time.time,
        secret_key: bytes | str | None = None,
        prefix: str = "restauth:",
    ) -> None:
        self.ttl = as_seconds(ttl, "ttl")
        self.max_lifetime = as_seconds(max_lifetime, "max_lifetime")
        self.clock = clock
        self.prefix = prefix
        self._codec = TokenCodec(persistent_secret_key(secret_key, "RedisTokenManager"))
        self.client = redis_client(url_or_client)
        self._token_prefix = prefix + "token:"
        # The arguments after now and the new deadline never change: their text, once.
        self._fixed = [repr(self.max_lifetime), repr(GARBAGE_GRACE), repr(renewal_step(self.ttl))]
        self._authenticate = self.client.register_script(_AUTHENTICATE)
        self._issue = self.client.register_script(_ISSUE)
        self._lookup = self.client.register_script(_LOOKUP)
        self._revoke = self.client.register_script(_REVOKE)

    def issue(self, userid: str, stamp: str) -> TokenGrant:
        now = self.clock()
        new_id = self._codec.new_id()
        arguments = [*self._times(now), stamp, userid, new_id, self._token_prefix]
        with errors_as_unavailable():
            reply: Any = self._issue(
                keys=[self._user_key(userid), self._token_prefix + new_id], args=arguments
            )
        token_id, created, deadline = (text(value) for value in reply)
        return self._grant(token_id, userid, stamp, float(created), float(deadline))

    def authenticate(self, token: str) -> TokenGrant | None:
        token_id = self._codec.id_of(token)
        if token_id is None:
            return None
        with errors_as_unavailable():
            reply: Any = self._authenticate(
                keys=[self._token_prefix + token_id], args=self._times(self.clock())
            )
        if not reply:
            return None
        userid, stamp, created, deadline = (text(value) for value in reply)
        valid_until = min(float(deadline), float(created) + self.max_lifetime)
        return TokenGrant(token, userid, stamp, float(created), valid_until)

    def lookup(self, userid: str) -> TokenGrant | None:
        arguments = [repr(self.clock()), repr(self.max_lifetime), self._token_prefix]
        with errors_as_unavailable():
            reply: Any = self._lookup(keys=[self._user_key(userid)], args=arguments)
        if not reply:
            return None
        token_id, stamp, created, deadline = (text(value) for value in reply)
        return self._grant(token_id, userid, stamp, float(created), float(deadline))

    def revoke(self, userid: str) -> bool:
        with errors_as_unavailable():
            removed: Any = self._revoke(keys=[self._user_key(userid)], args=[self._token_prefix])
        return bool(removed)

    def throttle_store(self) -> RedisThrottleStore:
        """Failure counters in the same Redis, so all nodes throttle together (the
        middleware uses this when it builds its default throttle)."""
        return RedisThrottleStore(self.client, self.prefix)

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        return f"RedisTokenManager(prefix={self.prefix!r}, ttl={self.ttl})"

    def _times(self, now: float) -> list[str]:
        """now, the renewed idle deadline, max_lifetime, grace, renewal step: exact float
        reprs for Lua."""
        return [repr(now), repr(now + self.ttl), *self._fixed]

    def _user_key(self, userid: str) -> str:
        return self.prefix + "user:" + userid

    def _grant(
        self, token_id: str, userid: str, stamp: str, created: float, deadline: float
    ) -> TokenGrant:
        valid_until = min(deadline, created + self.max_lifetime)
        return TokenGrant(self._codec.token_for(token_id), userid, stamp, created, valid_until)
