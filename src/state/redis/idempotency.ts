// Client task_id records shared by every replica (IdempotencyStore semantics, src/core/state-ports.ts):
// the admit script checks a record and creates it (digest, admitting replica) in the same atomic
// step that queues the task, so of two replicas admitting one task_id at once exactly one admits;
// `remember` adds the first answer once the admission is committed, `forget` drops it. Records
// not answered yet are listed per admitting replica, so a takeover can free a lost replica's.

import type { Redis } from 'ioredis';
import type { IdempotencyCheck } from '../../core/admission/idempotency.ts';
import { unavailable } from '../state-errors.ts';
import type { StateKeys } from './keys.ts';
import { defineScript, type Script } from './script.ts';

/**
 * Stores the answer only while the record holds this digest (a forgotten or replaced id is left
 * alone); its TTL starts now. The record is answered: it leaves its admitting replica's
 * unanswered set (ARGV[4] .. by: a key built here from the record, as CLAIM builds the registry's).
 */
const REMEMBER = `
local rec = redis.call('HMGET', KEYS[1], 'd', 'by')
if rec[1] ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'a', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if rec[2] then redis.call('SREM', ARGV[4] .. rec[2], KEYS[1]) end
return 1
`;

/** Drops the record and its place in its admitting replica's unanswered set (ARGV[1] .. by). */
const FORGET = `
local by = redis.call('HGET', KEYS[1], 'by')
if by then redis.call('SREM', ARGV[1] .. by, KEYS[1]) end
return redis.call('DEL', KEYS[1])
`;

/**
 * KEYS[1]: a replica's unanswered set; ARGV[1]: that replica. Lists its records still
 * unanswered and still its own as {key, task id, pool id} triples; members answered, forgotten
 * or replaced meanwhile leave the set.
 */
const UNANSWERED = `
local out = {}
for _, k in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local rec = redis.call('HMGET', k, 'by', 'a', 't', 'p')
  if rec[1] == ARGV[1] and not rec[2] then
    out[#out + 1] = k
    out[#out + 1] = rec[3] or ''
    out[#out + 1] = rec[4] or ''
  else
    redis.call('SREM', KEYS[1], k)
  end
end
return out
`;

/** KEYS[1]: the set, KEYS[2]: the record; ARGV[1]: the lost replica. Deletes the record only while it is that replica's and unanswered. */
const FREE = `
redis.call('SREM', KEYS[1], KEYS[2])
local rec = redis.call('HMGET', KEYS[2], 'by', 'a')
if rec[1] ~= ARGV[1] or rec[2] then return 0 end
return redis.call('DEL', KEYS[2])
`;

/** A lost replica's task_id record that was never answered, and the task its admission queued. */
export interface UnansweredTaskId {
  /** The record's Redis key (as listed; pass it back to free). */
  recordKey: string;
  taskId: string;
  poolId: string;
}

export class RedisIdempotency {
  readonly #redis: Redis;
  readonly #keys: StateKeys;
  readonly #ttlMs: number;
  readonly #remember: Script;
  readonly #forget: Script;
  readonly #unanswered: Script;
  readonly #free: Script;
  /** The unanswered sets' key head; a replica id completes it. */
  readonly #unansweredHead: string;

  constructor(opts: { redis: Redis; keys: StateKeys; ttlMs: number }) {
    this.#redis = opts.redis;
    this.#keys = opts.keys;
    this.#ttlMs = opts.ttlMs;
    this.#unansweredHead = opts.keys.unansweredTaskIds('');
    this.#remember = defineScript(opts.redis, 'orchqueueRemember', 1, REMEMBER);
    this.#forget = defineScript(opts.redis, 'orchqueueForget', 1, FORGET);
    this.#unanswered = defineScript(opts.redis, 'orchqueueUnanswered', 1, UNANSWERED);
    this.#free = defineScript(opts.redis, 'orchqueueFreeTaskId', 2, FREE);
  }

  /** The admit script's TTL for a record it creates (until the answer restarts it). */
  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Outside admission (e.g. a read path): new, replay, or conflict; an unanswered record with the same digest reads as conflict, as a task_id in use does in memory. */
  async check(key: string, digest: string): Promise<IdempotencyCheck> {
    const [d, a] = await this.#run('idempotency check', () => this.#redis.hmget(this.#keys.idempotency(key), 'd', 'a'));
    if (d === null || d === undefined) return { kind: 'new' };
    if (d !== digest || a === null || a === undefined) return { kind: 'conflict' };
    return { kind: 'replay', answer: JSON.parse(a) as unknown };
  }

  /** The committed admission's answer, replayed to a retry with the same body. False when the record is gone or holds another digest. */
  async remember(key: string, digest: string, answer: unknown): Promise<boolean> {
    const done = await this.#run('idempotency remember', () => this.#remember([this.#keys.idempotency(key)], [digest, JSON.stringify(answer), this.#ttlMs, this.#unansweredHead]));
    return Number(done) === 1;
  }

  /** Drops the record (admission rolled back, or the task left retention). */
  async forget(key: string): Promise<void> {
    await this.#run('idempotency forget', () => this.#forget([this.#keys.idempotency(key)], [this.#unansweredHead]));
  }

  /** The task_id records `replica` admitted and never answered (a takeover frees them, lost-replica.ts). */
  async unansweredBy(replica: string): Promise<UnansweredTaskId[]> {
    const flat = (await this.#run('idempotency unanswered', () => this.#unanswered([this.#keys.unansweredTaskIds(replica)], [replica]))) as string[];
    const out: UnansweredTaskId[] = [];
    for (let i = 0; i + 2 < flat.length; i += 3) out.push({ recordKey: flat[i] as string, taskId: flat[i + 1] as string, poolId: flat[i + 2] as string });
    return out;
  }

  /** Deletes a lost replica's unanswered record, so the task_id may be admitted afresh. False when it was answered, replaced or gone meanwhile. */
  async free(lostReplica: string, recordKey: string): Promise<boolean> {
    return Number(await this.#run('idempotency free', () => this.#free([this.#keys.unansweredTaskIds(lostReplica), recordKey], [lostReplica]))) === 1;
  }

  async #run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw unavailable(operation, error);
    }
  }
}
