// The Lua of sessions shared by every replica (MemorySessionStore's semantics, src/core/session/):
// a hash per session, a sorted set of live sessions by expiry (the cluster-wide session cap), one
// per owner (tenant session caps, which also count the sessions admissions are creating). Turns
// held by admissions not yet committed are counted in the session's hash (`h_turns`, `h_tokens`),
// so concurrent admissions on any replica see them.

/**
 * Session hash fields: owner, created, ttl, max_turns, l_tokens / l_time_ms / l_cost (limits,
 * absent = none), expires, turns, u_tokens / u_time_ms / u_cost (used), a_pool / a_replica /
 * a_slot (affinity), warmth, h_turns / h_tokens (held), hr:<replica> / hk:<replica> (the part of
 * the held counts a gateway replica holds, when tagged), po:<owner> (an admission of that owner
 * is creating the session: it is in that owner's set, scored by the hold backstop, until the
 * session is created or its last hold goes). A hash with holds but no `created` is a session not
 * created yet. The key lives until expires + ttl: the tombstone window in which an
 * expired id answers SESSION_EXPIRED. Needs `now` (ms, Redis server time) and `num`.
 */
export const SESSION_LIB = `
-- A replica's held-sessions set outlives any hold's admission by far; refreshed on every hold.
local HELD_SET_TTL_MS = 86400000
local BUDGETS = { 'tokens', 'time_ms', 'cost' }
local function owner_set(live, owner) return live .. ':owner:' .. owner end

-- The owners whose admissions are creating k leave their sets (keep: the owner that stays).
local function drop_pending(k, live, keep)
  local fields = {}
  for _, f in ipairs(redis.call('HKEYS', k)) do
    if string.sub(f, 1, 3) == 'po:' then
      fields[#fields + 1] = f
      local owner = string.sub(f, 4)
      if owner ~= keep then redis.call('ZREM', owner_set(live, owner), k) end
    end
  end
  if #fields > 0 then redis.call('HDEL', k, unpack(fields)) end
end

-- An owner's sessions for its cap (ORCH-1213): live ones and those its admissions are creating,
-- k itself left out while it is only being created (a second turn of it is no new session); and
-- the ms until the soonest of them expires (-1: none). Expired members leave the set here.
local function owner_standing(owned, k, now)
  redis.call('ZREMRANGEBYSCORE', owned, '-inf', now)
  local count = redis.call('ZCARD', owned)
  if redis.call('HEXISTS', k, 'created') == 0 and redis.call('ZSCORE', owned, k) then count = count - 1 end
  local first = redis.call('ZRANGE', owned, 0, 0, 'WITHSCORES')
  if first[2] then return count, math.max(1, tonumber(first[2]) - now) end
  return count, -1
end

-- 'live' | 'expired' | 'unknown'; an expired session leaves the live sets.
local function session_lookup(k, live, now)
  local h = redis.call('HMGET', k, 'created', 'expires', 'owner')
  if not h[1] then return 'unknown' end
  if now < tonumber(h[2]) then return 'live' end
  redis.call('ZREM', live, k)
  if h[3] then redis.call('ZREM', owner_set(live, h[3]), k) end
  return 'expired'
end

-- Room for one more live session; else the soonest expiry frees one.
local function session_room(live, now, max_sessions)
  redis.call('ZREMRANGEBYSCORE', live, '-inf', now)
  if redis.call('ZCARD', live) < max_sessions then return true, nil end
  local first = redis.call('ZRANGE', live, 0, 0, 'WITHSCORES')
  return false, math.max(1, tonumber(first[2]) - now)
end

-- SessionStanding (src/core/session/session-record.ts), counting held turns.
local function session_standing(k, live, now, max_turns_default, max_sessions)
  local found = session_lookup(k, live, now)
  if found == 'expired' then return { kind = 'expired' } end
  local held_turns, held_tokens = num(redis.call('HGET', k, 'h_turns')), num(redis.call('HGET', k, 'h_tokens'))
  if found == 'unknown' then
    if held_turns >= max_turns_default then
      return { kind = 'live', exhausted = { budget = 'turns', used = held_turns, limit = max_turns_default }, tokens = { used = held_tokens } }
    end
    local room, retry = session_room(live, now, max_sessions)
    if held_turns > 0 or room then return { kind = 'new', room = true } end
    return { kind = 'new', room = false, limit = max_sessions, retryAfterMs = retry }
  end
  local h = redis.call('HGETALL', k)
  local r = {}
  for i = 1, #h, 2 do r[h[i]] = h[i + 1] end
  local turns, max_turns = num(r.turns) + held_turns, num(r.max_turns)
  local used = { tokens = num(r.u_tokens) + held_tokens, time_ms = num(r.u_time_ms), cost = num(r.u_cost) }
  local s = { kind = 'live', tokens = { used = used.tokens, limit = tonumber(r.l_tokens) } }
  if turns >= max_turns then
    s.exhausted = { budget = 'turns', used = turns, limit = max_turns }
  else
    for _, b in ipairs(BUDGETS) do
      local limit = tonumber(r['l_' .. b])
      if limit ~= nil and used[b] >= limit then
        s.exhausted = { budget = b, used = used[b], limit = limit }
        break
      end
    end
  end
  if r.a_pool then s.affinity = { pool_id = r.a_pool, replica_id = r.a_replica, slot_id = tonumber(r.a_slot) } end
  return s
end

-- The admission's verdict on a standing (core/admission/admit.ts checkSession), or nil to admit.
local function session_refusal(s, max_tokens)
  if s.kind == 'expired' then return { 'session', 'expired' } end
  if s.kind == 'new' then
    if s.room then return nil end
    return { 'session', 'no_room', s.limit, s.retryAfterMs or -1 }
  end
  if s.tokens.limit ~= nil and s.tokens.used + max_tokens > s.tokens.limit then
    return { 'session', 'tokens', tostring(s.tokens.limit), tostring(s.tokens.used) }
  end
  if s.exhausted then return { 'session', 'exhausted', s.exhausted.budget, tostring(s.exhausted.limit), tostring(s.exhausted.used) } end
  return nil
end

-- After holds changed: a hash holding only holds goes with its last one (else lives out the
-- backstop); a live session drops its hold counters at zero, every replica's tag with them.
local function hold_cleanup(k, turns, backstop_ms, live)
  if redis.call('HEXISTS', k, 'created') == 0 then
    if turns <= 0 then
      drop_pending(k, live, nil)
      redis.call('DEL', k)
    elseif backstop_ms then
      redis.call('PEXPIRE', k, backstop_ms)
    end
  elseif turns <= 0 then
    local fields = { 'h_turns', 'h_tokens' }
    for _, f in ipairs(redis.call('HKEYS', k)) do
      local tag = string.sub(f, 1, 3)
      if tag == 'hr:' or tag == 'hk:' or tag == 'ht:' then fields[#fields + 1] = f end
    end
    redis.call('HDEL', k, unpack(fields))
  end
end

-- Holds (+1) or gives back (-1) a turn. With a holder (the admitting gateway replica) the hold is
-- also counted under its tag (hr:<holder>, hk:<holder>) and the session is listed in the
-- holder's set (live .. ':held:' .. holder, StateKeys.heldSessions), so a survivor can give a
-- lost replica's holds back; a give-back by a holder with no tagged hold left (it was given back
-- by a takeover already) changes nothing. Returns 1 when applied, else 0.
local function session_hold(k, max_tokens, delta, backstop_ms, live, holder)
  local tagged = holder ~= nil and holder ~= ''
  if tagged and delta < 0 and num(redis.call('HGET', k, 'hr:' .. holder)) <= 0 then return 0 end
  local turns = redis.call('HINCRBY', k, 'h_turns', delta)
  redis.call('HINCRBYFLOAT', k, 'h_tokens', delta * max_tokens)
  if tagged then
    local held = live .. ':held:' .. holder
    local mine = redis.call('HINCRBY', k, 'hr:' .. holder, delta)
    redis.call('HINCRBYFLOAT', k, 'hk:' .. holder, delta * max_tokens)
    if mine <= 0 then
      redis.call('HDEL', k, 'hr:' .. holder, 'hk:' .. holder)
      redis.call('SREM', held, k)
    else
      redis.call('SADD', held, k)
      redis.call('PEXPIRE', held, HELD_SET_TTL_MS)
    end
  end
  hold_cleanup(k, turns, backstop_ms, live)
  return 1
end

-- A hold recorded under its task (ht:<task> = its max tokens; AdmitRequest.session.trackHold)
-- goes back once, by the first of confirm, release, the task's eviction or its withdrawal.
-- Returns 1 when this call gave it back, else 0 (gone already, or given back by a takeover).
local function session_untrack(k, task, live, holder, backstop_ms)
  local tokens = redis.call('HGET', k, 'ht:' .. task)
  if not tokens then return 0 end
  redis.call('HDEL', k, 'ht:' .. task)
  return session_hold(k, tonumber(tokens), -1, backstop_ms, live, holder)
end

-- Gives back every hold a lost replica still has (the takeover's step): per session in its set,
-- its tagged turns and tokens leave the session's held counts. Returns the turns given back.
local function session_give_back(held, holder, live)
  local given = 0
  for _, k in ipairs(redis.call('SMEMBERS', held)) do
    local v = redis.call('HMGET', k, 'hr:' .. holder, 'hk:' .. holder)
    local turns, tokens = num(v[1]), num(v[2])
    if turns > 0 then
      redis.call('HDEL', k, 'hr:' .. holder, 'hk:' .. holder)
      local left = redis.call('HINCRBY', k, 'h_turns', -turns)
      redis.call('HINCRBYFLOAT', k, 'h_tokens', -tokens)
      hold_cleanup(k, left, nil, live)
      given = given + turns
    end
  end
  redis.call('DEL', held)
  return given
end

local function session_refresh(k, live, now)
  local ttl = tonumber(redis.call('HGET', k, 'ttl'))
  local expires = now + ttl
  redis.call('HSET', k, 'expires', expires)
  redis.call('ZADD', live, expires, k)
  local owner = redis.call('HGET', k, 'owner')
  if owner then redis.call('ZADD', owner_set(live, owner), expires, k) end
  redis.call('PEXPIREAT', k, expires + ttl)
end

-- A new session record (keeps any holds already counted on the key).
local function session_insert(k, live, now, owner, ttl, max_turns, limits)
  redis.call('HSET', k, 'created', now, 'ttl', ttl, 'max_turns', max_turns, 'turns', 0, 'u_tokens', 0, 'u_time_ms', 0, 'u_cost', 0, 'warmth', 'cold')
  redis.call('HDEL', k, 'owner', 'l_tokens', 'l_time_ms', 'l_cost', 'a_pool', 'a_replica', 'a_slot')
  if owner ~= '' then redis.call('HSET', k, 'owner', owner) end
  -- Created: it counts for its owner as a live session now (session_refresh), for nobody else.
  drop_pending(k, live, owner)
  for _, b in ipairs(BUDGETS) do
    if limits[b] ~= nil then redis.call('HSET', k, 'l_' .. b, limits[b]) end
  end
  session_refresh(k, live, now)
end
`;

/**
 * One session operation per call (ARGV[1] names it), each atomic. KEYS[1]: the session,
 * KEYS[2]: the live set. Replies are documented per operation in session-store.ts.
 */
export const SESSION_OP = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function num(v) return tonumber(v) or 0 end
${SESSION_LIB}
local k, live, op = KEYS[1], KEYS[2], ARGV[1]
if op == 'standing' then
  return cjson.encode(session_standing(k, live, now, tonumber(ARGV[2]), tonumber(ARGV[3])))
elseif op == 'view' then
  local found = session_lookup(k, live, now)
  if found ~= 'live' then return { found } end
  return { 'live', now, redis.call('HGETALL', k) }
elseif op == 'create' then
  -- ARGV: owner, ttl, max_turns, limit tokens, time_ms, cost ('' = none), max sessions, then
  -- the owner's session caps in the quota's subject order (none without an owner). The caps
  -- come first, as POST /v1/sessions checks the quota before the store.
  if ARGV[2] ~= '' and #ARGV > 8 then
    local count, reset = owner_standing(owner_set(live, ARGV[2]), k, now)
    for i = 9, #ARGV do
      if count + 1 > tonumber(ARGV[i]) then return { 'owner_cap', i - 8, reset } end
    end
  end
  if session_lookup(k, live, now) == 'live' then return { 'conflict' } end
  local room, retry = session_room(live, now, tonumber(ARGV[8]))
  if not room then return { 'no_room', retry } end
  session_insert(k, live, now, ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), { tokens = tonumber(ARGV[5]), time_ms = tonumber(ARGV[6]), cost = tonumber(ARGV[7]) })
  return { 'live', now, redis.call('HGETALL', k) }
elseif op == 'hold' then
  -- ARGV: max tokens, +1 | -1, backstop ms, holder ('' = untagged), task ('' = an untracked hold).
  if ARGV[6] ~= nil and ARGV[6] ~= '' then return session_untrack(k, ARGV[6], live, ARGV[5], tonumber(ARGV[4])) end
  return session_hold(k, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), live, ARGV[5])
elseif op == 'give_back' then
  -- ARGV: the lost holder; KEYS[1] is its held set (StateKeys.heldSessions).
  return session_give_back(k, ARGV[2], live)
elseif op == 'confirm' then
  -- ARGV: max tokens, backstop ms, owner, ttl, max turns, max sessions, holder ('' = untagged),
  -- task ('' = an untracked hold). The hold becomes a turn; a tracked hold already given back
  -- (its task left the queue before this commit) counts no turn: 'removed'.
  if ARGV[9] ~= nil and ARGV[9] ~= '' then
    if session_untrack(k, ARGV[9], live, ARGV[8], tonumber(ARGV[3])) == 0 then return { 'removed' } end
  else
    session_hold(k, tonumber(ARGV[2]), -1, tonumber(ARGV[3]), live, ARGV[8])
  end
  local found = session_lookup(k, live, now)
  if found == 'expired' then return { 'expired' } end
  if found == 'unknown' then
    local room, retry = session_room(live, now, tonumber(ARGV[7]))
    if not room then return { 'no_room', retry } end
    session_insert(k, live, now, ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]), {})
  end
  local s = session_standing(k, live, now, tonumber(ARGV[6]), tonumber(ARGV[7]))
  if s.exhausted then return { 'exhausted', s.exhausted.budget, tostring(s.exhausted.used), tostring(s.exhausted.limit) } end
  redis.call('HINCRBY', k, 'turns', 1)
  session_refresh(k, live, now)
  if s.affinity then return { 'ok', cjson.encode(s.affinity) } end
  return { 'ok' }
elseif op == 'end_turn' then
  -- ARGV: tokens, time ms, cost, pool, replica, slot ('' = none), cached tokens.
  if session_lookup(k, live, now) ~= 'live' then return 0 end
  redis.call('HINCRBYFLOAT', k, 'u_tokens', ARGV[2])
  redis.call('HINCRBYFLOAT', k, 'u_time_ms', ARGV[3])
  redis.call('HINCRBYFLOAT', k, 'u_cost', ARGV[4])
  redis.call('HSET', k, 'a_pool', ARGV[5], 'a_replica', ARGV[6])
  if ARGV[7] ~= '' then redis.call('HSET', k, 'a_slot', ARGV[7]) else redis.call('HDEL', k, 'a_slot') end
  local warmth = 'warm'
  if num(ARGV[8]) > 0 then warmth = 'hot' end
  redis.call('HSET', k, 'warmth', warmth)
  session_refresh(k, live, now)
  return 1
elseif op == 'cancel_turn' then
  if session_lookup(k, live, now) ~= 'live' or num(redis.call('HGET', k, 'turns')) <= 0 then return 0 end
  redis.call('HINCRBY', k, 'turns', -1)
  return 1
elseif op == 'delete' then
  local was = session_lookup(k, live, now)
  local owner = redis.call('HGET', k, 'owner')
  redis.call('ZREM', live, k)
  if owner then redis.call('ZREM', owner_set(live, owner), k) end
  drop_pending(k, live, nil)
  redis.call('DEL', k)
  if was == 'live' then return 1 end
  return 0
elseif op == 'owned_by' then
  -- KEYS[1] here is the owner's set.
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
  local first = redis.call('ZRANGE', k, 0, 0, 'WITHSCORES')
  return { redis.call('ZCARD', k), first[2] or '' }
end
return redis.error_reply('unknown session op ' .. tostring(op))
`;
