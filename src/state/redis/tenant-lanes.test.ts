// Tenant lanes in the shared queue: the same sequence of offers, takes and withdrawals run on the
// in-memory FairQueue and on RedisPoolQueue gives the same admissions, evictions, positions and
// dispatch order (classes by weight, tenants by weight within a class, FIFO per tenant).

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FairQueue } from '../../core/queue/fair-queue.ts';
import { EXACT_POSITION_CAP } from '../../core/queue/queue-position.ts';
import type { Priority } from '../../core/task/events.ts';
import { redisForTest, type RedisTestContext } from '../../../test/support/redis.ts';
import { stateKeys } from './keys.ts';
import { RedisPoolQueue, type PoolPolicy } from './pool-queue.ts';
import { seededRandom } from '../../../test/support/seeded-random.ts';

let ctx: RedisTestContext;
beforeEach(async () => {
  ctx = await redisForTest();
});
afterEach(() => ctx.cleanup());

type Op = { offer: Priority; tenant: string } | 'take' | { withdraw: number };
interface Entry { id: string; priority: Priority; tenant?: string }

const WEIGHTS: Record<string, number> = { acme: 3, beta: 1, gamma: 2, '': 1 };
const weightOf = (tenant: string) => WEIGHTS[tenant] ?? 1;

function randomOps(seed: number, count: number): Op[] {
  const next = seededRandom(seed);
  const tenants = Object.keys(WEIGHTS);
  return Array.from({ length: count }, (): Op => {
    const r = next();
    if (r < 0.6) return { offer: next() < 0.6 ? 'interactive' : 'batch', tenant: tenants[Math.floor(next() * tenants.length)] as string };
    if (r < 0.9) return 'take';
    return { withdraw: Math.floor(next() * 1_000) };
  });
}

/** Runs `ops` on both queues, comparing every answer; returns the steps compared. */
async function compare(ops: readonly Op[], policy: PoolPolicy, positions: number[] = []): Promise<number> {
  const local = new FairQueue<Entry>({ ...policy, weightOf });
  const shared = new RedisPoolQueue({ redis: ctx.client, keys: stateKeys(ctx.prefix), poolId: `p${Math.random()}` });
  await shared.setCapacity('e0', 1_000_000);
  const queued: string[] = [];
  let steps = 0;
  for (const [i, op] of ops.entries()) {
    const where = `step ${i} ${JSON.stringify(op)}`;
    if (op === 'take') {
      const claimed = await shared.claim('gw', ['e0'], policy);
      expect(claimed.kind === 'claimed' ? claimed.task.taskId : undefined, where).toBe(local.take()?.id);
    } else if ('withdraw' in op) {
      const id = queued[op.withdraw % Math.max(1, queued.length)];
      if (id === undefined) continue;
      expect(await shared.withdraw(id, 'gw'), where).toBe(local.remove(id) !== undefined);
    } else {
      const id = `t${i}`;
      const entry: Entry = op.tenant === '' ? { id, priority: op.offer } : { id, priority: op.offer, tenant: op.tenant };
      const offered = local.offer(entry);
      const admitted = await shared.admit({
        taskId: id, priority: op.offer, ...(op.tenant === '' ? {} : { tenant: op.tenant }), tenantWeight: weightOf(op.tenant),
        admittedBy: 'gw', maxTokens: 1, budgetTokens: 0, budgetCost: 0, subjects: [],
      }, policy);
      if (admitted.kind === 'queued') positions.push(admitted.position);
      if (!offered.admitted) expect(admitted, where).toEqual({ kind: 'queue_full' });
      else expect(admitted, where).toEqual({ kind: 'queued', position: local.position(id), ...(offered.evicted ? { evicted: offered.evicted.id } : {}) });
      // The commit that follows evicts the victim set aside (the queue is still full).
      if (offered.admitted && offered.evicted) expect(await shared.settleAside(offered.evicted.id, 'settle', policy.maxQueued, 'gw'), where).toBe('evicted');
      queued.push(id);
    }
    steps++;
  }
  const order: string[] = [];
  for (let claimed = await shared.claim('gw', ['e0'], policy); claimed.kind === 'claimed'; claimed = await shared.claim('gw', ['e0'], policy)) order.push(claimed.task.taskId);
  expect(order).toEqual([...local].map((e) => e.id));
  return steps;
}

describe('RedisPoolQueue tenant lanes', () => {
  it('hands out one class by tenant weight 3:1, FIFO within each tenant, as FairQueue does', async () => {
    const ops: Op[] = [
      ...['beta', 'beta', 'beta', 'acme', 'acme', 'acme', 'acme', 'acme', 'acme', 'beta'].map((tenant): Op => ({ offer: 'interactive', tenant })),
      'take', 'take', 'take', 'take',
    ];
    await compare(ops, { maxQueued: 100, policy: 'reject', interactiveWeight: 3, batchWeight: 1 });
  });

  it('keeps an idle tenant\'s debt when it rejoins, and forgets it when the class runs empty', async () => {
    const ops: Op[] = [
      { offer: 'interactive', tenant: 'acme' }, { offer: 'interactive', tenant: 'beta' }, { offer: 'interactive', tenant: 'beta' },
      'take', { offer: 'interactive', tenant: 'acme' }, 'take', 'take', { offer: 'interactive', tenant: 'acme' }, 'take', 'take',
      { offer: 'interactive', tenant: 'beta' }, { offer: 'interactive', tenant: 'acme' }, 'take',
    ];
    await compare(ops, { maxQueued: 100, policy: 'reject', interactiveWeight: 3, batchWeight: 1 });
  });

  it('evicts under drop-lru the oldest task of the tenant with the most queued, as FairQueue does', async () => {
    const ops: Op[] = [
      { offer: 'batch', tenant: 'beta' }, { offer: 'batch', tenant: 'acme' }, { offer: 'batch', tenant: 'acme' },
      { offer: 'interactive', tenant: 'gamma' }, { offer: 'interactive', tenant: 'gamma' }, { offer: 'batch', tenant: 'beta' },
      { offer: 'interactive', tenant: 'beta' }, { offer: 'interactive', tenant: 'beta' }, { offer: 'interactive', tenant: 'acme' },
    ];
    await compare(ops, { maxQueued: 3, policy: 'drop-lru', interactiveWeight: 2, batchWeight: 1 });
  });

  it('matches FairQueue past the exact position cap: the same exact positions below it, the same estimates beyond', async () => {
    const positions: number[] = [];
    const ops = randomOps(7, 900).map((op) => (typeof op === 'object' && 'withdraw' in op && op.withdraw % 3 !== 0 ? 'take' : op));
    const fill: Op[] = Array.from({ length: 400 }, (_, i) => ({ offer: i % 4 === 0 ? 'batch' : 'interactive', tenant: ['acme', 'beta', 'gamma', 'acme', ''][i % 5] as string }));
    await compare([...fill, ...ops], { maxQueued: 2_000, policy: 'reject', interactiveWeight: 3, batchWeight: 1 }, positions);
    expect(positions.filter((p) => p < EXACT_POSITION_CAP).length).toBeGreaterThan(100);
    expect(positions.filter((p) => p > EXACT_POSITION_CAP).length).toBeGreaterThan(100);
  });

  it.each([1, 2, 3, 4, 5, 6])('matches FairQueue over 120 random offers, takes and withdrawals (seed %i)', async (seed) => {
    const policy: PoolPolicy = seed % 2 === 0
      ? { maxQueued: 12, policy: 'drop-lru', interactiveWeight: 3, batchWeight: 1 }
      : { maxQueued: 20, policy: 'reject', interactiveWeight: 2, batchWeight: 3 };
    expect(await compare(randomOps(seed, 120), policy)).toBeGreaterThan(100);
  });
});
