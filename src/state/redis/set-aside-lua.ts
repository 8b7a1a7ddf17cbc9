// The Lua that settles a drop-lru victim the admit script set aside (ORCH-0115, as memory's
// TaskService.settleVictim / FairQueue.restore): after the newcomer's commit it is evicted, or put
// back at the head of its tenant's lane with everything it held, in one atomic step.

import { PRELUDE } from './admission-scripts.ts';
import { SESSION_LIB } from './session-lua.ts';

/**
 * KEYS: the pool keys, then the victim's registry record. ARGV: victim id, mode (`restore`: the
 * newcomer was refused at its commit, so it goes back whatever the queue holds; `settle`: evicted
 * unless the queue has room again), max queued, the replica that settles it, retention ms, wake
 * channel. Returns 'restored' | 'evicted' | 'gone' (not set aside: settled before, or it left by
 * a withdrawal — a cancel, deadline or drain — which ended it).
 */
export const SETTLE_ASIDE = `${PRELUDE}${SESSION_LIB}
local id, mode, max_queued, by, retention_ms = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5]
local json = redis.call('HGET', K_ASIDE, id)
if not json then return 'gone' end
redis.call('HDEL', K_ASIDE, id)
local aside = cjson.decode(json)
local entry = cjson.decode(aside.e)
if mode == 'restore' or redis.call('ZCARD', K_INTERACTIVE) + redis.call('ZCARD', K_BATCH) < max_queued then
  -- Its old arrival score is below every task of its lane (it was the lane's oldest and only
  -- later arrivals joined since), so it heads its lane again; a lane that emptied meanwhile forms
  -- anew at the end of the lane order.
  local formed = nil
  if not redis.call('ZSCORE', queue_of(entry.p) .. ':lanes', entry.t) then formed = redis.call('INCR', K_ARRIVALS) end
  lane_push(entry.p, entry.t, id, aside.s, entry.pl ~= nil and (entry.pl.o ~= nil or entry.pl.x ~= nil), formed)
  redis.call('HSET', K_ENTRIES, id, aside.e)
  redis.call('PUBLISH', ARGV[6], 'queued')
  return 'restored'
end
if entry.s then session_untrack(entry.s, id, entry.sl, entry.by, nil) end
quota_release(entry.r, true)
ended(KEYS[9], by, retention_ms)
return 'evicted'
`;
