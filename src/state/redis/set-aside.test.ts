// A drop-lru victim set aside by an admission until its commit (ORCH-0115) against the real Redis:
// put back at its lane head with everything it held (the order FairQueue.restore gives), evicted
// with its reservation given back exactly once, ended once when a cancel races the settle, and
// settled by the survivor when its admitter is lost.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FairQueue } from '../../core/queue/fair-queue.ts';
import type { Priority } from '../../core/task/events.ts';
import { redisForTest, type RedisTestContext } from '../../../test/support/redis.ts';
import { RedisEventLogs } from './event-log.ts';
import { stateKeys } from './keys.ts';
import { endLostReplicaTasks } from './lost-replica.ts';
import { RedisPoolQueue, type AdmitRequest, type PoolPolicy } from './pool-queue.ts';
import { RedisTaskRegistry } from './task-registry.ts';

let ctx: RedisTestContext;
const FULL_AT_3: PoolPolicy = { maxQueued: 3, policy: 'drop-lru', interactiveWeight: 3, batchWeight: 1 };
const SUBJECT = 'tenant:a';

interface Entry { id: string; priority: Priority; tenant: string }

const queue = (redis = ctx.client) => new RedisPoolQueue({ redis, keys: stateKeys(ctx.prefix), poolId: 'p', retentionMs: 60_000 });
const task = (taskId: string, priority: Priority, tenant: string, over: Partial<AdmitRequest> = {}): AdmitRequest => ({
  taskId, priority, tenant, admittedBy: 'gw-a', maxTokens: 10, budgetTokens: 0, budgetCost: 0,
  subjects: tenant === 'a' ? [{ subject: SUBJECT, limits: { max_queued_tasks: 100 } }] : [], ...over,
});
const quota = async () => ctx.client.hmget(stateKeys(ctx.prefix).quota(SUBJECT), 'queued', 'inflight', 'wt');
const drain = async (shared: RedisPoolQueue): Promise<string[]> => {
  const order: string[] = [];
  for (let c = await shared.claim('gw-a', ['e0'], FULL_AT_3); c.kind === 'claimed'; c = await shared.claim('gw-a', ['e0'], FULL_AT_3)) order.push(c.task.taskId);
  return order;
};

/** Tenant a queues a1, a2 and b queues b1 (batch); an interactive newcomer sets a1 aside. */
async function fullWithVictim(shared: RedisPoolQueue, local: FairQueue<Entry>): Promise<void> {
  for (const [id, tenant] of [['a1', 'a'], ['b1', 'b'], ['a2', 'a']] as const) {
    local.offer({ id, priority: 'batch', tenant });
    expect(await shared.admit(task(id, 'batch', tenant), FULL_AT_3)).toMatchObject({ kind: 'queued' });
  }
  expect(local.offer({ id: 'n', priority: 'interactive', tenant: 'b' })).toMatchObject({ admitted: true, evicted: { id: 'a1' } });
  expect(await shared.admit(task('n', 'interactive', 'b'), FULL_AT_3)).toMatchObject({ kind: 'queued', evicted: 'a1' });
}

beforeEach(async () => {
  ctx = await redisForTest();
  await queue().setCapacity('e0', 100);
});
afterEach(() => ctx.cleanup());

describe('RedisPoolQueue: a drop-lru victim set aside until the commit', () => {
  it('keeps the victim out of every claim but holding its reservation and registry record while set aside', async () => {
    const shared = queue();
    await fullWithVictim(shared, new FairQueue<Entry>(FULL_AT_3));
    expect(await quota()).toEqual(['2', '2', '20']);
    expect(await new RedisTaskRegistry({ redis: ctx.client, keys: stateKeys(ctx.prefix) }).locate('a1')).toMatchObject({ owner: 'gw-a', state: 'queued' });
    expect(await shared.queuedBy('gw-a')).toContain('a1');
    expect(await drain(shared)).not.toContain('a1');
  });

  it('puts a victim back at the head of its tenant lane with its reservation when the newcomer is refused, as FairQueue.restore', async () => {
    const shared = queue();
    const local = new FairQueue<Entry>(FULL_AT_3);
    await fullWithVictim(shared, local);
    // The newcomer refused at its commit: withdrawn, then its victim back as if never offered.
    expect(await shared.withdraw('n', 'gw-a')).toBe(true);
    const victim = local.remove('n') && { id: 'a1', priority: 'batch' as const, tenant: 'a' };
    local.restore(victim as Entry);
    expect(await shared.settleAside('a1', 'restore', 3, 'gw-a')).toBe('restored');
    expect(await shared.settleAside('a1', 'restore', 3, 'gw-a')).toBe('gone');
    expect(await quota()).toEqual(['2', '2', '20']);
    expect(await drain(shared)).toEqual([...local].map((e) => e.id));
    expect(await quota()).toEqual(['0', '2', '20']);
  });

  it('forms a lane that emptied meanwhile anew at the end of the lane order when it puts its victim back', async () => {
    const shared = queue();
    // Memory's steps for the same story: the offer sets a1 aside, the restore puts it back.
    const local = new FairQueue<Entry>({ ...FULL_AT_3, maxQueued: 10 });
    local.offer({ id: 'a1', priority: 'batch', tenant: 'a' });
    await shared.admit(task('a1', 'batch', 'a'), { ...FULL_AT_3, maxQueued: 1 });
    local.offer({ id: 'n', priority: 'batch', tenant: 'b' });
    local.remove('a1');
    expect(await shared.admit(task('n', 'batch', 'b'), { ...FULL_AT_3, maxQueued: 1 })).toMatchObject({ evicted: 'a1' });
    for (const [id, tenant] of [['b2', 'b'], ['c1', 'c']] as const) {
      local.offer({ id, priority: 'batch', tenant });
      await shared.admit(task(id, 'batch', tenant), { ...FULL_AT_3, maxQueued: 10 });
    }
    local.restore({ id: 'a1', priority: 'batch', tenant: 'a' });
    expect(await shared.settleAside('a1', 'restore', 1, 'gw-a')).toBe('restored');
    const order = await drain(shared);
    expect(order).toEqual([...local].map((e) => e.id));
    expect(order).toEqual(['n', 'c1', 'a1', 'b2']);
  });

  it('evicts the victim after a commit, giving its reservation back exactly once and ending its registry record', async () => {
    const shared = queue();
    await fullWithVictim(shared, new FairQueue<Entry>(FULL_AT_3));
    expect(await shared.settleAside('a1', 'settle', 3, 'gw-b')).toBe('evicted');
    // Queued, in flight and its tokens in this minute's window all go back (as a withdrawal's).
    expect(await quota()).toEqual(['1', '1', '10']);
    expect(await shared.settleAside('a1', 'settle', 3, 'gw-b')).toBe('gone');
    expect(await shared.withdraw('a1', 'gw-a')).toBe(false);
    expect(await quota()).toEqual(['1', '1', '10']);
    expect(await new RedisTaskRegistry({ redis: ctx.client, keys: stateKeys(ctx.prefix) }).locate('a1')).toMatchObject({ owner: 'gw-b', state: 'ended' });
  });

  it('keeps the victim queued after a commit when the queue has room again (a claim took work in the window)', async () => {
    const shared = queue();
    await fullWithVictim(shared, new FairQueue<Entry>(FULL_AT_3));
    expect(await shared.claim('gw-a', ['e0'], FULL_AT_3)).toMatchObject({ kind: 'claimed', task: { taskId: 'n' } });
    expect(await shared.settleAside('a1', 'settle', 3, 'gw-a')).toBe('restored');
    expect(await drain(shared)).toEqual(['a1', 'b1', 'a2']);
  });

  it('ends a victim once when its cancel races the settle: either the withdrawal or the eviction, reservation given back once', async () => {
    for (let round = 0; round < 20; round++) {
      await ctx.cleanup();
      ctx = await redisForTest();
      const admitter = queue();
      await fullWithVictim(admitter, new FairQueue<Entry>(FULL_AT_3));
      const canceler = queue(ctx.connect());
      const [withdrawn, settled] = await Promise.all([canceler.withdraw('a1', 'gw-c'), admitter.settleAside('a1', round % 2 === 0 ? 'settle' : 'restore', 3, 'gw-a')]);
      // Never both ended: a withdrawal first leaves the settle nothing; an eviction first, the withdrawal nothing.
      expect(withdrawn && settled === 'evicted').toBe(false);
      const ended = withdrawn || settled === 'evicted';
      expect((await quota())[0]).toBe(ended ? '1' : '2');
      // Put back first and then withdrawn by that cancel, or still queued for a later one: its reservation goes back once.
      expect(await canceler.withdraw('a1', 'gw-c')).toBe(!ended);
      expect((await quota())[0]).toBe('1');
    }
  });

  it('is settled by the survivor of its lost admitter as a commit would, evicted with one terminal event', async () => {
    const keys = stateKeys(ctx.prefix);
    const shared = queue();
    await fullWithVictim(shared, new FairQueue<Entry>(FULL_AT_3));
    const logs = new RedisEventLogs({ redis: ctx.client, blocking: ctx.connect(), keys, retentionMs: 60_000 });
    const ended: string[] = [];
    const deps = {
      pools: new Map([['p', shared]]), logs, registry: new RedisTaskRegistry({ redis: ctx.client, keys }), survivor: 'gw-b',
      aside: { maxQueued: () => 3, ended: async (_pool: string, id: string) => void ended.push(id) },
    };
    await endLostReplicaTasks('gw-a', deps);
    await endLostReplicaTasks('gw-a', deps);
    expect(ended).toEqual(['a1']);
    expect(await quota()).toEqual(['1', '1', '10']);
    expect(await shared.asideBy('gw-a')).toEqual([]);
    await logs.close();
  });
});
