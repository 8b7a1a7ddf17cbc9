// Re-placement of a running task on the shared slot count (state.backend redis): one script
// gives back its slot on the engine replica that failed it and takes one on the first candidate
// with a slot free cluster-wide, in its pool or a fallback pool, so no engine is oversubscribed.

import type { Redis } from 'ioredis';
import { unavailable } from '../state-errors.ts';
import type { StateKeys } from './keys.ts';
import { defineScript, type Script } from './script.ts';

/**
 * KEYS: the source pool's busy and running hashes, the target pool's capacity, busy and running
 * hashes (the same two when the task stays in its pool), the task's registry record.
 * ARGV: task id, the engine replica it failed on, the source pool's wake channel, the target
 * pool's id, then the candidate engine replicas of the target pool, best first.
 * Returns {'moved', engine} | {'no_slot'} (the slot on the failed replica kept) | {'gone'}
 * (not running on that replica any more: released, or ended by a takeover).
 */
const MOVE = `
local K_FROM_BUSY, K_FROM_RUNNING, K_CAPACITY, K_BUSY, K_RUNNING, K_OWNER = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local id, failed = ARGV[1], ARGV[2]
local json = redis.call('HGET', K_FROM_RUNNING, id)
if not json then return {'gone'} end
local entry = cjson.decode(json)
if entry.e ~= failed then return {'gone'} end
local engine = nil
for i = 5, #ARGV do
  local e = ARGV[i]
  local busy = tonumber(redis.call('HGET', K_BUSY, e)) or 0
  if e ~= failed and busy < (tonumber(redis.call('HGET', K_CAPACITY, e)) or 0) then engine = e break end
end
if engine == nil then return {'no_slot'} end
local left = (tonumber(redis.call('HGET', K_FROM_BUSY, failed)) or 0) - 1
if left < 0 then left = 0 end
redis.call('HSET', K_FROM_BUSY, failed, left)
redis.call('HINCRBY', K_BUSY, engine, 1)
entry.e = engine
if K_RUNNING ~= K_FROM_RUNNING then
  redis.call('HDEL', K_FROM_RUNNING, id)
  if redis.call('EXISTS', K_OWNER) == 1 then redis.call('HSET', K_OWNER, 'pool', ARGV[4]) end
end
redis.call('HSET', K_RUNNING, id, cjson.encode(entry))
redis.call('PUBLISH', ARGV[3], 'slot')
return {'moved', engine}
`;

export type SlotMove = { kind: 'moved'; engineReplica: string } | { kind: 'no_slot' } | { kind: 'gone' };

export interface SlotMoveRequest {
  taskId: string;
  from: { poolId: string; engineReplica: string };
  /** The pool the task runs in next (its own, or the fallback it hops to). */
  toPoolId: string;
  /** That pool's engine replicas the task may take, best first. */
  candidates: readonly string[];
}

export class RedisSlotMoves {
  readonly #keys: StateKeys;
  readonly #move: Script;

  constructor(opts: { redis: Redis; keys: StateKeys }) {
    this.#keys = opts.keys;
    this.#move = defineScript(opts.redis, 'orchqueueSlotMove', 6, MOVE);
  }

  async move(req: SlotMoveRequest): Promise<SlotMove> {
    if (req.candidates.length === 0) return { kind: 'no_slot' };
    const from = this.#keys.pool(req.from.poolId);
    const to = this.#keys.pool(req.toPoolId);
    const keys = [from.busy, from.running, to.capacity, to.busy, to.running, this.#keys.owner(req.taskId)];
    let reply: unknown;
    try {
      reply = await this.#move(keys, [req.taskId, req.from.engineReplica, from.wake, req.toPoolId, ...req.candidates]);
    } catch (error) {
      throw unavailable('slot move', error);
    }
    const [kind, engine] = reply as [string, string | undefined];
    if (kind === 'moved') return { kind, engineReplica: engine as string };
    return { kind: kind === 'no_slot' ? 'no_slot' : 'gone' };
  }
}
