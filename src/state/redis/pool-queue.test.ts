// The shared pool queue against the real Redis: the same dispatch order and positions as the
// in-memory FairQueue, engine slots never oversubscribed however many replicas claim at once,
// each task claimed exactly once, quotas exact across concurrent admitters, and three round
// trips per task (admit, claim, release).

import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FairQueue } from '../../core/queue/fair-queue.ts';
import type { Priority } from '../../core/task/events.ts';
import { redisForTest, startRedisServer, type RedisTestContext } from '../../../test/support/redis.ts';
import { openRedis } from './connection.ts';
import { stateKeys } from './keys.ts';
import { RedisPoolQueue, type AdmitRequest, type PoolPolicy } from './pool-queue.ts';

let ctx: RedisTestContext;
const POLICY: PoolPolicy = { maxQueued: 10_000, policy: 'reject', interactiveWeight: 3, batchWeight: 1 };

const queue = (redis: Redis = ctx.client, poolId = 'p') => new RedisPoolQueue({ redis, keys: stateKeys(ctx.prefix), poolId });
const task = (taskId: string, priority: Priority = 'interactive', over: Partial<AdmitRequest> = {}): AdmitRequest => ({
  taskId, priority, admittedBy: 'gw-a', maxTokens: 10, budgetTokens: 20, budgetCost: 0.5, subjects: [], ...over,
});
const NOTHING = { tokens: 0, budgetTokens: 0, budgetCost: 0 };

beforeEach(async () => {
  ctx = await redisForTest();
});
afterEach(() => ctx.cleanup());

describe('RedisPoolQueue: order and positions', () => {
  it('dispatches and numbers positions exactly as the in-memory FairQueue (two classes, weights 3:1)', async () => {
    const shared = queue();
    const local = new FairQueue<{ id: string; priority: Priority }>({ maxQueued: 100, policy: 'reject', interactiveWeight: 3, batchWeight: 1 });
    await shared.setCapacity('e0', 1_000);
    const arrivals: Priority[] = ['batch', 'batch', 'interactive', 'batch', 'interactive', 'interactive', 'interactive', 'batch', 'interactive', 'interactive', 'batch'];
    for (const [i, priority] of arrivals.entries()) {
      const id = `t${i}`;
      local.offer({ id, priority });
      const admitted = await shared.admit(task(id, priority), POLICY);
      expect(admitted).toEqual({ kind: 'queued', position: local.position(id) });
      // Take one now and then, so the round robin carries state between arrivals.
      if (i % 4 === 3) {
        const claimed = await shared.claim('gw-a', ['e0'], POLICY);
        expect(claimed.kind === 'claimed' ? claimed.task.taskId : claimed.kind).toBe(local.take()?.id);
      }
    }
    const order: string[] = [];
    for (;;) {
      const claimed = await shared.claim('gw-a', ['e0'], POLICY);
      if (claimed.kind !== 'claimed') break;
      order.push(claimed.task.taskId);
    }
    expect(order).toEqual([...local].map((e) => e.id));
  });

  it('refuses when full with policy reject, and with drop-lru sets the oldest batch task aside and its settle gives back its reservation', async () => {
    const shared = queue();
    const small: PoolPolicy = { ...POLICY, maxQueued: 2 };
    const subjects = [{ subject: 'tenant:t', limits: { max_queued_tasks: 10 } }];
    expect(await shared.admit(task('b1', 'batch', { subjects }), small)).toMatchObject({ kind: 'queued' });
    expect(await shared.admit(task('b2', 'batch', { subjects }), small)).toMatchObject({ kind: 'queued' });
    expect(await shared.admit(task('i1', 'interactive', { subjects }), small)).toEqual({ kind: 'queue_full' });
    expect(await shared.admit(task('i1', 'interactive', { subjects }), { ...small, policy: 'drop-lru' })).toEqual({ kind: 'queued', position: 0, evicted: 'b1' });
    // Set aside, b1 keeps its reservation until the newcomer's commit evicts it.
    expect(await ctx.client.hget(stateKeys(ctx.prefix).quota('tenant:t'), 'queued')).toBe('3');
    expect(await shared.settleAside('b1', 'settle', 2, 'gw-a')).toBe('evicted');
    expect(await ctx.client.hget(stateKeys(ctx.prefix).quota('tenant:t'), 'queued')).toBe('2');
    expect(await shared.admit(task('b1', 'batch'), { ...small, policy: 'drop-lru' })).toEqual({ kind: 'queued', position: 1, evicted: 'b2' });
    expect(await shared.settleAside('b2', 'settle', 2, 'gw-a')).toBe('evicted');
    expect(await ctx.client.hget(stateKeys(ctx.prefix).quota('tenant:t'), 'queued')).toBe('1');
    expect(await shared.admit(task('i1', 'interactive'), small)).toEqual({ kind: 'duplicate' });
  });
});

describe('RedisPoolQueue: claims across replicas', () => {
  it('never oversubscribes an engine slot and hands each task to exactly one of many concurrent claimers', async () => {
    const capacity: Record<string, number> = { e0: 2, e1: 3, e2: 1 };
    const setup = queue();
    for (const [engine, slots] of Object.entries(capacity)) await setup.setCapacity(engine, slots);
    const total = 300;
    await Promise.all(Array.from({ length: total }, (_, i) => setup.admit(task(`t${i}`, i % 3 === 0 ? 'batch' : 'interactive'), POLICY)));
    const claimedBy = new Map<string, string>();
    const running: Record<string, number> = { e0: 0, e1: 0, e2: 0 };
    const peak: Record<string, number> = { e0: 0, e1: 0, e2: 0 };
    let finished = 0;
    // Eight replicas, each on its own connection, each preferring the engines in its own order.
    const replicas = Array.from({ length: 8 }, (_, r) => ({ id: `gw-${r}`, shared: queue(ctx.connect()), order: ['e0', 'e1', 'e2'].map((_, i, all) => all[(i + r) % 3] as string) }));
    await Promise.all(replicas.map(async ({ id, shared, order }) => {
      while (finished < total) {
        const claimed = await shared.claim(id, order, POLICY);
        if (claimed.kind !== 'claimed') {
          await new Promise((resolve) => setTimeout(resolve, 1));
          continue;
        }
        const { taskId, engineReplica } = claimed.task;
        expect(claimedBy.has(taskId), `${taskId} claimed twice`).toBe(false);
        claimedBy.set(taskId, id);
        running[engineReplica] = (running[engineReplica] ?? 0) + 1;
        peak[engineReplica] = Math.max(peak[engineReplica] ?? 0, running[engineReplica] ?? 0);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
        running[engineReplica] = (running[engineReplica] ?? 0) - 1;
        expect(await shared.release(taskId, NOTHING, 'gw-a')).toBe(true);
        finished++;
      }
    }));
    expect(claimedBy.size).toBe(total);
    for (const engine of Object.keys(capacity)) expect(peak[engine]).toBeLessThanOrEqual(capacity[engine] as number);
    // The claimers did contend: the slots filled up, so the bound above was tested.
    expect(Object.values(peak).reduce((a, b) => a + b, 0)).toBe(6);
    expect(new Set(claimedBy.values()).size).toBeGreaterThan(1);
    expect(await setup.figures()).toEqual({ interactive: 0, batch: 0, busy: { e0: 0, e1: 0, e2: 0 } });
  });

  it('names a lost replica\'s running tasks and releases each only once', async () => {
    const shared = queue();
    await shared.setCapacity('e0', 4);
    for (const id of ['a', 'b', 'c']) await shared.admit(task(id), POLICY);
    await shared.claim('gw-dead', ['e0'], POLICY);
    await shared.claim('gw-live', ['e0'], POLICY);
    await shared.claim('gw-dead', ['e0'], POLICY);
    const lost = await shared.runningBy('gw-dead');
    expect(lost.map((t) => t.taskId).sort()).toEqual(['a', 'c']);
    for (const { taskId } of lost) expect(await shared.release(taskId, NOTHING, 'gw-a')).toBe(true);
    expect(await shared.release('a', NOTHING, 'gw-a')).toBe(false);
    expect((await shared.figures()).busy).toEqual({ e0: 1 });
  });
});

describe('RedisPoolQueue: quotas', () => {
  it('admits exactly tokens_per_min worth of tasks across concurrent admitters and names the limit it refuses', async () => {
    const subjects = [{ subject: 'tenant:acme', limits: { tokens_per_min: 1_000 } }];
    const admitters = Array.from({ length: 5 }, () => queue(ctx.connect()));
    const results = await Promise.all(Array.from({ length: 150 }, (_, i) => (admitters[i % 5] as RedisPoolQueue).admit(task(`t${i}`, 'interactive', { subjects }), POLICY)));
    expect(results.filter((r) => r.kind === 'queued')).toHaveLength(100);
    const refused = results.find((r) => r.kind === 'refused');
    expect(refused).toMatchObject({ kind: 'refused', subject: 'tenant:acme', limit: 'tokens_per_min', max: 1_000 });
    expect(refused?.kind === 'refused' ? refused.resetInMs : -1).toBeGreaterThan(0);
    expect(refused?.kind === 'refused' ? refused.resetInMs : Infinity).toBeLessThanOrEqual(60_000);
    expect(await queue().admit(task('huge', 'interactive', { subjects, maxTokens: 1_001 }), POLICY)).toEqual({ kind: 'too_large', subject: 'tenant:acme', limit: 'tokens_per_min', max: 1_000 });
  });

  it('reserves in-flight and budget at admission, settles to the real use at release, and gives all back on withdraw', async () => {
    const shared = queue();
    await shared.setCapacity('e0', 10);
    const key = stateKeys(ctx.prefix).quota('tenant:t');
    const subjects = [{ subject: 'tenant:t', limits: { max_concurrent_tasks: 2, budget: { period: 'day' as const, tokens: 100 } }, period: { startMs: 1_000, endMs: 2_000 } }];
    expect(await shared.admit(task('a', 'interactive', { subjects, maxTokens: 30, budgetTokens: 40 }), POLICY)).toMatchObject({ kind: 'queued' });
    expect(await shared.admit(task('b', 'interactive', { subjects, maxTokens: 30, budgetTokens: 40 }), POLICY)).toMatchObject({ kind: 'queued' });
    expect(await shared.admit(task('c', 'interactive', { subjects }), POLICY)).toMatchObject({ kind: 'refused', limit: 'max_concurrent_tasks', max: 2 });
    expect(await ctx.client.hmget(key, 'wr', 'wt', 'inflight', 'queued', 'pt:1000')).toEqual(['2', '60', '2', '2', '80']);
    await shared.claim('gw-a', ['e0'], POLICY);
    expect(await ctx.client.hget(key, 'queued')).toBe('1');
    expect(await shared.release('a', { tokens: 12, budgetTokens: 15, budgetCost: 0.25 }, 'gw-a')).toBe(true);
    expect(await ctx.client.hmget(key, 'wr', 'wt', 'inflight', 'queued', 'pt:1000', 'pc:1000')).toEqual(['2', '42', '1', '1', '55', '0.75']);
    expect(await shared.withdraw('b', 'gw-a')).toBe(true);
    expect(await shared.withdraw('b', 'gw-a')).toBe(false);
    expect(await ctx.client.hmget(key, 'wr', 'wt', 'inflight', 'queued', 'pt:1000', 'pc:1000')).toEqual(['1', '12', '0', '0', '15', '0.25']);
    expect(await ctx.client.pttl(key)).toBeGreaterThan(86_400_000);
  });
});

describe('RedisPoolQueue: round trips', () => {
  it('costs one round trip each to admit (with quota), claim and release', async () => {
    const redis = ctx.connect();
    const shared = queue(redis);
    const subjects = [{ subject: 'tenant:t', limits: { tokens_per_min: 100_000 } }, { subject: 'key:k', limits: { requests_per_min: 1_000 } }];
    await shared.setCapacity('e0', 1);
    // Warm the script cache (the first EVALSHA of a connection may fall back to EVAL once).
    await shared.admit(task('warm', 'interactive', { subjects }), POLICY);
    await shared.claim('gw-a', ['e0'], POLICY);
    await shared.release('warm', NOTHING, 'gw-a');
    const sent: string[] = [];
    const original = redis.sendCommand.bind(redis);
    redis.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
      sent.push(command.name);
      return (original as (...args: unknown[]) => unknown)(command, ...rest);
    }) as typeof redis.sendCommand;
    await shared.admit(task('t', 'interactive', { subjects }), POLICY);
    await shared.claim('gw-a', ['e0'], POLICY);
    await shared.release('t', NOTHING, 'gw-a');
    expect(sent).toEqual(['evalsha', 'evalsha', 'evalsha']);
  });
});

describe('RedisPoolQueue when Redis goes away', () => {
  it('refuses admissions with STATE_UNAVAILABLE and a retry hint, and admits again once Redis is back', async () => {
    const server = await startRedisServer();
    try {
      const redis = await openRedis(server.url, 'commands');
      const shared = new RedisPoolQueue({ redis, keys: stateKeys('gone:'), poolId: 'p' });
      expect(await shared.admit(task('a'), POLICY)).toMatchObject({ kind: 'queued' });
      await server.kill();
      await expect(shared.admit(task('b'), POLICY)).rejects.toMatchObject({ name: 'StateError', code: 'STATE_UNAVAILABLE', retryAfterMs: 1_000 });
      await expect(shared.claim('gw-a', ['e0'], POLICY)).rejects.toMatchObject({ code: 'STATE_UNAVAILABLE' });
      await server.restart();
      await new Promise<void>((resolve) => (redis.status === 'ready' ? resolve() : redis.once('ready', () => resolve())));
      // An empty server (no persistence): the scripts load themselves again on first use.
      expect(await shared.admit(task('b'), POLICY)).toEqual({ kind: 'queued', position: 0 });
      redis.disconnect();
    } finally {
      await server.kill();
    }
  });
});

describe('RedisPoolQueue: wake-ups of an admission', () => {
  /** Every message on the pool's wake channel, in order; a PING round trip marks "all published so far". */
  async function listen(shared: RedisPoolQueue): Promise<{ messages: string[]; flushed: () => Promise<void> }> {
    const subscriber = ctx.connect();
    const messages: string[] = [];
    subscriber.on('message', (_channel: string, message: string) => messages.push(message));
    await subscriber.subscribe(shared.wakeChannel);
    // A publish is delivered before the reply to a later command on the same subscriber connection.
    return { messages, flushed: async () => void (await subscriber.ping()) };
  }

  it('wakes the other replicas after an admission without a claim', async () => {
    const shared = queue();
    const wakes = await listen(shared);
    await shared.admit(task('t1'), POLICY);
    await wakes.flushed();
    expect(wakes.messages).toEqual(['queued']);
  });

  it('wakes nobody when the admitter\'s own claim in the same round trip took the task', async () => {
    const shared = queue();
    await shared.setCapacity('e0', 1);
    const wakes = await listen(shared);
    const { admit, claim } = await shared.admitAndClaim(task('t1'), POLICY, undefined, { claimer: 'gw-a', candidates: ['e0'] });
    expect([admit.kind, claim?.kind === 'claimed' ? claim.task.taskId : claim?.kind]).toEqual(['queued', 't1']);
    await wakes.flushed();
    expect(wakes.messages).toEqual([]);
  });

  it('wakes the other replicas for what the admitter\'s claim left queued', async () => {
    const shared = queue();
    await shared.setCapacity('e0', 1);
    await shared.setCapacity('e1', 1);
    await shared.admit(task('t0'), POLICY);
    const wakes = await listen(shared);
    // The claim takes the older t0; t1 stays queued for a replica with e1.
    const { claim } = await shared.admitAndClaim(task('t1'), POLICY, undefined, { claimer: 'gw-a', candidates: ['e0'] });
    expect(claim?.kind === 'claimed' ? claim.task.taskId : claim?.kind).toBe('t0');
    await wakes.flushed();
    expect(wakes.messages).toEqual(['queued']);
  });
});
