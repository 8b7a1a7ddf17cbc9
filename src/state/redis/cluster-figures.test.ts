import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redisForTest, type RedisTestContext } from '../../../test/support/redis.ts';
import { ClusterFiguresReader } from './cluster-figures.ts';
import { stateKeys } from './keys.ts';

let redis: RedisTestContext;
beforeEach(async () => {
  redis = await redisForTest();
});
afterEach(async () => {
  await redis.cleanup();
});

async function serverNowMs(): Promise<number> {
  const [s, us] = await redis.client.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

describe('ClusterFiguresReader', () => {
  it('reads queue depths, engine slots and live gateway replicas by Redis server time', async () => {
    const keys = stateKeys(redis.prefix);
    const pool = keys.pool('demo');
    const now = await serverNowMs();
    await redis.client.zadd(keys.replicas, now + 60_000, 'gw-b', now + 60_000, 'gw-a', now - 1_000, 'gw-dead');
    await redis.client.zadd(pool.interactive, 1, 't1', 2, 't2');
    await redis.client.zadd(pool.batch, 3, 't3');
    await redis.client.hset(pool.capacity, { v0: '2', v1: '4', junk: 'not-a-number' });
    await redis.client.hset(pool.busy, { v0: '1' });
    const reader = new ClusterFiguresReader({ redis: redis.client, keys, gatewayReplica: 'gw-a', poolIds: () => ['demo', 'empty'] });
    const read = await reader.read();
    expect(read.available).toBe(true);
    if (!read.available) return;
    expect(read.figures.gatewayReplicasLive).toEqual(['gw-a', 'gw-b']);
    expect(read.figures.pools.get('demo')).toEqual({ queue: { interactive: 2, batch: 1 }, capacity: { v0: 2, v1: 4 }, busy: { v0: 1 } });
    expect(read.figures.pools.get('empty')).toEqual({ queue: { interactive: 0, batch: 0 }, capacity: {}, busy: {} });
  });

  it('answers every read within max age from one Redis read, then reads again', async () => {
    const keys = stateKeys(redis.prefix);
    let clock = 1_000;
    const reader = new ClusterFiguresReader({ redis: redis.client, keys, gatewayReplica: 'gw-a', poolIds: () => ['demo'], maxAgeMs: 500, now: () => clock });
    const [first, concurrent] = await Promise.all([reader.read(), reader.read()]);
    expect(concurrent).toBe(first);
    await redis.client.zadd(keys.pool('demo').interactive, 1, 't1');
    clock += 499;
    expect(await reader.read()).toBe(first);
    clock += 1;
    const fresh = await reader.read();
    expect(fresh).not.toBe(first);
    expect(fresh.available && fresh.figures.pools.get('demo')?.queue.interactive).toBe(1);
  });

  it('answers unavailable, without throwing, when Redis cannot be reached', async () => {
    const gone = redis.connect({ lazyConnect: true, enableOfflineQueue: false, retryStrategy: () => null });
    gone.on('error', () => {});
    const reader = new ClusterFiguresReader({ redis: gone, keys: stateKeys(redis.prefix), gatewayReplica: 'gw-a', poolIds: () => ['demo'], now: () => 42 });
    expect(await reader.read()).toEqual({ available: false, readAtMs: 42 });
  });

  it('answers unavailable when a read outlasts its timeout', async () => {
    const blocked = redis.connect();
    const keys = stateKeys(redis.prefix);
    // A client paused server-side answers nothing until the pause ends.
    await redis.client.client('PAUSE', 1_500, 'ALL');
    const reader = new ClusterFiguresReader({ redis: blocked, keys, gatewayReplica: 'gw-a', poolIds: () => ['demo'], timeoutMs: 100, now: () => 7 });
    expect(await reader.read()).toEqual({ available: false, readAtMs: 7 });
  });
});
