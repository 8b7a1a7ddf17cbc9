// The claim script's choice of engine replica for the task it takes, on the real Redis: the
// task's preferred replica (stored with its queue entry at admission) when it has a slot, else
// the first free candidate; the fair order of tasks unchanged by preferences.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redisForTest, type RedisTestContext } from '../../../test/support/redis.ts';
import { stateKeys } from './keys.ts';
import { RedisPoolQueue, type AdmitRequest, type PoolPolicy } from './pool-queue.ts';

let ctx: RedisTestContext;
const POLICY: PoolPolicy = { maxQueued: 100, policy: 'reject', interactiveWeight: 3, batchWeight: 1 };
const queue = () => new RedisPoolQueue({ redis: ctx.client, keys: stateKeys(ctx.prefix), poolId: 'p' });
const task = (taskId: string, over: Partial<AdmitRequest> = {}): AdmitRequest => ({
  taskId, priority: 'interactive', admittedBy: 'gw-a', maxTokens: 10, budgetTokens: 20, budgetCost: 0, subjects: [], ...over,
});
const NOTHING = { tokens: 0, budgetTokens: 0, budgetCost: 0 };

beforeEach(async () => {
  ctx = await redisForTest();
});
afterEach(() => ctx.cleanup());

describe('claim: the engine replica of the task it takes', () => {
  it('runs a task on its preferred replica when that one has a slot, whichever claimer lists it where', async () => {
    const shared = queue();
    for (const e of ['e0', 'e1', 'e2']) await shared.setCapacity(e, 1);
    await shared.admit(task('t', { preference: { prefer: ['e2'], avoid: [] } }), POLICY);
    const claimed = await shared.claim('gw-b', ['e0', 'e1', 'e2'], POLICY);
    expect(claimed).toMatchObject({ kind: 'claimed', task: { taskId: 't', engineReplica: 'e2' } });
  });

  it('takes the first free candidate when the preferred replica is busy or not a candidate', async () => {
    const shared = queue();
    for (const e of ['e0', 'e1']) await shared.setCapacity(e, 1);
    await shared.admit(task('busy-maker'), POLICY);
    expect(await shared.claim('gw-a', ['e1'], POLICY)).toMatchObject({ task: { engineReplica: 'e1' } });
    await shared.admit(task('t1', { preference: { prefer: ['e1'], avoid: [] } }), POLICY);
    expect(await shared.claim('gw-b', ['e0', 'e1'], POLICY)).toMatchObject({ task: { taskId: 't1', engineReplica: 'e0' } });
    await shared.release('busy-maker', NOTHING, 'gw-a');
    await shared.admit(task('t2', { preference: { prefer: ['e9'], avoid: [] } }), POLICY);
    expect(await shared.claim('gw-b', ['e0', 'e1'], POLICY)).toMatchObject({ task: { taskId: 't2', engineReplica: 'e1' } });
    expect((await shared.figures()).busy).toEqual({ e0: 1, e1: 1 });
  });

  it('puts a task on a replica it avoids only when no other candidate has a slot', async () => {
    const shared = queue();
    for (const e of ['e0', 'e1']) await shared.setCapacity(e, 1);
    await shared.admit(task('a', { preference: { prefer: [], avoid: ['e0'] } }), POLICY);
    await shared.admit(task('b', { preference: { prefer: [], avoid: ['e0'] } }), POLICY);
    expect(await shared.claim('gw-a', ['e0', 'e1'], POLICY)).toMatchObject({ task: { taskId: 'a', engineReplica: 'e1' } });
    expect(await shared.claim('gw-a', ['e0', 'e1'], POLICY)).toMatchObject({ task: { taskId: 'b', engineReplica: 'e0' } });
  });

  it('keeps the fair order (classes 3:1, tenants by weight): preferences pick engines, never tasks', async () => {
    const plain = queue();
    const keyed = new RedisPoolQueue({ redis: ctx.client, keys: stateKeys(`${ctx.prefix}pref:`), poolId: 'p' });
    const arrivals = Array.from({ length: 24 }, (_, i) => ({ id: `t${i}`, priority: i % 3 === 0 ? 'batch' as const : 'interactive' as const, tenant: ['x', 'y', 'z'][i % 3] as string, tenantWeight: (i % 3) + 1 }));
    for (const q of [plain, keyed]) await q.setCapacity('e0', 100).then(() => q.setCapacity('e1', 100));
    for (const [i, a] of arrivals.entries()) {
      await plain.admit(task(a.id, { priority: a.priority, tenant: a.tenant, tenantWeight: a.tenantWeight }), POLICY);
      await keyed.admit(task(a.id, { priority: a.priority, tenant: a.tenant, tenantWeight: a.tenantWeight, preference: { prefer: [i % 2 === 0 ? 'e1' : 'e0'], avoid: [] } }), POLICY);
    }
    const order = async (q: RedisPoolQueue) => {
      const ids: string[] = [];
      for (;;) {
        const c = await q.claim('gw', ['e0', 'e1'], POLICY);
        if (c.kind !== 'claimed') return ids;
        ids.push(c.task.taskId);
      }
    };
    const expected = await order(plain);
    expect(expected).toHaveLength(24);
    expect(await order(keyed)).toEqual(expected);
    expect((await keyed.figures()).busy).toEqual({ e0: 12, e1: 12 });
  });
});
