// Which gateway replica answers for a task, cluster-wide (issue 15): GET /v1/tasks/{id}, cancel
// routing and resume look a task up here. The pool scripts keep the record in the same atomic
// steps that move the task: admit creates it (owner = admitting replica, TTL = a backstop),
// claim hands it to the claimer, release/withdraw/a drop-lru eviction mark it ended (TTL =
// server.retention_ms).

import type { Redis } from 'ioredis';
import { unavailable } from '../state-errors.ts';
import type { StateKeys } from './keys.ts';
import { defineScript, type Script } from './script.ts';

/** Moves a queued task's record from a lost replica to a survivor; an ended or reassigned record is left alone. */
const ADOPT = `
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] or redis.call('HGET', KEYS[1], 'state') ~= 'queued' then return 0 end
redis.call('HSET', KEYS[1], 'owner', ARGV[2])
return 1
`;

export type TaskState = 'queued' | 'running' | 'ended';

export interface TaskLocation {
  /** The replica that answers for the task: admitted it (queued), runs it, or ended it. */
  owner: string;
  poolId: string;
  state: TaskState;
  /** How long the record stays, ms (the retention window once ended). */
  ttlMs: number;
}

export class RedisTaskRegistry {
  readonly #redis: Redis;
  readonly #keys: StateKeys;
  readonly #adopt: Script;

  constructor(opts: { redis: Redis; keys: StateKeys }) {
    this.#redis = opts.redis;
    this.#keys = opts.keys;
    this.#adopt = defineScript(opts.redis, 'orchqueueAdopt', 1, ADOPT);
  }

  /** A survivor answers for a lost replica's queued task. False when it was not that replica's queued task. */
  async adopt(taskId: string, lost: string, survivor: string): Promise<boolean> {
    try {
      return Number(await this.#adopt([this.#keys.owner(taskId)], [lost, survivor])) === 1;
    } catch (error) {
      throw unavailable('task adopt', error);
    }
  }

  /** Where the task is, or undefined when no replica knows it (never admitted, or past retention). */
  async locate(taskId: string): Promise<TaskLocation | undefined> {
    const key = this.#keys.owner(taskId);
    let found: [unknown, unknown] | undefined;
    try {
      const replies = await this.#redis.multi().hmget(key, 'owner', 'pool', 'state').pttl(key).exec();
      found = [replies?.[0]?.[1], replies?.[1]?.[1]];
    } catch (error) {
      throw unavailable('task locate', error);
    }
    const [fields, ttl] = found as [Array<string | null>, number];
    const [owner, poolId, state] = fields;
    if (owner == null || poolId == null || state == null) return undefined;
    return { owner, poolId, state: state as TaskState, ttlMs: ttl };
  }
}
