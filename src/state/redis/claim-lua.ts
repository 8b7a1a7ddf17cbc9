// The Lua of the claim (issue 15): the next task by the fair order (class, then tenant lane,
// then the lane's oldest) that may run on one of the claimer's engine replicas with a slot free
// cluster-wide, one slot counted there. A task the client holds to replicas with no free slot
// (a pin or `avoid` without allow_fallback) stays queued and the claim looks further, boundedly.

import { PRELUDE } from './admission-scripts.ts';

/**
 * Queued entries one claim examines at most, the one it takes included. Beyond it the claim
 * answers `waiting`: work behind that many held entries (in the order the claim visits them)
 * waits until some of them run or leave, as memory's queue waits behind a busy pinned head.
 */
export const CLAIM_SCAN_CAP = 32;

/**
 * ARGV: claiming gateway replica, interactive weight, batch weight, the registry key's head and
 * tail around the task id (the claimed task's record is found by name: same slot as its events),
 * candidate engine replicas in the claimer's placement order. A candidate is free when its busy
 * count is below its capacity. An entry's engine (its `pl`, core/placement/claim-preference.ts):
 * with `o` (a hard pin) that replica if free, else none; otherwise the first of its preferred
 * replicas (`p`) that is free, else the first free candidate it does not avoid (`a`), else, unless
 * its avoid is hard (`x`), the first free candidate. An entry without an engine now stays
 * queued: the class and tenant round robins run as if it were not there (a lane with no task
 * that can run sits the pick out as an idle tenant, its running weight kept; a class with none
 * as an empty class), so the order of the others is the fair queue's without the held ones.
 * Only lanes holding hard entries (counted per tenant, tenant-lanes-lua.ts) are scanned.
 * An entry hard-pinned to a replica with no capacity at all is runnable in that order too, and
 * answered `unplaceable` for the claimer to end (it takes no slot and stays queued until then).
 * Returns {task id, engine replica, entry JSON} | {'empty'} | {'no_slot'} | {'waiting'} (queued
 * work, none of it runnable on these candidates within CLAIM_SCAN_CAP entries) | {'unplaceable', task id}.
 */
export const CLAIM = `${PRELUDE}
local SCAN_CAP = ${CLAIM_SCAN_CAP}
local has_i = redis.call('ZCARD', K_INTERACTIVE) > 0
local has_b = redis.call('ZCARD', K_BATCH) > 0
if not has_i and not has_b then return {'empty'} end
local free, first = {}, nil
for i = 6, #ARGV do
  local cap = num(redis.call('HGET', K_CAPACITY, ARGV[i]))
  if num(redis.call('HGET', K_BUSY, ARGV[i])) < cap then
    free[ARGV[i]] = true
    first = first or ARGV[i]
  end
end
if first == nil then return {'no_slot'} end

local function engine_for(pl)
  if not pl then return first end
  if pl.o then
    if free[pl.o] then return pl.o end
    return nil
  end
  for _, e in ipairs(pl.p or {}) do
    if free[e] then return e end
  end
  local avoided = {}
  for _, e in ipairs(pl.a or {}) do avoided[e] = true end
  for i = 6, #ARGV do
    if free[ARGV[i]] and not avoided[ARGV[i]] then return ARGV[i] end
  end
  if pl.x then return nil end
  return first
end

-- A hard pin on an engine replica with no capacity (unready, drained, gone from the pool) never
-- runs while that lasts: the claim hands its entry to the claimer to end with REPLICA_EXHAUSTED,
-- as memory's dispatcher ends it at the queue's head (the pool serves: this claimer has a slot).
local function unusable(pl)
  return pl ~= nil and pl.o ~= nil and num(redis.call('HGET', K_CAPACITY, pl.o)) <= 0
end

local examined = 0
-- The oldest task of a lane holding held ones that can run now, within the claim's scan budget.
local function first_runnable(lane)
  local at = 0
  while examined < SCAN_CAP do
    local id = redis.call('ZRANGE', lane, at, at)[1]
    if id == nil then return nil end
    examined = examined + 1
    local pl = cjson.decode(redis.call('HGET', K_ENTRIES, id)).pl
    if engine_for(pl) or unusable(pl) then return id end
    at = at + 1
  end
  return nil
end

-- Each class's runnable lanes, looked up at most once.
local runnable = {}
local function lanes_of(cls)
  if runnable[cls] == nil then runnable[cls] = runnable_lanes(cls, first_runnable) end
  return runnable[cls]
end
local function open(cls, queued)
  return queued and (has_free_lane(cls) or #lanes_of(cls) > 0)
end

local turns = read_turns()
local cls = next_turn(turns, tonumber(ARGV[2]), tonumber(ARGV[3]), open('interactive', has_i), open('batch', has_b))
if cls == nil then return {'waiting'} end
local id, tenant = lane_take(cls, lanes_of(cls))
local entry = cjson.decode(redis.call('HGET', K_ENTRIES, id))
local engine = engine_for(entry.pl)
if engine == nil then
  -- Unusable (a runnable lane hands out only those or runnable ones): its pick counts, as
  -- memory's take; the claimer withdraws and ends it, so it stays queued until then.
  redis.call('HSET', K_TURNS, 'interactive', turns.interactive, 'batch', turns.batch)
  return {'unplaceable', id}
end
lane_unlink(cls, tenant, id)
redis.call('HDEL', K_ENTRIES, id)
redis.call('HINCRBY', K_BUSY, engine, 1)
-- Each busy period starts the round robin afresh (as FairQueue does).
if redis.call('ZCARD', K_INTERACTIVE) + redis.call('ZCARD', K_BATCH) == 0 then
  redis.call('DEL', K_TURNS)
else
  redis.call('HSET', K_TURNS, 'interactive', turns.interactive, 'batch', turns.batch)
end
for _, s in ipairs(entry.r.subjects) do bump(s.key, 'queued', -1) end
entry.gw = ARGV[1]
entry.e = engine
local json = cjson.encode(entry)
redis.call('HSET', K_RUNNING, id, json)
-- The claimer runs the engine stream now: cancel and control go to it.
local k_owner = ARGV[4] .. id .. ARGV[5]
if redis.call('EXISTS', k_owner) == 1 then redis.call('HSET', k_owner, 'owner', ARGV[1], 'state', 'running') end
return {id, engine, json}
`;
