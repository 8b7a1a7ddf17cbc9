// The Redis side of one gateway replica in a cluster (state.backend redis): its connections and
// the shared-state components over them. Four connections, each with one job: commands (the
// admission, claim and release scripts), events (stream appends, auto-pipelined so a burst of
// tokens is one write; stream reads), blocking (the stream followers' XREAD BLOCK) and
// subscriber (pool wake-ups and control messages). All fail closed (connection.ts).

import type { Redis } from 'ioredis';
import type { Config } from '../../config/schema.ts';
import { openRedis } from '../../state/redis/connection.ts';
import { RedisEventLogs } from '../../state/redis/event-log.ts';
import { RedisIdempotency } from '../../state/redis/idempotency.ts';
import { stateKeys, type StateKeys } from '../../state/redis/keys.ts';
import { RedisPoolQueue } from '../../state/redis/pool-queue.ts';
import { RedisTaskRegistry } from '../../state/redis/task-registry.ts';

/** How long a task's spec and registry record live while nobody ends it. */
export const TASK_BACKSTOP_MS = 24 * 3_600_000;

export interface ClusterState {
  readonly replicaId: string;
  readonly keys: StateKeys;
  readonly redis: Redis;
  readonly events: Redis;
  readonly blocking: Redis;
  readonly subscriber: Redis;
  readonly logs: RedisEventLogs;
  readonly registry: RedisTaskRegistry;
  readonly idempotency: RedisIdempotency;
  /** One shared queue per configured pool. */
  queueOf(poolId: string): RedisPoolQueue;
  readonly queues: ReadonlyMap<string, RedisPoolQueue>;
  close(): Promise<void>;
}

export async function openClusterState(config: Config, replicaId: string): Promise<ClusterState> {
  const { state } = config;
  // compose() only calls this for backend redis, which the config schema requires a URL for.
  const url = state.url as string;
  const keys = stateKeys(state.key_prefix);
  const opened: Redis[] = [];
  try {
    const open = async (role: string, extra = {}) => {
      const redis = await openRedis(url, `${replicaId}:${role}`, extra);
      opened.push(redis);
      return redis;
    };
    const redis = await open('commands');
    const events = await open('events', { enableAutoPipelining: true });
    const blocking = await open('blocking');
    const subscriber = await open('subscriber');
    const retentionMs = config.server.retention_ms;
    const logs = new RedisEventLogs({ redis: events, blocking, keys, retentionMs });
    const registry = new RedisTaskRegistry({ redis, keys });
    const idempotency = new RedisIdempotency({ redis, keys, ttlMs: TASK_BACKSTOP_MS });
    const queues = new Map<string, RedisPoolQueue>();
    const queueOf = (poolId: string): RedisPoolQueue => {
      let queue = queues.get(poolId);
      if (queue === undefined) queues.set(poolId, (queue = new RedisPoolQueue({ redis, keys, poolId, retentionMs, backstopMs: TASK_BACKSTOP_MS })));
      return queue;
    };
    for (const pool of config.pools) queueOf(pool.id);
    return {
      replicaId, keys, redis, events, blocking, subscriber, logs, registry, idempotency, queueOf, queues,
      async close() {
        // The followers' connection is mid-block: dropped. The others finish their replies first.
        await logs.close();
        await Promise.all(opened.filter((c) => c !== blocking).map((c) => c.quit().catch(() => c.disconnect())));
      },
    };
  } catch (error) {
    for (const connection of opened) connection.disconnect();
    throw error;
  }
}
