// Client task_id records shared by every replica (IdempotencyStore semantics, src/core/state-ports.ts):
// the admit script checks a record and creates it (digest, admitting replica) in the same atomic
// step that queues the task, so of two replicas admitting one task_id at once exactly one admits;
// `remember` adds the first answer once the admission is committed, `forget` drops it.

import type { Redis } from 'ioredis';
import type { IdempotencyCheck } from '../../core/admission/idempotency.ts';
import { unavailable } from '../state-errors.ts';
import type { StateKeys } from './keys.ts';
import { defineScript, type Script } from './script.ts';

/** Stores the answer only while the record holds this digest (a forgotten or replaced id is left alone); its TTL starts now. */
const REMEMBER = `
if redis.call('HGET', KEYS[1], 'd') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'a', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

export class RedisIdempotency {
  readonly #redis: Redis;
  readonly #keys: StateKeys;
  readonly #ttlMs: number;
  readonly #remember: Script;

  constructor(opts: { redis: Redis; keys: StateKeys; ttlMs: number }) {
    this.#redis = opts.redis;
    this.#keys = opts.keys;
    this.#ttlMs = opts.ttlMs;
    this.#remember = defineScript(opts.redis, 'orchqueueRemember', 1, REMEMBER);
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
    const done = await this.#run('idempotency remember', () => this.#remember([this.#keys.idempotency(key)], [digest, JSON.stringify(answer), this.#ttlMs]));
    return Number(done) === 1;
  }

  /** Drops the record (admission rolled back, or the task left retention). */
  async forget(key: string): Promise<void> {
    await this.#run('idempotency forget', () => this.#redis.unlink(this.#keys.idempotency(key)));
  }

  async #run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw unavailable(operation, error);
    }
  }
}
