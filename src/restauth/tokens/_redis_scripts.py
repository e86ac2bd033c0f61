"""The Lua scripts of :class:`restauth.tokens.redis.RedisTokenManager` (layout: its docstring).

Each method of the manager is one script, so each is atomic: two nodes (or 8 threads)
starting and ending sessions at once never lose or bring back one. The scripts are
templates: the numbers fixed for a manager (``$prefix_len``: the key prefix's length in
bytes; ``$ttl``, ``$max_lifetime``, ``$max_sessions``, ``$grace``) are written into its
copy of the text, so a call sends only keys, ``now`` and the values of that call.
Every script's ``KEYS[1]`` starts with the prefix and its ``ARGV[1]`` is ``now`` (an exact
float repr): the prelude reads both. Floats are written with ``'%.17g'`` (exact; Lua's
own ``tostring`` keeps 14 digits).
"""

from __future__ import annotations

from string import Template

# Shared by every script. A token record is a table t (fields as in the hash, numbers
# converted; id and key added). load() upgrades a record of the previous release (hash
# without 'session') in place on first touch; adopt_legacy() does the same starting from
# the previous release's user:<userid> pointer. Both are idempotent: a second manager
# touching the same record afterwards finds it upgraded.
_PRELUDE = """
local P = string.sub(KEYS[1], 1, $prefix_len)
local NOW = tonumber(ARGV[1])
local FIELDS = {'userid', 'stamp', 'created', 'deadline', 'session', 'kind', 'client', 'ttl',
                'expires', 'ended'}

local function fmt(x) return string.format('%.17g', x) end
local function ms(seconds) return math.ceil(seconds * 1000) end

local function user_keys(userid)
  return P .. 'sessions:' .. userid, P .. 'session-tokens:' .. userid,
         P .. 'basic-session:' .. userid
end

local function alive(t) return not t.ended and NOW < t.deadline and NOW < t.expires end

-- A token hash lives until its death plus its ttl: a use until then is a DeadToken.
local function keep_record(t)
  redis.call('PEXPIRE', t.key, ms(math.min(t.deadline, t.expires) + t.ttl - NOW))
end

-- The user's zset and hash outlive every session in them (only extended, never cut).
local function keep_user(userid, expires)
  local zkey, hkey = user_keys(userid)
  local want = ms(expires - NOW + $grace)
  if redis.call('PTTL', zkey) < want then redis.call('PEXPIRE', zkey, want) end
  if redis.call('PTTL', hkey) < want then redis.call('PEXPIRE', hkey, want) end
end

local function upgrade(t)
  t.session = string.sub(redis.sha1hex('session:' .. t.id), 1, 24)
  t.kind, t.client, t.ttl, t.expires = 'login', '', $ttl, t.created + $max_lifetime
  redis.call('HSET', t.key, 'session', t.session, 'kind', 'login', 'client', '',
             'ttl', fmt(t.ttl), 'expires', fmt(t.expires))
  keep_record(t)
  local legacy = P .. 'user:' .. t.userid
  if redis.call('GET', legacy) == t.id then redis.call('DEL', legacy) end
  if alive(t) then  -- the oldest of the user's sessions: it began before the upgrade
    local zkey, hkey = user_keys(t.userid)
    local first = redis.call('ZRANGE', zkey, 0, 0, 'WITHSCORES')
    local score = 0
    if first[2] then score = tonumber(first[2]) - 1 end
    redis.call('ZADD', zkey, score, t.session)
    redis.call('HSET', hkey, t.session, t.id)
    keep_user(t.userid, t.expires)
  end
end

local function load(id)
  local key = P .. 'token:' .. id
  local r = redis.call('HMGET', key, unpack(FIELDS))
  if not r[1] then return nil end
  local t = {id = id, key = key, userid = r[1], stamp = r[2], created = tonumber(r[3]),
             deadline = tonumber(r[4]), session = r[5], kind = r[6], client = r[7],
             ttl = tonumber(r[8]), expires = tonumber(r[9]), ended = r[10]}
  if not t.session then upgrade(t) end
  return t
end

local function adopt_legacy(userid)
  local legacy = P .. 'user:' .. userid
  local id = redis.call('GET', legacy)
  if id then
    redis.call('DEL', legacy)
    load(id)
  end
end

-- Out of the user's live sessions, if t is still its session's token (a token rotated
-- away must not take its successor along). The record itself stays, as a tombstone.
local function detach(t)
  local zkey, hkey, bkey = user_keys(t.userid)
  if redis.call('HGET', hkey, t.session) == t.id then
    redis.call('ZREM', zkey, t.session)
    redis.call('HDEL', hkey, t.session)
    if redis.call('GET', bkey) == t.session then redis.call('DEL', bkey) end
  end
end

-- End t's session. Its deadline becomes 0 too, so a node still running the previous
-- release (which knows no 'ended') refuses the token as well during a rolling upgrade.
local function finish(t)
  if not t.ended then
    redis.call('HSET', t.key, 'ended', fmt(NOW), 'deadline', '0')
    redis.call('PEXPIRE', t.key, ms(math.min(t.deadline, t.expires, NOW) + t.ttl - NOW))
    t.ended = true
  end
  detach(t)
end

-- Take an expired t out of its user's sessions for good: its deadline becomes 0, so a
-- check judged by a clock running behind this one (another node's) cannot renew it back
-- to life outside the list, where no logout would reach it. Its reason stays "expired".
local function expire(t)
  redis.call('HSET', t.key, 'deadline', '0')
  detach(t)
end

-- The user's sessions oldest first, whatever their state; entries whose record Redis
-- has already dropped are removed from the zset and hash.
local function sessions_of(userid)
  local zkey, hkey = user_keys(userid)
  local list = {}
  for _, session in ipairs(redis.call('ZRANGE', zkey, 0, -1)) do
    local id = redis.call('HGET', hkey, session)
    local t = id and load(id)
    if t and t.session == session then
      list[#list + 1] = t
    else
      redis.call('ZREM', zkey, session)
      redis.call('HDEL', hkey, session)
    end
  end
  return list
end

-- Coarse renewal: the idle deadline is written only when it moves by more than the step
-- (max(1 % of ttl, 1 s)); otherwise nothing is written at all.
local function renew_idle(t)
  local wanted = NOW + t.ttl
  if wanted - t.deadline > math.max(t.ttl / 100, 1) then
    t.deadline = wanted
    redis.call('HSET', t.key, 'deadline', fmt(wanted))
    keep_record(t)
  end
end

-- "<id> <created> <valid until> <session> <bytes in stamp> <stamp><userid>": one string
-- (an array costs redis-py's parser about 8 us more per reply).
local function describe(head, t)
  return head .. ' ' .. fmt(t.created) .. ' ' .. fmt(math.min(t.deadline, t.expires)) .. ' '
         .. t.session .. ' ' .. #t.stamp .. ' ' .. t.stamp .. t.userid
end
"""

# KEYS[1] token key. ARGV: now. The hot path, so written out without the prelude's
# helpers (defining them costs more than the rest): one HMGET, and no write unless a
# renewal is due, or the record is the previous release's (upgraded once, by the
# prelude, defined only then). The reply is describe()'s, headed by "L" (live), "E"
# (ended) or "X" (expired); false if unknown.
_AUTHENTICATE = """
local FIELDS = {'userid', 'stamp', 'created', 'deadline', 'session', 'ttl', 'expires', 'ended'}
local r = redis.call('HMGET', KEYS[1], unpack(FIELDS))
if not r[1] then return false end
if not r[5] then
  local function upgrade()
$prelude
    load(string.sub(KEYS[1], $prefix_len + 7))
  end
  upgrade()
  r = redis.call('HMGET', KEYS[1], unpack(FIELDS))
  if not r[1] then return false end  -- dead for longer than its ttl: dropped
end
local now, deadline, ttl, expires = tonumber(ARGV[1]), tonumber(r[4]), tonumber(r[6]),
                                    tonumber(r[7])
local status = 'L'
if r[8] then
  status = 'E'
elseif now >= deadline or now >= expires then
  status = 'X'
elseif now + ttl - deadline > math.max(ttl / 100, 1) then
  deadline = now + ttl
  r[4] = string.format('%.17g', deadline)
  redis.call('HSET', KEYS[1], 'deadline', r[4])
  redis.call('PEXPIRE', KEYS[1], math.ceil((math.min(deadline, expires) + ttl - now) * 1000))
end
local valid_until = r[4]
if expires < deadline then valid_until = r[7] end
return status .. ' ' .. r[3] .. ' ' .. valid_until .. ' ' .. r[5] .. ' ' .. #r[2] .. ' '
       .. r[2] .. r[1]
"""

# KEYS: 1 sessions zset, 2 session-tokens hash, 3 basic-session, 4 the new token's key.
# ARGV: now, userid, stamp, kind, client, ttl, expires, new token id, new session id.
# Reply: describe() headed by the token id.
#
# Every Basic request outside the login endpoint asks for the basic session, so its
# usual case (alive, same stamp) comes first and is written out like _AUTHENTICATE,
# before the prelude: three reads, and a write only when a renewal is due. Anything else
# falls through to the full script. (A user:<userid> key a node of the previous release
# wrote meanwhile is adopted by the next login, listing or check of that token.)
_ISSUE_BASIC = """
local prefix = string.sub(KEYS[1], 1, $prefix_len)
if ARGV[4] == 'basic' then
  local session = redis.call('GET', KEYS[3])
  local id = session and redis.call('HGET', KEYS[2], session)
  local key = id and prefix .. 'token:' .. id
  local r = key and redis.call('HMGET', key, 'kind', 'stamp', 'created', 'deadline', 'ttl',
                                'expires', 'ended')
  if r and r[1] == 'basic' and r[2] == ARGV[3] and not r[7] then
    local now, deadline, ttl, expires = tonumber(ARGV[1]), tonumber(r[4]), tonumber(r[5]),
                                        tonumber(r[6])
    if now < deadline and now < expires then
      if now + ttl - deadline > math.max(ttl / 100, 1) then
        deadline = now + ttl
        r[4] = string.format('%.17g', deadline)
        redis.call('HSET', key, 'deadline', r[4])
        redis.call('PEXPIRE', key, math.ceil((math.min(deadline, expires) + ttl - now) * 1000))
      end
      local valid_until = r[4]
      if expires < deadline then valid_until = r[6] end
      return id .. ' ' .. r[3] .. ' ' .. valid_until .. ' ' .. session .. ' ' .. #r[2] .. ' '
             .. r[2] .. ARGV[2]
    end
  end
end
"""

_ISSUE = """
local userid, stamp, kind = ARGV[2], ARGV[3], ARGV[4]
adopt_legacy(userid)
local kept = {}
for _, t in ipairs(sessions_of(userid)) do
  if t.stamp ~= stamp then finish(t)  -- begun before a password change: over
  elseif not alive(t) then expire(t)
  else kept[#kept + 1] = t end
end
if kind == 'basic' then
  for _, t in ipairs(kept) do
    if t.kind == 'basic' then
      redis.call('SET', KEYS[3], t.session, 'PX', ms(t.expires - NOW + $grace))
      renew_idle(t)
      return describe(t.id, t)
    end
  end
end
if kind ~= 'service' then  -- the cap: the oldest login and basic sessions end
  local capped = {}
  for _, t in ipairs(kept) do
    if t.kind ~= 'service' then capped[#capped + 1] = t end
  end
  for i = 1, #capped - ($max_sessions - 1) do finish(capped[i]) end
end
local ttl, expires = tonumber(ARGV[6]), tonumber(ARGV[7])
local t = {id = ARGV[8], key = KEYS[4], userid = userid, stamp = stamp, created = NOW,
           deadline = NOW + ttl, session = ARGV[9], kind = kind, ttl = ttl, expires = expires}
redis.call('HSET', t.key, 'userid', userid, 'stamp', stamp, 'created', ARGV[1],
           'deadline', fmt(t.deadline), 'session', t.session, 'kind', kind,
           'client', ARGV[5], 'ttl', ARGV[6], 'expires', ARGV[7])
keep_record(t)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
local score = 1
if last[2] then score = tonumber(last[2]) + 1 end
redis.call('ZADD', KEYS[1], score, t.session)
redis.call('HSET', KEYS[2], t.session, t.id)
keep_user(userid, expires)
if kind == 'basic' then
  redis.call('SET', KEYS[3], t.session, 'PX', ms(expires - NOW + $grace))
end
return describe(t.id, t)
"""

# KEYS: 1 the presented token's key, 2 the new token's key. ARGV: now, new token id.
# The new token takes the session's place (same id, created, client, expiry); the old
# one ends in the same script. Reply: describe() headed by the new id; false if not live.
_RENEW = """
local old = load(string.sub(KEYS[1], $prefix_len + 7))
if not old or not alive(old) then return false end
local zkey, hkey = user_keys(old.userid)
if redis.call('HGET', hkey, old.session) ~= old.id then return false end
local t = {id = ARGV[2], key = KEYS[2], userid = old.userid, stamp = old.stamp,
           created = old.created, deadline = NOW + old.ttl, session = old.session,
           ttl = old.ttl, expires = old.expires}
redis.call('HSET', t.key, 'userid', t.userid, 'stamp', t.stamp, 'created', fmt(t.created),
           'deadline', fmt(t.deadline), 'session', t.session, 'kind', old.kind,
           'client', old.client, 'ttl', fmt(t.ttl), 'expires', fmt(t.expires))
keep_record(t)
redis.call('HSET', hkey, t.session, t.id)
finish(old)
return describe(t.id, t)
"""

# KEYS: 1 sessions zset, 2 session-tokens hash. ARGV: now, userid.
# Reply: per live session, oldest first, {session, kind, client, created, deadline,
# expires, ttl, stamp}. Writes only to upgrade or to drop entries Redis has expired.
_SESSIONS = """
adopt_legacy(ARGV[2])
local out = {}
for _, t in ipairs(sessions_of(ARGV[2])) do
  if alive(t) then
    out[#out + 1] = {t.session, t.kind, t.client, fmt(t.created), fmt(t.deadline),
                     fmt(t.expires), fmt(t.ttl), t.stamp}
  end
end
return out
"""

# KEYS: 1 sessions zset, 2 session-tokens hash. ARGV: now, userid, session id.
# Reply: 1 if the session was live, else 0 (ended all the same if it was listed).
_END = """
adopt_legacy(ARGV[2])
if not redis.call('ZSCORE', KEYS[1], ARGV[3]) then return 0 end
local id = redis.call('HGET', KEYS[2], ARGV[3])
local t = id and load(id)
if not t or t.session ~= ARGV[3] then
  redis.call('ZREM', KEYS[1], ARGV[3])
  redis.call('HDEL', KEYS[2], ARGV[3])
  return 0
end
local live = alive(t) and 1 or 0
finish(t)
return live
"""

# KEYS: 1 sessions zset, 2 session-tokens hash, 3 basic-session. ARGV: now, userid.
# Reply: how many of the sessions ended were live.
_REVOKE = """
adopt_legacy(ARGV[2])
local live = 0
for _, t in ipairs(sessions_of(ARGV[2])) do
  if alive(t) then live = live + 1 end
  finish(t)
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return live
"""

TEMPLATES = {
    "authenticate": _AUTHENTICATE.replace("$prelude", _PRELUDE),
    "issue": _ISSUE_BASIC + _PRELUDE + _ISSUE,
    "renew": _PRELUDE + _RENEW,
    "sessions": _PRELUDE + _SESSIONS,
    "end": _PRELUDE + _END,
    "revoke": _PRELUDE + _REVOKE,
}


def script_text(name: str, numbers: dict[str, str]) -> str:
    """The text of script ``name`` for a manager with these ``numbers`` (see above)."""
    return Template(TEMPLATES[name]).substitute(numbers)
