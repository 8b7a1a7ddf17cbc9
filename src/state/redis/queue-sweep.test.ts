// The drain deadline's sweep against the real Redis: one call empties a pool's shared queue and
// gives back every reservation; concurrent sweeps and claims never share a task.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redisForTest, type RedisTestContext } from '../../../test/support/redis.ts';
import { stateKeys } from './keys.ts';
import { RedisPoolQueue, type PoolPolicy } from './pool-queue.ts';
import { QueueSweep } from './queue-sweep.ts';

let ctx: RedisTestContext;
const POLICY: PoolPolicy = { maxQueued: 1_000, policy: 'reject', interactiveWeight: 3, batchWeight: 1 };
const subjects = [{ subject: 'tenant:t', limits: { max_queued_tasks: 100 } }];

beforeEach(async () => {
  ctx = await redisForTest();
});
afterEach(() => ctx.cleanup());

async function queueOf(count: number): Promise<{ queue: RedisPoolQueue; ids: string[] }> {
  const queue = new RedisPoolQueue({ redis: ctx.client, keys: stateKeys(ctx.prefix), poolId: 'p' });
  const ids = Array.from({ length: count }, (_, i) => `t${i}`);
  for (const [i, id] of ids.entries()) {
    const admitted = await queue.admit({ taskId: id, priority: i % 3 === 0 ? 'batch' : 'interactive', tenant: `tenant-${i % 2}`, admittedBy: 'gw-a', maxTokens: 10, budgetTokens: 20, budgetCost: 0, subjects }, POLICY);
    expect(admitted.kind).toBe('queued');
  }
  return { queue, ids };
}

describe('QueueSweep', () => {
  it('withdraws every queued task in one call: queue, lanes and quota reservations emptied, registry records ended by the sweeper', async () => {
    const { ids } = await queueOf(5);
    const keys = stateKeys(ctx.prefix);
    const sweep = new QueueSweep({ redis: ctx.client, keys, retentionMs: 60_000 });
    expect((await sweep.withdrawAll('p', 'gw-b')).sort()).toEqual(ids);
    expect(await sweep.withdrawAll('p', 'gw-c')).toEqual([]);
    const pool = keys.pool('p');
    expect(await ctx.client.hlen(pool.entries)).toBe(0);
    expect(await ctx.client.zcard(pool.interactive) + await ctx.client.zcard(pool.batch)).toBe(0);
    expect(await ctx.client.keys(`${pool.interactive}:lane:*`)).toEqual([]);
    expect(await ctx.client.hmget(keys.quota('tenant:t'), 'queued', 'inflight')).toEqual(['0', '0']);
    expect(await ctx.client.hgetall(keys.owner('t0'))).toMatchObject({ owner: 'gw-b', state: 'ended' });
  });

  it('never gives one task to both a claim and a sweep, nor to two sweeps, when they race', async () => {
    const { queue, ids } = await queueOf(40);
    await queue.setCapacity('e0', 1_000);
    const sweeps = [0, 1].map((i) => new QueueSweep({ redis: ctx.connect(), keys: stateKeys(ctx.prefix), retentionMs: 60_000 }).withdrawAll('p', `gw-${i}`));
    const claims = Array.from({ length: 20 }, () => queue.claim('gw-x', ['e0'], POLICY));
    const [swept, claimed] = await Promise.all([Promise.all(sweeps), Promise.all(claims)]);
    const taken = [...swept.flat(), ...claimed.flatMap((c) => (c.kind === 'claimed' ? [c.task.taskId] : []))];
    expect(taken.sort()).toEqual([...ids].sort());
  });
});
