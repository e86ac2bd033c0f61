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
from string import Template
from typing import Any

import redis

from restauth._storage.redis import LuaScript, errors_as_unavailable, redis_client, text
from restauth._time import Clock, Duration, as_seconds
from restauth.errors import StoreUnavailable
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

# The scripts are templates: the numbers that never change for a manager ($ttl,
# $max_lifetime, $grace, $step: renewal_step(ttl)) are written into its copy of the text,
# so a check sends only the key and now (an exact float repr for Lua).

# KEYS[1] token key. ARGV[1]: now. No renewal due (the stored deadline within a step of
# now + ttl): a read, nothing written. The reply is one string, "created deadline
# <bytes in stamp> <stamp><userid>": an array of four costs redis-py's parser about 8 µs
# more per request. '%.17g' writes a float exactly (Lua's own tostring keeps 14 digits).
_AUTHENTICATE = """
local r = redis.call('HMGET', KEYS[1], 'userid', 'stamp', 'created', 'deadline')
if not r[1] then return false end
local now, stored = tonumber(ARGV[1]), tonumber(r[4])
local hard = tonumber(r[3]) + $max_lifetime
if now >= stored or now >= hard then return false end
local deadline = r[4]
if now + $ttl - stored > $step then
  deadline = string.format('%.17g', now + $ttl)
  redis.call('HSET', KEYS[1], 'deadline', deadline)
  local keep = math.min(now + $ttl, hard) - now + $grace
  redis.call('PEXPIRE', KEYS[1], math.ceil(keep * 1000))
end
return r[3] .. ' ' .. deadline .. ' ' .. #r[2] .. ' ' .. r[2] .. r[1]
"""

# KEYS[1] user key, KEYS[2] key for a new token. ARGV: now, new deadline, stamp, userid,
# new id, token key prefix.
_ISSUE = """
local now, maxlife, grace = tonumber(ARGV[1]), $max_lifetime, $grace
local old = redis.call('GET', KEYS[1])
if old then
  local key = ARGV[6] .. old
  local r = redis.call('HMGET', key, 'stamp', 'created', 'deadline')
  if r[1] then
    local hard, stored = tonumber(r[2]) + maxlife, tonumber(r[3])
    if r[1] == ARGV[3] and now < stored and now < hard then
      if tonumber(ARGV[2]) - stored <= $step then return {old, r[2], r[3]} end
      redis.call('HSET', key, 'deadline', ARGV[2])
      local keep = math.min(tonumber(ARGV[2]), hard) - now + grace
      redis.call('PEXPIRE', key, math.ceil(keep * 1000))
      return {old, r[2], ARGV[2]}
    end
    redis.call('DEL', key)
  end
end
redis.call('HSET', KEYS[2], 'userid', ARGV[4], 'stamp', ARGV[3], 'created', ARGV[1],
           'deadline', ARGV[2])
local keep = math.min(tonumber(ARGV[2]), now + maxlife) - now + grace
redis.call('PEXPIRE', KEYS[2], math.ceil(keep * 1000))
redis.call('SET', KEYS[1], ARGV[5], 'PX', math.ceil((maxlife + grace) * 1000))
return {ARGV[5], ARGV[1], ARGV[2]}
"""

# KEYS[1] user key. ARGV: now, token key prefix.
_LOOKUP = """
local id = redis.call('GET', KEYS[1])
if not id then return false end
local r = redis.call('HMGET', ARGV[2] .. id, 'stamp', 'created', 'deadline')
if not r[1] then return false end
local now = tonumber(ARGV[1])
if now >= tonumber(r[3]) or now >= tonumber(r[2]) + $max_lifetime then return false end
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
        numbers = {
            "ttl": repr(self.ttl),
            "max_lifetime": repr(self.max_lifetime),
            "grace": repr(GARBAGE_GRACE),
            "step": repr(renewal_step(self.ttl)),
        }

        def script(template: str) -> LuaScript:
            return LuaScript(self.client, Template(template).substitute(numbers))

        self._authenticate = script(_AUTHENTICATE)
        self._issue = script(_ISSUE)
        self._lookup = script(_LOOKUP)
        self._revoke = script(_REVOKE)

    def issue(self, userid: str, stamp: str) -> TokenGrant:
        now = self.clock()
        new_id = self._codec.new_id()
        keys = (self._user_key(userid), self._token_prefix + new_id)
        with errors_as_unavailable():
            reply: Any = self._issue(
                2, *keys, repr(now), repr(now + self.ttl), stamp, userid, new_id, self._token_prefix
            )
        token_id, created, deadline = (text(value) for value in reply)
        return self._grant(token_id, userid, stamp, float(created), float(deadline))

    def authenticate(self, token: str) -> TokenGrant | None:
        token_id = self._codec.id_of(token)
        if token_id is None:
            return None
        try:  # errors_as_unavailable, inlined: the hot path
            reply: Any = self._authenticate(1, self._token_prefix + token_id, repr(self.clock()))
        except redis.RedisError as error:
            raise StoreUnavailable(f"Redis: {type(error).__name__}") from None
        if not reply:
            return None
        if isinstance(reply, str):  # a client that decodes responses
            reply = reply.encode("utf-8")
        created, deadline, size, rest = reply.split(b" ", 3)
        length = int(size)
        issued, idle, hard = float(created), float(deadline), float(created) + self.max_lifetime
        stamp, userid = rest[:length].decode("utf-8"), rest[length:].decode("utf-8")
        return TokenGrant(token, userid, stamp, issued, idle if idle < hard else hard)

    def lookup(self, userid: str) -> TokenGrant | None:
        with errors_as_unavailable():
            reply: Any = self._lookup(
                1, self._user_key(userid), repr(self.clock()), self._token_prefix
            )
        if not reply:
            return None
        token_id, stamp, created, deadline = (text(value) for value in reply)
        return self._grant(token_id, userid, stamp, float(created), float(deadline))

    def revoke(self, userid: str) -> bool:
        with errors_as_unavailable():
            removed: Any = self._revoke(1, self._user_key(userid), self._token_prefix)
        return bool(removed)

    def throttle_store(self) -> RedisThrottleStore:
        """Failure counters in the same Redis, so all nodes throttle together (the
        middleware uses this when it builds its default throttle)."""
        return RedisThrottleStore(self.client, self.prefix)

    def close(self) -> None:
        self.client.close()

    def __repr__(self) -> str:
        return f"RedisTokenManager(prefix={self.prefix!r}, ttl={self.ttl})"

    def _user_key(self, userid: str) -> str:
        return self.prefix + "user:" + userid

    def _grant(
        self, token_id: str, userid: str, stamp: str, created: float, deadline: float
    ) -> TokenGrant:
        valid_until = min(deadline, created + self.max_lifetime)
        return TokenGrant(self._codec.token_for(token_id), userid, stamp, created, valid_until)
