"""The Lua scripts of :class:`~restauth.tokens.revocation.redis.RedisRevocation`.

Each operation is one script, so it is one round trip and atomic: a login, a rotation,
an end and a logout on different nodes never undo each other. They apply the rules of
:mod:`restauth.tokens.revocation.records`. Keys (all under the store's prefix):

- ``revoked``: sorted set, member userid, score the "not before" instant (the previous
  release's key, unchanged).
- ``jwt:session:<sid>``: hash, one session (userid, kind, client, stamp, created,
  last_used, valid_until, expires, floor); Redis drops it a minute after ``expires``.
- ``jwt:user:<userid>``: sorted set of the user's sessions not yet ended, scored by a
  counter (``jwt:seq``) so they list in start order; cleaned as logins walk it.
- ``jwt:floored``: sorted set of the sessions that have a floor (rotated or ended),
  scored by ``expires``: what a :class:`CachedRevocation` snapshot reads.

Every number a script writes or returns is made a string first, exactly (``%.17g``, or
the caller's own text): Lua's ``tostring`` and ``..`` keep 14 significant digits only.
"""

from __future__ import annotations

# Prepended to every script. GRACE is substituted by the store (seconds).
_COMMON = """
local ENDED, ENDED_TEXT = 9007199254740992, '9007199254740992'
local function fmt(x) return string.format('%.17g', x) end
local function get(key)
  local r = redis.call('HMGET', key, 'userid', 'kind', 'client', 'stamp', 'created',
                       'last_used', 'valid_until', 'expires', 'floor')
  if not r[1] then return nil end
  return {userid = r[1], kind = r[2], client = r[3], stamp = r[4], created = r[5],
          last_used = r[6], valid_until = r[7], expires = r[8], floor = r[9]}
end
local function args(first)
  return {userid = ARGV[first], kind = ARGV[first + 1], client = ARGV[first + 2],
          stamp = ARGV[first + 3], created = ARGV[first + 4], last_used = ARGV[first + 5],
          valid_until = ARGV[first + 6], expires = ARGV[first + 7], floor = ARGV[first + 8]}
end
local function instant(key, userid)
  local nb = redis.call('ZSCORE', key, userid)
  return nb and tonumber(nb)
end
local function live(s, nb, now)
  return tonumber(s.floor) < ENDED and now < tonumber(s.valid_until)
     and now < tonumber(s.expires) and not (nb and tonumber(s.created) <= nb)
end
local function put(key, s, now)
  redis.call('HSET', key, 'userid', s.userid, 'kind', s.kind, 'client', s.client,
             'stamp', s.stamp, 'created', s.created, 'last_used', s.last_used,
             'valid_until', s.valid_until, 'expires', s.expires, 'floor', s.floor)
  redis.call('PEXPIRE', key, math.ceil((tonumber(s.expires) - now + $grace) * 1000))
end
local function index(users, seq, sid, s, now)
  redis.call('ZADD', users, redis.call('INCR', seq), sid)
  local keep = math.ceil((tonumber(s.expires) - now + $grace) * 1000)
  if redis.call('PTTL', users) < keep then redis.call('PEXPIRE', users, keep) end
end
local function finish(key, sid, s, floored)
  redis.call('HSET', key, 'floor', ENDED_TEXT)
  redis.call('ZADD', floored, s.expires, sid)
end
local function slide(key, s, valid_until, now_text)
  if tonumber(valid_until) > tonumber(s.valid_until) then
    s.valid_until = valid_until
    redis.call('HSET', key, 'valid_until', valid_until)
  end
  if tonumber(now_text) > tonumber(s.last_used) then
    s.last_used = now_text
    redis.call('HSET', key, 'last_used', now_text)
  end
end
local function reply(sid, s)
  return {sid, s.userid, s.kind, s.client, s.stamp, s.created, s.last_used,
          s.valid_until, s.expires, s.floor}
end
"""

# KEYS: revoked, session. ARGV: userid. One string: "<not before> <floor> <valid until>",
# each empty when unknown (a string parses faster in redis-py than an array).
CHECK = """
local nb = redis.call('ZSCORE', KEYS[1], ARGV[1])
local s = redis.call('HMGET', KEYS[2], 'userid', 'floor', 'valid_until')
if s[1] ~= ARGV[1] then return (nb or '') .. '  ' end
return (nb or '') .. ' ' .. s[2] .. ' ' .. s[3]
"""

# KEYS: revoked, user, seq, floored, new session. ARGV 1-9: the new record (created =
# now), 10: session key prefix, 11: now, 12: cap, 13: ttl / 2, 14: round(now + ttl, 3).
START = """
local new = args(1)
local now = tonumber(ARGV[11])
local nb = instant(KEYS[1], new.userid)
local capped, reuse, reuse_sid = {}, nil, nil
for _, sid in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local key = ARGV[10] .. sid
  local s = get(key)
  if not s or not live(s, nb, now) then
    -- for good: a node whose clock runs behind must not re-sign it outside the list
    if s and tonumber(s.floor) < ENDED then finish(key, sid, s, KEYS[4]) end
    redis.call('ZREM', KEYS[2], sid)
  elseif s.stamp ~= new.stamp then
    finish(key, sid, s, KEYS[4])
    redis.call('ZREM', KEYS[2], sid)
  elseif new.kind == 'basic' and s.kind == 'basic' and not reuse then
    reuse, reuse_sid = s, sid
  elseif s.kind ~= 'service' then
    capped[#capped + 1] = sid
  end
end
if reuse then
  if tonumber(reuse.valid_until) - now <= tonumber(ARGV[13]) then
    local wanted = ARGV[14]
    if tonumber(reuse.expires) < tonumber(wanted) then wanted = reuse.expires end
    slide(ARGV[10] .. reuse_sid, reuse, wanted, ARGV[11])
  end
  return reply(reuse_sid, reuse)
end
if new.kind ~= 'service' then
  for i = 1, #capped - tonumber(ARGV[12]) + 1 do
    local key = ARGV[10] .. capped[i]
    finish(key, capped[i], get(key), KEYS[4])
    redis.call('ZREM', KEYS[2], capped[i])
  end
end
if nb and tonumber(new.created) <= nb then
  local _, exponent = math.frexp(nb)
  new.created = fmt(nb + math.ldexp(1, exponent - 53))
end
local sid = string.sub(KEYS[5], #ARGV[10] + 1)
put(KEYS[5], new, now)
index(KEYS[2], KEYS[3], sid, new, now)
return reply(sid, new)
"""

# KEYS: revoked, user, seq, session. ARGV 1-9: the record, 10: session key prefix, 11: now.
TOUCH = """
local new = args(1)
local now = tonumber(ARGV[11])
local s = get(KEYS[4])
if s then
  if s.userid ~= new.userid or tonumber(s.floor) >= ENDED then return 0 end
  slide(KEYS[4], s, new.valid_until, ARGV[11])
  return 1
end
local nb = instant(KEYS[1], new.userid)
if nb and tonumber(new.created) <= nb then return 0 end
put(KEYS[4], new, now)
index(KEYS[2], KEYS[3], string.sub(KEYS[4], #ARGV[10] + 1), new, now)
return 1
"""

# KEYS: revoked, user, seq, session, floored. ARGV 1-9: the record (floor = generation
# + 1), 10: session key prefix, 11: now, 12: the presented generation.
ROTATE = """
local new = args(1)
local now = tonumber(ARGV[11])
local nb = instant(KEYS[1], new.userid)
if nb and tonumber(new.created) <= nb then return 0 end
local s = get(KEYS[4])
local sid = string.sub(KEYS[4], #ARGV[10] + 1)
if s then
  if s.userid ~= new.userid or tonumber(s.floor) > tonumber(ARGV[12]) then return 0 end
  redis.call('HSET', KEYS[4], 'floor', new.floor)
  slide(KEYS[4], s, new.valid_until, ARGV[11])
else
  put(KEYS[4], new, now)
  index(KEYS[2], KEYS[3], sid, new, now)
end
redis.call('ZADD', KEYS[5], new.expires, sid)
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', ARGV[11])
return 1
"""

# KEYS: revoked, user, session, floored. ARGV: userid, sid, now.
END = """
local s = get(KEYS[3])
if not s or s.userid ~= ARGV[1] then return 0 end
local now = tonumber(ARGV[3])
local was = live(s, instant(KEYS[1], ARGV[1]), now)
if tonumber(s.floor) < ENDED then finish(KEYS[3], ARGV[2], s, KEYS[4]) end
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[3])
return was and 1 or 0
"""

# KEYS: revoked, user, floored. ARGV: userid, not before, forget before, now, prefix.
REVOKE = """
local now = tonumber(ARGV[4])
local nb = instant(KEYS[1], ARGV[1])
local count = 0
for _, sid in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local key = ARGV[5] .. sid
  local s = get(key)
  if s then
    if live(s, nb, now) then count = count + 1 end
    if tonumber(s.floor) < ENDED then finish(key, sid, s, KEYS[3]) end
  end
end
redis.call('DEL', KEYS[2])
redis.call('ZADD', KEYS[1], 'GT', ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[4])
return count
"""

# KEYS: revoked, user. ARGV: userid, now, prefix. The live records, flattened.
SESSIONS = """
local now = tonumber(ARGV[2])
local nb = instant(KEYS[1], ARGV[1])
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local s = get(ARGV[3] .. sid)
  if s and s.userid == ARGV[1] and live(s, nb, now) then
    for _, value in ipairs(reply(sid, s)) do out[#out + 1] = value end
  end
end
return out
"""

# KEYS: revoked, floored. ARGV: since, now, prefix. {users with scores, sid/floor pairs}.
SNAPSHOT = """
local users = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'WITHSCORES')
local floors = {}
for _, sid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '(' .. ARGV[2], '+inf')) do
  local floor = redis.call('HGET', ARGV[3] .. sid, 'floor')
  if floor then
    floors[#floors + 1] = sid
    floors[#floors + 1] = floor
  end
end
return {users, floors}
"""


def with_common(script: str) -> str:
    """A script with the shared helpers in front (``$grace`` still to substitute)."""
    return _COMMON + script
