// The slot move of a re-placement on the real Redis: the failed replica's slot given back and
// a free one taken in one step, in the task's pool or a fallback pool, never past any engine's
// capacity however many tasks move at once, and nothing moved for a task no longer running there.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redisForTest, type RedisTestContext } from '../../../test/support/redis.ts';
import { stateKeys } from './keys.ts';
import { RedisPoolQueue, type AdmitRequest, type PoolPolicy } from './pool-queue.ts';
import { RedisSlotMoves } from './slot-move.ts';

let ctx: RedisTestContext;
const POLICY: PoolPolicy = { maxQueued: 100, policy: 'reject', interactiveWeight: 3, batchWeight: 1 };
const queue = (poolId = 'p') => new RedisPoolQueue({ redis: ctx.client, keys: stateKeys(ctx.prefix), poolId });
const task = (taskId: string): AdmitRequest => ({ taskId, priority: 'interactive', admittedBy: 'gw-a', maxTokens: 10, budgetTokens: 20, budgetCost: 0, subjects: [] });
const NOTHING = { tokens: 0, budgetTokens: 0, budgetCost: 0 };

beforeEach(async () => {
  ctx = await redisForTest();
});
afterEach(() => ctx.cleanup());

/** `n` tasks admitted into `shared` and claimed onto engine `on`. */
async function running(shared: RedisPoolQueue, n: number, on: string): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `t${i}`);
  for (const id of ids) await shared.admit(task(id), POLICY);
  for (const _ of ids) expect(await shared.claim('gw-a', [on], POLICY)).toMatchObject({ kind: 'claimed', task: { engineReplica: on } });
  return ids;
}

describe('RedisSlotMoves', () => {
  it('moves a running task to the first candidate with a free slot, skipping full ones and the failed replica', async () => {
    const shared = queue();
    await shared.setCapacity('e0', 1);
    await shared.setCapacity('e1', 1);
    await shared.setCapacity('e2', 1);
    await running(shared, 1, 'e1');
    const moves = new RedisSlotMoves({ redis: ctx.client, keys: stateKeys(ctx.prefix) });
    await shared.admit(task('other'), POLICY);
    await shared.claim('gw-b', ['e0'], POLICY);
    const moved = await moves.move({ taskId: 't0', from: { poolId: 'p', engineReplica: 'e1' }, toPoolId: 'p', candidates: ['e1', 'e0', 'e2'] });
    expect(moved).toEqual({ kind: 'moved', engineReplica: 'e2' });
    expect((await shared.figures()).busy).toEqual({ e0: 1, e1: 0, e2: 1 });
    expect(await shared.runningBy('gw-a')).toEqual([{ taskId: 't0', engineReplica: 'e2' }]);
    // Moved already: a second move from e1 finds it gone; the release frees e2.
    expect(await moves.move({ taskId: 't0', from: { poolId: 'p', engineReplica: 'e1' }, toPoolId: 'p', candidates: ['e0'] })).toEqual({ kind: 'gone' });
    expect(await shared.release('t0', NOTHING, 'gw-a')).toBe(true);
    expect(await shared.release('other', NOTHING, 'gw-b')).toBe(true);
    expect((await shared.figures()).busy).toEqual({ e0: 0, e1: 0, e2: 0 });
  });

  it('keeps the slot where it is when no candidate has one free', async () => {
    const shared = queue();
    await shared.setCapacity('e0', 1);
    await shared.setCapacity('e1', 0);
    await running(shared, 1, 'e0');
    const moves = new RedisSlotMoves({ redis: ctx.client, keys: stateKeys(ctx.prefix) });
    expect(await moves.move({ taskId: 't0', from: { poolId: 'p', engineReplica: 'e0' }, toPoolId: 'p', candidates: ['e1'] })).toEqual({ kind: 'no_slot' });
    expect((await shared.figures()).busy).toEqual({ e0: 1 });
  });

  it('hops a running task to a fallback pool: its slot, running entry and registry pool move, its release settles there', async () => {
    const keys = stateKeys(ctx.prefix);
    const from = queue('a');
    const to = queue('b');
    await from.setCapacity('a0', 1);
    await to.setCapacity('b0', 1);
    await running(from, 1, 'a0');
    const moves = new RedisSlotMoves({ redis: ctx.client, keys });
    expect(await moves.move({ taskId: 't0', from: { poolId: 'a', engineReplica: 'a0' }, toPoolId: 'b', candidates: ['b0'] })).toEqual({ kind: 'moved', engineReplica: 'b0' });
    expect(await ctx.client.hget(keys.owner('t0'), 'pool')).toBe('b');
    expect(await from.runningBy('gw-a')).toEqual([]);
    expect(await from.release('t0', NOTHING, 'gw-a')).toBe(false);
    expect(await to.release('t0', NOTHING, 'gw-a')).toBe(true);
    expect((await from.figures()).busy).toEqual({ a0: 0 });
    expect((await to.figures()).busy).toEqual({ b0: 0 });
  });

  it('never oversubscribes the engine replicas tasks move to, however many move at once from many connections', async () => {
    const shared = queue();
    await shared.setCapacity('bad', 40);
    await shared.setCapacity('g0', 3);
    await shared.setCapacity('g1', 2);
    const ids = await running(shared, 40, 'bad');
    const movers = Array.from({ length: 8 }, () => new RedisSlotMoves({ redis: ctx.connect(), keys: stateKeys(ctx.prefix) }));
    const results = await Promise.all(ids.map((taskId, i) => (movers[i % 8] as RedisSlotMoves).move({ taskId, from: { poolId: 'p', engineReplica: 'bad' }, toPoolId: 'p', candidates: i % 2 === 0 ? ['g0', 'g1'] : ['g1', 'g0'] })));
    const moved = results.filter((r) => r.kind === 'moved');
    expect(moved).toHaveLength(5);
    expect(results.filter((r) => r.kind === 'no_slot')).toHaveLength(35);
    expect((await shared.figures()).busy).toEqual({ bad: 35, g0: 3, g1: 2 });
    for (const taskId of ids) expect(await shared.release(taskId, NOTHING, 'gw-a')).toBe(true);
    expect((await shared.figures()).busy).toEqual({ bad: 0, g0: 0, g1: 0 });
  });
});
