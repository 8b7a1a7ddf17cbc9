// A drained pool's shared queue emptied at its drain deadline, in one atomic script: every queued
// task leaves as WITHDRAW leaves one (quota reservation and tracked session hold given back,
// registry record ended by the sweeping replica). Every replica runs it at its deadline; the
// first takes every task, the others find none, so no task ends twice.

import type { Redis } from 'ioredis';
import { unavailable } from '../state-errors.ts';
import { POOL_KEYS, PRELUDE } from './admission-scripts.ts';
import type { StateKeys } from './keys.ts';
import { defineScript } from './script.ts';
import { SESSION_LIB } from './session-lua.ts';

/**
 * ARGV: the sweeping replica, retention ms, the registry key's head and tail around a task id.
 * Returns the withdrawn task ids. A claim is a script too: a task is either claimed before the
 * sweep (it runs, and ends with the claimer's drain) or withdrawn by it, never both.
 */
const WITHDRAW_QUEUED = `${PRELUDE}${SESSION_LIB}
local ids = redis.call('HKEYS', K_ENTRIES)
for _, id in ipairs(ids) do
  local entry = cjson.decode(redis.call('HGET', K_ENTRIES, id))
  if entry.s then session_untrack(entry.s, id, entry.sl, entry.by, nil) end
  lane_unlink(entry.p, entry.t, id)
  redis.call('HDEL', K_ENTRIES, id)
  quota_release(entry.r, true)
  ended(ARGV[3] .. id .. ARGV[4], ARGV[1], ARGV[2])
end
-- Drop-lru victims set aside by admissions still committing leave too (their settle finds nothing).
for _, id in ipairs(redis.call('HKEYS', K_ASIDE)) do
  local entry = cjson.decode(cjson.decode(redis.call('HGET', K_ASIDE, id)).e)
  if entry.s then session_untrack(entry.s, id, entry.sl, entry.by, nil) end
  redis.call('HDEL', K_ASIDE, id)
  quota_release(entry.r, true)
  ended(ARGV[3] .. id .. ARGV[4], ARGV[1], ARGV[2])
  ids[#ids + 1] = id
end
redis.call('DEL', K_TURNS)
return ids
`;

export interface QueueSweepOptions {
  redis: Redis;
  keys: StateKeys;
  /** How long an ended task's registry record stays readable (server.retention_ms). */
  retentionMs: number;
}

export class QueueSweep {
  readonly #opts: QueueSweepOptions;
  readonly #script;
  readonly #ownerKeyParts: [string, string];

  constructor(opts: QueueSweepOptions) {
    this.#opts = opts;
    this.#script = defineScript(opts.redis, 'orchqueueWithdrawQueued', POOL_KEYS.length, WITHDRAW_QUEUED);
    const [head = '', tail = ''] = opts.keys.owner('\n').split('\n');
    this.#ownerKeyParts = [head, tail];
  }

  /** Withdraws every task queued in `poolId`'s shared queue; the ids this call took (none when another replica swept first). */
  async withdrawAll(poolId: string, endedBy: string): Promise<string[]> {
    const pool = this.#opts.keys.pool(poolId);
    try {
      const ids = await this.#script(POOL_KEYS.map((name) => pool[name]), [endedBy, Math.max(1, this.#opts.retentionMs), ...this.#ownerKeyParts]);
      return (ids as string[]).map(String);
    } catch (error) {
      throw unavailable('queue sweep', error);
    }
  }
}
