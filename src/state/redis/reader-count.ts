// The readers following a task's stream on replicas other than the one running it, counted in
// Redis per gateway replica (hash field = replica, value = its readers), so the runner's orphan
// grace sees readers anywhere. One script call per attach and per detach, nothing per event.
// A replica's count reaching 0 is published to the task's registry owner (its runner), and so
// is every task a lost replica's readers followed when a survivor takes it over.

import type { Redis } from 'ioredis';
import { unavailable } from '../state-errors.ts';
import type { StateKeys } from './keys.ts';
import { defineScript, type Script } from './script.ts';

/**
 * KEYS: opened mark, readers hash, the replica's followed set. ARGV: replica, TTL ms, task id.
 * Also marks the stream opened (the unclaimed-stream timeout reads it) and lists the task as
 * followed by this replica (a takeover of it finds the task there).
 */
const ATTACH = `
redis.call('SET', KEYS[1], '1', 'PX', ARGV[2])
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
redis.call('PEXPIRE', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
redis.call('PEXPIRE', KEYS[3], ARGV[2])
return 1
`;

/**
 * KEYS: readers hash, registry record, the replica's followed set. ARGV: replica, channel head (the owner's id follows), task id.
 * The last reader on this replica leaving tells the task's owner (any other replica's count,
 * even a dead one's, is the runner's to judge when its grace ends). Returns readers left here.
 */
const DETACH = `
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if left > 0 then return left end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('SREM', KEYS[3], ARGV[3])
local owner = redis.call('HGET', KEYS[2], 'owner')
if owner then redis.call('PUBLISH', ARGV[2] .. owner, ARGV[3]) end
return 0
`;

/**
 * KEYS: the lost replica's followed set. ARGV: lost replica, channel head, the readers hash's and
 * the registry record's key head and tail around a task id. Its readers stop counting (their
 * field goes) and each followed task not ended is published to its owner, as the last leave
 * would have been: the runner rechecks the live count and arms its grace. The set goes, so a
 * second run tells nobody. Returns the task ids told.
 */
const FORGET_REPLICA = `
local told = {}
for _, id in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  redis.call('HDEL', ARGV[3] .. id .. ARGV[4], ARGV[1])
  local record = redis.call('HMGET', ARGV[5] .. id .. ARGV[6], 'owner', 'state')
  if record[1] and record[2] ~= 'ended' then
    redis.call('PUBLISH', ARGV[2] .. record[1], id)
    told[#told + 1] = id
  end
end
redis.call('DEL', KEYS[1])
return told
`;

export interface ReaderCountOptions {
  redis: Redis;
  keys: StateKeys;
  replicaId: string;
  /** How long a task's count lives after its last attach (a backstop: the fields go at 0). */
  ttlMs: number;
}

export class ReaderCount {
  readonly #opts: ReaderCountOptions;
  readonly #attach: Script;
  readonly #detach: Script;
  readonly #forget: Script;
  readonly #channelHead: string;

  constructor(opts: ReaderCountOptions) {
    this.#opts = opts;
    this.#attach = defineScript(opts.redis, 'orchqueueReaderAttach', 3, ATTACH);
    this.#detach = defineScript(opts.redis, 'orchqueueReaderDetach', 3, DETACH);
    this.#forget = defineScript(opts.redis, 'orchqueueReadersForget', 1, FORGET_REPLICA);
    this.#channelHead = opts.keys.readersGone('');
  }

  /** The channel this replica hears "a replica's last reader of your task left" on (message: the task id). */
  get goneChannel(): string {
    return this.#opts.keys.readersGone(this.#opts.replicaId);
  }

  /** A reader here opened the stream of a task another replica runs (or will: it may be queued). */
  async attach(taskId: string): Promise<void> {
    const { keys, replicaId, ttlMs } = this.#opts;
    await this.#run('reader attach', () => this.#attach([keys.streamOpened(taskId), keys.readers(taskId), keys.followedTasks(replicaId)], [replicaId, ttlMs, taskId]));
  }

  /** That reader left. */
  async detach(taskId: string): Promise<void> {
    const { keys, replicaId } = this.#opts;
    await this.#run('reader detach', () => this.#detach([keys.readers(taskId), keys.owner(taskId), keys.followedTasks(replicaId)], [replicaId, this.#channelHead, taskId]));
  }

  /**
   * `lostReplica` is gone (a survivor won its takeover): its readers never detach, so the runner
   * of each task they followed is told as by a last leave, and their counts go. The task ids told.
   */
  async forgetReplica(lostReplica: string): Promise<string[]> {
    const { keys } = this.#opts;
    const [readersHead = '', readersTail = ''] = keys.readers('\n').split('\n');
    const [ownerHead = '', ownerTail = ''] = keys.owner('\n').split('\n');
    const told = await this.#run('forget lost readers', () => this.#forget([keys.followedTasks(lostReplica)], [lostReplica, this.#channelHead, readersHead, readersTail, ownerHead, ownerTail]));
    return told as string[];
  }

  /**
   * Whether a reader ever opened the task's stream on a replica that did not run it, and how
   * many follow it now on live replicas (the lease registry): a replica that died with readers
   * attached never detaches them, so its field is not counted. One round trip.
   */
  async standing(taskId: string): Promise<{ opened: boolean; readers: number }> {
    const { redis, keys } = this.#opts;
    const replies = await this.#run('reader count', () => redis.pipeline().get(keys.streamOpened(taskId)).hgetall(keys.readers(taskId)).time().zrange(keys.replicas, 0, -1, 'WITHSCORES').exec());
    const [opened, fields, time, leases] = (replies ?? []).map(([error, value]) => {
      if (error) throw error;
      return value;
    });
    const [seconds = '0', micros = '0'] = time as [string, string];
    const nowMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const live = new Set<string>();
    const flat = leases as string[];
    for (let i = 0; i + 1 < flat.length; i += 2) if (Number(flat[i + 1]) >= nowMs) live.add(flat[i] as string);
    let readers = 0;
    for (const [replica, n] of Object.entries(fields as Record<string, string>)) if (live.has(replica)) readers += Math.max(0, Number(n));
    return { opened: opened !== null, readers };
  }

  async #run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw unavailable(operation, error);
    }
  }
}
