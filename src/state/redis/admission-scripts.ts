// The Lua of one pool's shared admission (issue 15), each script one atomic step on Redis:
// ADMIT (idempotency check + quota check-and-reserve for every subject + bounded two-class queue
// offer in tenant lanes, a drop-lru victim set aside), RELEASE (slot back + quota settled) and WITHDRAW (a queued task
// leaves); CLAIM is in claim-lua.ts. Pool keys come first, always in PoolKeys order (POOL_KEYS).

import { SESSION_LIB } from './session-lua.ts';
import { TENANT_LANES } from './tenant-lanes-lua.ts';

/** KEYS[1..8] of every pool script. */
export const POOL_KEYS = ['interactive', 'batch', 'entries', 'arrivals', 'turns', 'capacity', 'busy', 'running'] as const;

// Shared helpers (queue-sweep.ts uses them too). Time is Redis server time: every replica counts
// the same minute window.
export const PRELUDE = `
local K_INTERACTIVE, K_BATCH, K_ENTRIES, K_ARRIVALS, K_TURNS, K_CAPACITY, K_BUSY, K_RUNNING = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
-- Drop-lru victims set aside by an admission until its commit settles them (id -> stash JSON).
local K_ASIDE = K_ENTRIES .. ':aside'
local QUOTA_TTL_MS = 3456000000
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function num(v) return tonumber(v) or 0 end
-- Adds delta to a hash field, never below 0 (as the in-memory counters do).
local function bump(key, field, delta)
  local v = num(redis.call('HGET', key, field)) + delta
  if v < 0 then v = 0 end
  redis.call('HSET', key, field, tostring(v))
end
-- The weighted-turns algorithm of src/core/queue/weighted-turns.ts, on a turns table.
local function next_turn(t, wi, wb, has_i, has_b)
  if not has_i and not has_b then return nil end
  if not has_b then return 'interactive' end
  if not has_i then return 'batch' end
  local cls = 'batch'
  if t.interactive + wi >= t.batch + wb then cls = 'interactive' end
  t.interactive = t.interactive + wi
  t.batch = t.batch + wb
  t[cls] = t[cls] - (wi + wb)
  return cls
end
local function read_turns()
  local v = redis.call('HMGET', K_TURNS, 'interactive', 'batch')
  return { interactive = num(v[1]), batch = num(v[2]) }
end
-- The registry record of an ended task: who ended it, readable for the retention window.
local function ended(k_owner, by, retention_ms)
  if redis.call('EXISTS', k_owner) == 0 then return end
  redis.call('HSET', k_owner, 'owner', by, 'state', 'ended')
  redis.call('PEXPIRE', k_owner, retention_ms)
end
local function queue_of(cls) if cls == 'interactive' then return K_INTERACTIVE end return K_BATCH end
${TENANT_LANES}
-- Gives back everything a reservation took; 'queued' too when the task never ran.
local function quota_release(r, was_queued, actual_tokens, actual_bt, actual_bc)
  for _, s in ipairs(r.subjects) do
    if num(redis.call('HGET', s.key, 'ws')) == r.ws then
      if actual_tokens == nil then
        bump(s.key, 'wr', -1)
        bump(s.key, 'wt', -r.tokens)
      else
        bump(s.key, 'wt', actual_tokens - r.tokens)
      end
    end
    bump(s.key, 'inflight', -1)
    if was_queued then bump(s.key, 'queued', -1) end
    if s.period ~= '' then
      bump(s.key, 'pt:' .. s.period, (actual_bt or 0) - r.bt)
      bump(s.key, 'pc:' .. s.period, (actual_bc or 0) - r.bc)
    end
  end
end
`;

/** ARGV[1..ADMIT_HEADER] of ADMIT; the subjects' 9 values each follow. */
export const ADMIT_HEADER = 24;

/**
 * ARGV: task id, priority, tenant ('' = none), admitting replica, max queued, policy, interactive
 * weight, batch weight, max tokens, budget tokens, budget cost, subject count, tenant weight,
 * wake channel, idempotency digest ('' = no client task_id), idempotency TTL ms, the task
 * registry record's TTL while the task lives (a backstop: the end sets retention), session
 * ('' = none, else '1'), sessions' default turn cap, max live sessions, hold backstop ms, the
 * registry key's head and tail around a task id and the retention ms (an evicted task's record
 * is marked ended, its tracked session hold given back); then per
 * subject: name, period start ('' = no budget), period end, requests/min, tokens/min, max
 * concurrent, max queued, budget tokens, budget cost (-1 = unlimited). KEYS[9..8+n] are the
 * subjects' hashes (after their ARGV: the pool id, '1' to track the session hold under the
 * task id, and last the engine preference as JSON or ''), KEYS[9+n] the task's registry record, then the idempotency record and the
 * admitting replica's set of unanswered records (with a digest), then the session and the
 * live-sessions set (with a session; the turn is held under the admitting replica's tag), then
 * the session owner's set (with a session and an owner). After the pool id and the tracking flag:
 * the session's owner ('' = none) and each subject's max_sessions (-1 = unlimited), in order.
 * Returns {'queued', position, evicted id or '', session affinity JSON or ''} | {'replay', answer JSON} | {'conflict'}
 * | {'session', 'expired' | 'no_room' | 'tokens' | 'exhausted', ...details (session_refusal)}
 * | {'in_flight'} | {'refused', subject index, limit, max, reset ms}
 * | {'too_large', subject index, limit, max} | {'queue_full'} | {'duplicate'}.
 */
export const ADMIT = `${PRELUDE}${SESSION_LIB}
local id, priority, tenant, by = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local max_queued, policy, wi, wb = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8])
local max_tokens, ask_bt, ask_bc, n = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12])
local tenant_weight, wake, digest, idem_ttl, owner_ttl = tonumber(ARGV[13]), ARGV[14], ARGV[15], tonumber(ARGV[16]), tonumber(ARGV[17])
local K_OWNER = KEYS[9 + n]
local has_session, default_turns, max_sessions, hold_backstop = ARGV[18] ~= '', tonumber(ARGV[19]), tonumber(ARGV[20]), tonumber(ARGV[21])
local owner_head, owner_tail, retention_ms = ARGV[22], ARGV[23], ARGV[24]
local K_SESSION, K_LIVE, K_OWNED = nil, nil, nil
local session_owner = ARGV[27 + n * 9]
if has_session then
  local at = 10 + n
  if digest ~= '' then at = at + 2 end
  K_SESSION, K_LIVE = KEYS[at], KEYS[at + 1]
  if session_owner ~= '' then K_OWNED = KEYS[at + 2] end
end
-- 0. The client's task_id (src/core/admission/idempotency.ts): same body → the first answer,
-- another body → conflict; a first admission not yet answered is in flight.
local K_IDEM, K_UNANSWERED = KEYS[10 + n], KEYS[11 + n]
if digest ~= '' then
  local rec = redis.call('HMGET', K_IDEM, 'd', 'a')
  if rec[1] then
    if rec[1] ~= digest then return {'conflict'} end
    if rec[2] then return {'replay', rec[2]} end
    return {'in_flight'}
  end
end
if redis.call('HEXISTS', K_ENTRIES, id) == 1 or redis.call('HEXISTS', K_RUNNING, id) == 1 or redis.call('HEXISTS', K_ASIDE, id) == 1 then return {'duplicate'} end
local now = now_ms()
-- 0b. The session (core/admission/admit.ts checkSession): expiry, the session cap, the token
-- budget, the used-up limits, all counting turns other admissions hold right now.
local affinity = ''
-- A new session counts against its owner's max_sessions from this admission on (owned: the
-- owner's other sessions, live or being created; nil when the turn opens no session).
local owned, owned_reset = nil, -1
if has_session then
  local standing = session_standing(K_SESSION, K_LIVE, now, default_turns, max_sessions)
  local refusal = session_refusal(standing, max_tokens)
  if refusal then return refusal end
  if standing.affinity then affinity = cjson.encode(standing.affinity) end
  if standing.kind == 'new' and K_OWNED then owned, owned_reset = owner_standing(K_OWNED, K_SESSION, now) end
end
local ws = math.floor(now / 60000) * 60000
-- 1. Every subject's limits, in order; the first crossed limit refuses (src/core/tenancy/quota.ts).
local subjects = {}
for i = 1, n do
  local a = 24 + (i - 1) * 9
  local key = KEYS[8 + i]
  local s = { key = key, name = ARGV[a + 1], period = ARGV[a + 2], period_end = num(ARGV[a + 3]) }
  local rpm, tpm, conc, queued_max, b_tokens, b_cost = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5]), tonumber(ARGV[a + 6]), tonumber(ARGV[a + 7]), tonumber(ARGV[a + 8]), tonumber(ARGV[a + 9])
  local h = redis.call('HMGET', key, 'ws', 'wr', 'wt', 'inflight', 'queued')
  local wr, wt = 0, 0
  if num(h[1]) == ws then wr, wt = num(h[2]), num(h[3]) end
  local reset = ws + 60000 - now
  if rpm >= 0 and wr + 1 > rpm then return {'refused', i, 'requests_per_min', rpm, reset} end
  if tpm >= 0 then
    if max_tokens > tpm then return {'too_large', i, 'tokens_per_min', tpm} end
    if wt + max_tokens > tpm then return {'refused', i, 'tokens_per_min', tpm, reset} end
  end
  if conc >= 0 and num(h[4]) + 1 > conc then return {'refused', i, 'max_concurrent_tasks', conc, -1} end
  if queued_max >= 0 and num(h[5]) + 1 > queued_max then return {'refused', i, 'max_queued_tasks', queued_max, -1} end
  local sessions_max = tonumber(ARGV[27 + n * 9 + i])
  if owned and sessions_max >= 0 and owned + 1 > sessions_max then return {'refused', i, 'max_sessions', sessions_max, owned_reset} end
  if s.period ~= '' then
    local p = redis.call('HMGET', key, 'pt:' .. s.period, 'pc:' .. s.period)
    if b_tokens >= 0 then
      if ask_bt > b_tokens then return {'too_large', i, 'budget.tokens', b_tokens} end
      if num(p[1]) + ask_bt > b_tokens then return {'refused', i, 'budget.tokens', b_tokens, s.period_end - now} end
    end
    if b_cost >= 0 and num(p[2]) + ask_bc > b_cost then return {'refused', i, 'budget.cost', tostring(b_cost), s.period_end - now} end
  end
  subjects[i] = s
end
-- 2. The queue's room (reject, or drop-lru: from batch, else from interactive for an interactive
-- newcomer, the oldest entry of the tenant with the most queued in that class).
local evicted = ''
local size = redis.call('ZCARD', K_INTERACTIVE) + redis.call('ZCARD', K_BATCH)
if max_queued == 0 then return {'queue_full'} end
if size >= max_queued then
  if policy ~= 'drop-lru' then return {'queue_full'} end
  local victim_cls = 'batch'
  if redis.call('ZCARD', K_BATCH) == 0 then
    if priority ~= 'interactive' then return {'queue_full'} end
    victim_cls = 'interactive'
  end
  local victim, victim_tenant = lane_victim(victim_cls)
  if victim == nil then return {'queue_full'} end
  -- Set aside, not evicted (ORCH-0115): out of the queue so the newcomer fits, its entry and lane
  -- place stashed with its reservation, session hold and registry record untouched, until this
  -- admitter's SETTLE_ASIDE after the commit (set-aside-lua.ts) evicts it or puts it back.
  local v_score = redis.call('ZSCORE', queue_of(victim_cls), victim)
  local v_json = redis.call('HGET', K_ENTRIES, victim)
  lane_unlink(victim_cls, victim_tenant, victim)
  redis.call('HDEL', K_ENTRIES, victim)
  redis.call('HSET', K_ASIDE, victim, cjson.encode({ e = v_json, s = v_score, by = by }))
  evicted = victim
end
-- 3. Reserve on every subject (window, in flight, queued, budget period).
local r = { subjects = {}, ws = ws, tokens = max_tokens, bt = ask_bt, bc = ask_bc }
for i, s in ipairs(subjects) do
  if num(redis.call('HGET', s.key, 'ws')) ~= ws then redis.call('HSET', s.key, 'ws', ws, 'wr', 0, 'wt', 0) end
  bump(s.key, 'wr', 1)
  bump(s.key, 'wt', max_tokens)
  bump(s.key, 'inflight', 1)
  bump(s.key, 'queued', 1)
  if s.period ~= '' then
    bump(s.key, 'pt:' .. s.period, ask_bt)
    bump(s.key, 'pc:' .. s.period, ask_bc)
  end
  redis.call('PEXPIRE', s.key, QUOTA_TTL_MS)
  r.subjects[i] = { key = s.key, period = s.period }
end
-- 4. Enqueue in the tenant's lane, hold the task_id, and tell the replicas a task waits.
local score = redis.call('INCR', K_ARRIVALS)
redis.call('HSET', K_WEIGHTS, tenant, tenant_weight)
local entry = { p = priority, t = tenant, by = by, r = r }
-- The task's engine preference (core/placement/claim-preference.ts), always the last ARGV: the
-- claim that takes the task picks its engine replica by it, and may hold it (a hard pin or avoid).
if ARGV[#ARGV] ~= '' then entry.pl = cjson.decode(ARGV[#ARGV]) end
lane_push(priority, tenant, id, score, entry.pl ~= nil and (entry.pl.o ~= nil or entry.pl.x ~= nil))
-- A tracked hold: the session's names, so an eviction or withdrawal gives the hold back.
if has_session and ARGV[26 + n * 9] == '1' then entry.s, entry.sl = K_SESSION, K_LIVE end
redis.call('HSET', K_ENTRIES, id, cjson.encode(entry))
if digest ~= '' then
  -- Unanswered until remember: listed under the admitting replica, so a takeover finds it.
  redis.call('HSET', K_IDEM, 'd', digest, 'by', by, 't', id, 'p', ARGV[25 + n * 9])
  redis.call('PEXPIRE', K_IDEM, idem_ttl)
  redis.call('SADD', K_UNANSWERED, K_IDEM)
  redis.call('PEXPIRE', K_UNANSWERED, idem_ttl)
end
-- The registry: the admitting replica answers for the task until a replica claims it.
redis.call('HSET', K_OWNER, 'owner', by, 'pool', ARGV[25 + n * 9], 'state', 'queued')
if has_session then
  session_hold(K_SESSION, max_tokens, 1, hold_backstop, K_LIVE, by)
  if entry.s then redis.call('HSET', K_SESSION, 'ht:' .. id, max_tokens) end
  -- Listed for its owner until created (then scored by its expiry) or its last hold goes.
  if owned then
    redis.call('HSET', K_SESSION, 'po:' .. session_owner, '1')
    redis.call('ZADD', K_OWNED, now + hold_backstop, K_SESSION)
  end
end
redis.call('PEXPIRE', K_OWNER, owner_ttl)
-- '' when the admitter's own claim follows in its pipeline: ANNOUNCE_QUEUED after it tells the
-- others only what that claim left queued (else every replica runs a claim that finds nothing
-- while the admitter waits for its reply).
if wake ~= '' then redis.call('PUBLISH', wake, 'queued') end
-- 5. The position in the predicted dispatch order (exact below the cap, else an estimate).
local position = queue_position(priority, tenant, redis.call('ZCARD', lane_key(priority, tenant)), wi, wb)
return {'queued', position, evicted, affinity}
`;

/**
 * After an admission and its admitter's claim in one pipeline: wakes the other replicas when the
 * pool's queue still holds work (what the claim did not take). KEYS: the two class queues;
 * ARGV: the wake channel.
 */
export const ANNOUNCE_QUEUED = `
if redis.call('ZCARD', KEYS[1]) + redis.call('ZCARD', KEYS[2]) > 0 then redis.call('PUBLISH', ARGV[1], 'queued') end
return 0
`;

/**
 * ARGV: task id, actual tokens, actual budget tokens, actual budget cost ('' for all three: charge
 * what was reserved, for a task whose replica was lost), wake channel, the replica that ended it,
 * retention ms. KEYS[9]: the task's registry record. Returns 1, or 0 when not running.
 */
export const RELEASE = `${PRELUDE}
local json = redis.call('HGET', K_RUNNING, ARGV[1])
if not json then return 0 end
local entry = cjson.decode(json)
redis.call('HDEL', K_RUNNING, ARGV[1])
bump(K_BUSY, entry.e, -1)
if ARGV[2] == '' then
  quota_release(entry.r, false, entry.r.tokens, entry.r.bt, entry.r.bc)
else
  quota_release(entry.r, false, tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]))
end
redis.call('PUBLISH', ARGV[5], 'slot')
ended(KEYS[9], ARGV[6], ARGV[7])
return 1
`;

/**
 * ARGV: task id, the replica that ended it, retention ms; KEYS[9]: its registry record. A queued
 * task leaves (canceled, orphaned, deadline), or a drop-lru victim set aside: everything it
 * reserved is given back, its session hold too when tracked and not yet confirmed or released.
 * Returns 1, or 0 when neither queued nor set aside.
 */
export const WITHDRAW = `${PRELUDE}${SESSION_LIB}
local json = redis.call('HGET', K_ENTRIES, ARGV[1])
-- A drop-lru victim set aside (in no lane) leaves the same way: its admitter's settle then finds nothing.
local aside = not json and redis.call('HGET', K_ASIDE, ARGV[1])
if aside then json = cjson.decode(aside).e end
if not json then return 0 end
local entry = cjson.decode(json)
if entry.s then session_untrack(entry.s, ARGV[1], entry.sl, entry.by, nil) end
if aside then
  redis.call('HDEL', K_ASIDE, ARGV[1])
else
  lane_unlink(entry.p, entry.t, ARGV[1])
  redis.call('HDEL', K_ENTRIES, ARGV[1])
  if redis.call('ZCARD', K_INTERACTIVE) + redis.call('ZCARD', K_BATCH) == 0 then redis.call('DEL', K_TURNS) end
end
quota_release(entry.r, true)
ended(KEYS[9], ARGV[2], ARGV[3])
return 1
`;
