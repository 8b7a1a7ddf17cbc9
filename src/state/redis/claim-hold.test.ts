// The claim script and the client's hard placement (a pin or avoid without allow_fallback), on
// the real Redis: a held task stays queued while its replicas have no free slot and the claim
// takes the next runnable one in the fair order; the order of everything else is unchanged; the
// scan is bounded (CLAIM_SCAN_CAP); no engine is ever oversubscribed.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redisForTest, type RedisTestContext } from '../../../test/support/redis.ts';
import type { ClaimPreference } from '../../core/placement/claim-preference.ts';
import { CLAIM_SCAN_CAP } from './claim-lua.ts';
import { stateKeys } from './keys.ts';
import { RedisPoolQueue, type AdmitRequest, type ClaimResult, type PoolPolicy } from './pool-queue.ts';

let ctx: RedisTestContext;
const POLICY: PoolPolicy = { maxQueued: 500, policy: 'reject', interactiveWeight: 3, batchWeight: 1 };
const queue = (prefix = '', redis = ctx.client) => new RedisPoolQueue({ redis, keys: stateKeys(`${ctx.prefix}${prefix}`), poolId: 'p' });
const task = (taskId: string, over: Partial<AdmitRequest> = {}): AdmitRequest => ({
  taskId, priority: 'interactive', admittedBy: 'gw-a', maxTokens: 10, budgetTokens: 20, budgetCost: 0, subjects: [], ...over,
});
const pinned = (engine: string): ClaimPreference => ({ prefer: [engine], avoid: [], only: engine });
const NOTHING = { tokens: 0, budgetTokens: 0, budgetCost: 0 };
const taken = (c: ClaimResult) => (c.kind === 'claimed' ? [c.task.taskId, c.task.engineReplica] : c.kind);

beforeEach(async () => {
  ctx = await redisForTest();
});
afterEach(() => ctx.cleanup());

describe('claim: tasks held to their replicas (pin or avoid without allow_fallback)', () => {
  // ORCH-0505
  it('keeps a pinned task queued while its replica is busy, runs later tasks on the free one, then the pinned task once its replica frees', async () => {
    const shared = queue();
    for (const e of ['e0', 'e1']) await shared.setCapacity(e, 1);
    await shared.admit(task('long', { preference: pinned('e0') }), POLICY);
    expect(taken(await shared.claim('gw-a', ['e0', 'e1'], POLICY))).toEqual(['long', 'e0']);
    await shared.admit(task('held', { preference: pinned('e0') }), POLICY);
    await shared.admit(task('u1'), POLICY);
    await shared.admit(task('u2'), POLICY);
    expect(taken(await shared.claim('gw-b', ['e0', 'e1'], POLICY))).toEqual(['u1', 'e1']);
    // Only e0's slot would be free for the held task: nothing runnable on e1 any more.
    expect(taken(await shared.claim('gw-b', ['e0', 'e1'], POLICY))).toBe('no_slot');
    await shared.release('u1', NOTHING, 'gw-b');
    expect(taken(await shared.claim('gw-b', ['e0', 'e1'], POLICY))).toEqual(['u2', 'e1']);
    expect((await shared.figures()).interactive).toBe(1);
    await shared.release('long', NOTHING, 'gw-a');
    // Its replica is free, but not a candidate of this claimer: it waits for one that has it.
    await shared.release('u2', NOTHING, 'gw-b');
    expect(taken(await shared.claim('gw-b', ['e1'], POLICY))).toBe('waiting');
    expect(taken(await shared.claim('gw-a', ['e1', 'e0'], POLICY))).toEqual(['held', 'e0']);
    expect(await shared.figures()).toEqual({ interactive: 0, batch: 0, busy: { e0: 1, e1: 0 } });
  });

  it('hands a task pinned to a replica that lost its capacity (or never had any) to the claimer to end, in its fair turn, still queued until withdrawn', async () => {
    const shared = queue();
    for (const e of ['e0', 'e1']) await shared.setCapacity(e, 1);
    await shared.admit(task('pinned', { preference: pinned('e1') }), POLICY);
    await shared.admit(task('ghost', { preference: pinned('gone') }), POLICY);
    await shared.admit(task('u1'), POLICY);
    // e1 becomes unusable after the admission (its probe failed, or it was drained).
    await shared.setCapacity('e1', 0);
    expect(await shared.claim('gw-b', ['e0', 'e1'], POLICY)).toEqual({ kind: 'unplaceable', taskId: 'pinned' });
    expect((await shared.figures()).interactive).toBe(3);
    expect(await shared.withdraw('pinned', 'gw-b')).toBe(true);
    expect(await shared.claim('gw-b', ['e0', 'e1'], POLICY)).toEqual({ kind: 'unplaceable', taskId: 'ghost' });
    expect(await shared.withdraw('ghost', 'gw-b')).toBe(true);
    expect(taken(await shared.claim('gw-b', ['e0', 'e1'], POLICY))).toEqual(['u1', 'e0']);
    expect(await shared.figures()).toEqual({ interactive: 0, batch: 0, busy: { e0: 1 } });
  });

  it('keeps a task pinned to a busy replica waiting, not unplaceable, and ends none while the claimer has no free slot', async () => {
    const shared = queue();
    for (const e of ['e0', 'e1']) await shared.setCapacity(e, 1);
    await shared.admit(task('first', { preference: pinned('e0') }), POLICY);
    expect(taken(await shared.claim('gw-a', ['e0'], POLICY))).toEqual(['first', 'e0']);
    await shared.admit(task('pinned', { preference: pinned('e0') }), POLICY);
    expect(taken(await shared.claim('gw-a', ['e0', 'e1'], POLICY))).toBe('waiting');
    await shared.setCapacity('e0', 0);
    await shared.setCapacity('e1', 0);
    expect(taken(await shared.claim('gw-a', ['e0', 'e1'], POLICY))).toBe('no_slot');
  });

  it('never puts a task on a replica it avoids without allow_fallback, and on one it avoids with it only when nothing else is free', async () => {
    const shared = queue();
    for (const e of ['e0', 'e1']) await shared.setCapacity(e, 1);
    await shared.admit(task('busy'), POLICY);
    expect(taken(await shared.claim('gw-a', ['e1'], POLICY))).toEqual(['busy', 'e1']);
    await shared.admit(task('strict', { preference: { prefer: [], avoid: ['e0'], avoidStrictly: true } }), POLICY);
    expect(taken(await shared.claim('gw-a', ['e0', 'e1'], POLICY))).toBe('waiting');
    await shared.admit(task('soft', { preference: { prefer: [], avoid: ['e0'] } }), POLICY);
    expect(taken(await shared.claim('gw-a', ['e0', 'e1'], POLICY))).toEqual(['soft', 'e0']);
    await shared.release('busy', NOTHING, 'gw-a');
    expect(taken(await shared.claim('gw-a', ['e0', 'e1'], POLICY))).toEqual(['strict', 'e1']);
  });

  it('claims the other tasks in the order a queue without the held ones gives (classes 3:1, tenants by weight), the held ones after', async () => {
    const plain = queue('plain:');
    const held = queue('held:');
    // e0's one slot busy (a capacity of 0 would make it unusable: its pinned tasks would end).
    for (const q of [plain, held]) {
      for (const [e, slots] of [['e0', 1], ['e1', 100]] as const) await q.setCapacity(e, slots);
      await q.admit(task('blocker', { preference: pinned('e0') }), POLICY);
      expect(taken(await q.claim('gw', ['e0'], POLICY))).toEqual(['blocker', 'e0']);
    }
    const arrivals = Array.from({ length: 24 }, (_, i) => ({ id: `t${i}`, priority: i % 3 === 0 ? 'batch' as const : 'interactive' as const, tenant: ['x', 'y', 'z'][i % 3] as string, tenantWeight: (i % 3) + 1 }));
    for (const [i, a] of arrivals.entries()) {
      const fields = { priority: a.priority, tenant: a.tenant, tenantWeight: a.tenantWeight };
      await plain.admit(task(a.id, fields), POLICY);
      await held.admit(task(a.id, fields), POLICY);
      // Tenant h's tasks, in both classes, pinned to e0 (no slot yet), interleaved with the rest.
      if (i % 4 === 0) await held.admit(task(`h${i}`, { priority: i % 8 === 0 ? 'batch' : 'interactive', tenant: 'h', preference: pinned('e0') }), POLICY);
    }
    const order = async (q: RedisPoolQueue, candidates: string[]) => {
      const ids: string[] = [];
      for (let c = await q.claim('gw', candidates, POLICY); c.kind === 'claimed'; c = await q.claim('gw', candidates, POLICY)) ids.push(c.task.taskId);
      return ids;
    };
    const expected = await order(plain, ['e0', 'e1']);
    expect(expected).toHaveLength(24);
    expect(await order(held, ['e0', 'e1'])).toEqual(expected);
    // e1 has room, but the held tasks may only run on e0.
    expect(await held.claim('gw', ['e0', 'e1'], POLICY)).toEqual({ kind: 'waiting' });
    await held.release('blocker', NOTHING, 'gw');
    expect(await held.claim('gw', ['e1'], POLICY)).toEqual({ kind: 'waiting' });
    // h0 is batch, h4 the oldest interactive one: the class turn goes to interactive.
    expect(taken(await held.claim('gw', ['e0', 'e1'], POLICY))).toEqual(['h4', 'e0']);
  });

  it(`examines at most ${CLAIM_SCAN_CAP} entries per claim: a task behind more held ones waits, as behind a busy pinned head in memory`, async () => {
    const shared = queue();
    for (const [e, slots] of [['e0', 1], ['e1', 1]] as const) await shared.setCapacity(e, slots);
    await shared.admit(task('blocker', { preference: pinned('e0') }), POLICY);
    expect(taken(await shared.claim('gw', ['e0'], POLICY))).toEqual(['blocker', 'e0']);
    for (let i = 0; i < CLAIM_SCAN_CAP - 1; i++) await shared.admit(task(`h${i}`, { preference: pinned('e0') }), POLICY);
    await shared.admit(task('within'), POLICY);
    expect(taken(await shared.claim('gw', ['e0', 'e1'], POLICY))).toEqual(['within', 'e1']);
    await shared.release('within', NOTHING, 'gw');
    await shared.admit(task(`h${CLAIM_SCAN_CAP - 1}`, { preference: pinned('e0') }), POLICY);
    await shared.admit(task('beyond'), POLICY);
    expect(await shared.claim('gw', ['e0', 'e1'], POLICY)).toEqual({ kind: 'waiting' });
    // One held task gone (canceled): the next claim reaches it.
    expect(await shared.withdraw('h0', 'gw')).toBe(true);
    expect(taken(await shared.claim('gw', ['e0', 'e1'], POLICY))).toEqual(['beyond', 'e1']);
  });

  it('never oversubscribes a replica when many claimers race over pinned and free tasks', async () => {
    const capacity: Record<string, number> = { e0: 1, e1: 2 };
    const setup = queue();
    for (const [engine, slots] of Object.entries(capacity)) await setup.setCapacity(engine, slots);
    const total = 120;
    for (let i = 0; i < total; i++) await setup.admit(task(`t${i}`, { tenant: `k${i % 4}`, ...(i % 3 === 0 ? { preference: pinned(i % 2 === 0 ? 'e0' : 'e1') } : {}) }), POLICY);
    const running: Record<string, number> = { e0: 0, e1: 0 };
    const peak: Record<string, number> = { e0: 0, e1: 0 };
    const claimed = new Set<string>();
    const claimers = Array.from({ length: 6 }, (_, r) => ({ id: `gw-${r}`, shared: queue('', ctx.connect()), order: r % 2 === 0 ? ['e0', 'e1'] : ['e1', 'e0'] }));
    await Promise.all(claimers.map(async ({ id, shared, order }) => {
      while (claimed.size < total) {
        const c = await shared.claim(id, order, POLICY);
        if (c.kind !== 'claimed') {
          await new Promise((resolve) => setTimeout(resolve, 1));
          continue;
        }
        const { taskId, engineReplica } = c.task;
        expect(claimed.has(taskId), `${taskId} claimed twice`).toBe(false);
        claimed.add(taskId);
        const n = (running[engineReplica] = (running[engineReplica] ?? 0) + 1);
        peak[engineReplica] = Math.max(peak[engineReplica] ?? 0, n);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
        running[engineReplica] = (running[engineReplica] ?? 0) - 1;
        expect(await shared.release(taskId, NOTHING, id)).toBe(true);
      }
    }));
    expect(peak).toEqual(capacity);
    expect(await setup.figures()).toEqual({ interactive: 0, batch: 0, busy: { e0: 0, e1: 0 } });
  });
});
