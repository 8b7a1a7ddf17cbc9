// The Lua of tenant lanes within one queue class (src/core/queue/tenant-lanes.ts, issue 12), for
// the pool scripts: a FIFO per tenant with work, smooth weighted round robin among those lanes by
// tenant weight, an idle tenant's running weight frozen until it returns, all of it forgotten
// when the class runs empty. Appended to the pool scripts' prelude (needs queue_of and num).

/**
 * Keys derived from the class's queue key, so they share the pool's hash tag: `<queue>:lanes`
 * (sorted set: tenants with work, in the order their lanes formed), `<queue>:current` and
 * `<queue>:idle` (hashes: running weights), `<queue>:lane:<tenant>` (sorted set: the lane's task
 * ids by arrival), and `<turns>:weights` (hash tenant → weight, written by admissions).
 */
export const TENANT_LANES = `
local K_WEIGHTS = K_TURNS .. ':weights'
local function lanes_key(cls) return queue_of(cls) .. ':lanes' end
local function current_key(cls) return queue_of(cls) .. ':current' end
local function idle_key(cls) return queue_of(cls) .. ':idle' end
local function lane_key(cls, tenant) return queue_of(cls) .. ':lane:' .. tenant end
local function weight_of(tenant) return tonumber(redis.call('HGET', K_WEIGHTS, tenant)) or 1 end

-- A lane forms at the end of the order (its score is the arrival that formed it) with the
-- running weight its tenant left with in this busy period.
local function lane_push(cls, tenant, id, score)
  if not redis.call('ZSCORE', lanes_key(cls), tenant) then
    redis.call('ZADD', lanes_key(cls), score, tenant)
    redis.call('HSET', current_key(cls), tenant, redis.call('HGET', idle_key(cls), tenant) or 0)
    redis.call('HDEL', idle_key(cls), tenant)
  end
  redis.call('ZADD', lane_key(cls, tenant), score, id)
  redis.call('ZADD', queue_of(cls), score, id)
end

local function lane_unlink(cls, tenant, id)
  redis.call('ZREM', queue_of(cls), id)
  redis.call('ZREM', lane_key(cls, tenant), id)
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

-- The next task of the class by tenant turn; advances and stores the running weights.
local function lane_take(cls)
  local lanes = load_lanes(cls)
  local lane = lanes[1]
  if #lanes > 1 then
    lane = lanes[pick_among(lanes)]
    for _, l in ipairs(lanes) do redis.call('HSET', current_key(cls), l.tenant, l.current) end
  end
  return redis.call('ZRANGE', lane_key(cls, lane.tenant), 0, 0)[1], lane.tenant
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

-- A replay of the class's picks over what is queued now (the predicted dispatch order).
local function lane_replay(cls)
  local lanes = load_lanes(cls)
  for _, l in ipairs(lanes) do
    l.ids = redis.call('ZRANGE', lane_key(cls, l.tenant), 0, -1)
    l.at = 1
  end
  return lanes
end
local function replay_next(lanes)
  local i = 1
  if #lanes > 1 then i = pick_among(lanes) end
  local l = lanes[i]
  local id = l.ids[l.at]
  l.at = l.at + 1
  if l.at > #l.ids then table.remove(lanes, i) end
  return id
end
`;
