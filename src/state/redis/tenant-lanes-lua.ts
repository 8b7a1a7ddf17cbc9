// The Lua of tenant lanes within one queue class (src/core/queue/tenant-lanes.ts, issue 12), for
// the pool scripts: a FIFO per tenant with work, smooth weighted round robin among those lanes by
// tenant weight, an idle tenant's running weight frozen until it returns, all of it forgotten
// when the class runs empty. Appended to the pool scripts' prelude (needs queue_of, num,
// next_turn and read_turns).

import { EXACT_POSITION_CAP } from '../../core/queue/queue-position.ts';

/**
 * Keys derived from the class's queue key, so they share the pool's hash tag: `<queue>:lanes`
 * (sorted set: tenants with work, in the order their lanes formed), `<queue>:current` and
 * `<queue>:idle` (hashes: running weights), `<queue>:lane:<tenant>` (sorted set: the lane's task
 * ids by arrival), `<queue>:held` (hash tenant → how many of its lane's tasks the client holds
 * to replicas, a pin or avoid without allow_fallback) with `<queue>:held:ids` (set of those ids),
 * and `<turns>:weights` (hash tenant → weight, written by admissions).
 */
export const TENANT_LANES = `
local POSITION_CAP = ${EXACT_POSITION_CAP}
local K_WEIGHTS = K_TURNS .. ':weights'
local function lanes_key(cls) return queue_of(cls) .. ':lanes' end
local function current_key(cls) return queue_of(cls) .. ':current' end
local function idle_key(cls) return queue_of(cls) .. ':idle' end
local function lane_key(cls, tenant) return queue_of(cls) .. ':lane:' .. tenant end
local function weight_of(tenant) return tonumber(redis.call('HGET', K_WEIGHTS, tenant)) or 1 end
local function held_key(cls) return queue_of(cls) .. ':held' end
local function held_ids_key(cls) return queue_of(cls) .. ':held:ids' end

-- A lane forms at the end of the order (its score is the arrival that formed it) with the
-- running weight its tenant left with in this busy period.
-- formed: the lane's place in that order when it forms (default score; a victim put back at its
-- lane's head keeps its old score but forms a lane at the end, as FairQueue.restore does).
local function lane_push(cls, tenant, id, score, held, formed)
  if held then
    redis.call('SADD', held_ids_key(cls), id)
    redis.call('HINCRBY', held_key(cls), tenant, 1)
  end
  if not redis.call('ZSCORE', lanes_key(cls), tenant) then
    redis.call('ZADD', lanes_key(cls), formed or score, tenant)
    redis.call('HSET', current_key(cls), tenant, redis.call('HGET', idle_key(cls), tenant) or 0)
    redis.call('HDEL', idle_key(cls), tenant)
  end
  redis.call('ZADD', lane_key(cls, tenant), score, id)
  redis.call('ZADD', queue_of(cls), score, id)
end

local function lane_unlink(cls, tenant, id)
  redis.call('ZREM', queue_of(cls), id)
  redis.call('ZREM', lane_key(cls, tenant), id)
  if redis.call('SREM', held_ids_key(cls), id) == 1 and redis.call('HINCRBY', held_key(cls), tenant, -1) <= 0 then
    redis.call('HDEL', held_key(cls), tenant)
  end
  if redis.call('EXISTS', lane_key(cls, tenant)) == 1 then return end
  local current = redis.call('HGET', current_key(cls), tenant) or 0
  redis.call('ZREM', lanes_key(cls), tenant)
  redis.call('HDEL', current_key(cls), tenant)
  -- A tenant just served leaves owing its turn; rejoining must not wipe that debt.
  if redis.call('ZCARD', lanes_key(cls)) > 0 then redis.call('HSET', idle_key(cls), tenant, current)
  else redis.call('DEL', idle_key(cls)) end
end

local function load_lanes(cls)
  local lanes = {}
  for i, tenant in ipairs(redis.call('ZRANGE', lanes_key(cls), 0, -1)) do
    lanes[i] = { tenant = tenant, current = num(redis.call('HGET', current_key(cls), tenant)), w = weight_of(tenant) }
  end
  return lanes
end

-- Smooth weighted round robin over two or more lanes: each gains its weight, the highest (the
-- earliest on a tie) wins and pays the total. Returns the winner's index.
local function pick_among(lanes)
  local best, best_score, total = nil, 0, 0
  for i, lane in ipairs(lanes) do
    total = total + lane.w
    lane.current = lane.current + lane.w
    if best == nil or lane.current > best_score then best, best_score = i, lane.current end
  end
  lanes[best].current = lanes[best].current - total
  return best
end

-- The class's lanes that have a task the claim may take now: every lane none of whose tasks
-- are held (its oldest, read once it wins), and each lane holding some whose first_runnable(lane)
-- names one (kept as its id). Lanes without one are left out, as idle tenants (running weights kept).
local function runnable_lanes(cls, first_runnable)
  local held = {}
  local flat = redis.call('HGETALL', held_key(cls))
  for i = 1, #flat, 2 do held[flat[i]] = true end
  local out = {}
  for _, lane in ipairs(load_lanes(cls)) do
    if held[lane.tenant] then lane.id = first_runnable(lane_key(cls, lane.tenant)) end
    if lane.id or not held[lane.tenant] then out[#out + 1] = lane end
  end
  return out
end

-- Whether the class may have a runnable task without looking at any: a lane holds none held.
local function has_free_lane(cls)
  return redis.call('ZCARD', lanes_key(cls)) > redis.call('HLEN', held_key(cls))
end

-- The next task among runnable lanes by tenant turn; advances and stores their running weights.
local function lane_take(cls, lanes)
  local lane = lanes[1]
  if #lanes > 1 then
    lane = lanes[pick_among(lanes)]
    for _, l in ipairs(lanes) do redis.call('HSET', current_key(cls), l.tenant, l.current) end
  end
  return lane.id or redis.call('ZRANGE', lane_key(cls, lane.tenant), 0, 0)[1], lane.tenant
end

-- The drop-lru victim: the oldest task of the tenant with the most queued (earlier lane on ties).
local function lane_victim(cls)
  local most, most_size = nil, 0
  for _, tenant in ipairs(redis.call('ZRANGE', lanes_key(cls), 0, -1)) do
    local size = redis.call('ZCARD', lane_key(cls, tenant))
    if size > most_size then most, most_size = tenant, size end
  end
  if most == nil then return nil end
  return redis.call('ZRANGE', lane_key(cls, most), 0, 0)[1], most
end

-- The class's lanes as counts (the replay needs no task ids: lanes are FIFO).
local function lane_counts(cls)
  local lanes = load_lanes(cls)
  for _, l in ipairs(lanes) do
    l.left = redis.call('ZCARD', lane_key(cls, l.tenant))
    l.taken = 0
  end
  return lanes
end

-- The 0-based queue position of the k-th task of tenant's lane in class cls, as FairQueue's
-- position (src/core/queue/fair-queue.ts): exact below POSITION_CAP by a replay of both round
-- robins of at most that many picks, O(cap x tenants) whatever the queue's length; else the
-- estimate of src/core/queue/queue-position.ts (same arithmetic), never below the cap.
local function queue_position(cls, tenant, k, wi, wb)
  local lanes = { interactive = lane_counts('interactive'), batch = lane_counts('batch') }
  -- Its own lane's k - 1 tasks go first: at k - 1 >= cap the replay cannot end below it.
  if k - 1 < POSITION_CAP then
    local turns = read_turns()
    for picks = 0, POSITION_CAP - 1 do
      local c = next_turn(turns, wi, wb, #lanes.interactive > 0, #lanes.batch > 0)
      local ls = lanes[c]
      local i = 1
      if #ls > 1 then i = pick_among(ls) end
      local l = ls[i]
      l.taken = l.taken + 1
      if c == cls and l.tenant == tenant and l.taken == k then return picks end
      if l.taken == l.left then table.remove(ls, i) end
    end
  end
  local wt = weight_of(tenant)
  local in_class = k - 1
  for _, l in ipairs(lane_counts(cls)) do
    if l.tenant ~= tenant then in_class = in_class + math.min(l.left, math.floor(((2 * k - 1) * l.w) / (2 * wt))) end
  end
  local own, other, other_cls = wi, wb, 'batch'
  if cls == 'batch' then own, other, other_cls = wb, wi, 'interactive' end
  local other_ahead = math.min(redis.call('ZCARD', queue_of(other_cls)), math.floor(((2 * in_class + 1) * other) / (2 * own)))
  return math.max(POSITION_CAP, in_class + other_ahead)
end
`;
