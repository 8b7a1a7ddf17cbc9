// The task registry against the real Redis: the pool scripts move a task's record with the task
// (admitted → claimed → ended or evicted) in the same atomic steps, so GET and cancel on any replica find the
// replica that answers for it, and an ended task stays findable for the retention window only.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redisForTest, type RedisTestContext } from '../../../test/support/redis.ts';
import { stateKeys } from './keys.ts';
import { RedisPoolQueue, type AdmitRequest } from './pool-queue.ts';
import { RedisTaskRegistry } from './task-registry.ts';

let ctx: RedisTestContext;
const POLICY = { maxQueued: 10, policy: 'reject' as const, interactiveWeight: 3, batchWeight: 1 };
const task = (taskId: string): AdmitRequest => ({ taskId, priority: 'interactive', admittedBy: 'gw-a', maxTokens: 1, budgetTokens: 0, budgetCost: 0, subjects: [] });

beforeEach(async () => {
  ctx = await redisForTest();
});
afterEach(() => ctx.cleanup());

describe('RedisTaskRegistry', () => {
  it('names the admitting replica while queued, the claimer while running, and the ender for the retention window', async () => {
    const keys = stateKeys(ctx.prefix);
    const queue = new RedisPoolQueue({ redis: ctx.client, keys, poolId: 'chat', retentionMs: 5_000, backstopMs: 3_600_000 });
    const registry = new RedisTaskRegistry({ redis: ctx.client, keys });
    await queue.setCapacity('e0', 1);
    expect(await registry.locate('t1')).toBeUndefined();
    await queue.admit(task('t1'), POLICY);
    const queued = await registry.locate('t1');
    expect(queued).toMatchObject({ owner: 'gw-a', poolId: 'chat', state: 'queued' });
    expect(queued?.ttlMs).toBeGreaterThan(3_000_000);
    await queue.claim('gw-b', ['e0'], POLICY);
    expect(await registry.locate('t1')).toMatchObject({ owner: 'gw-b', state: 'running' });
    await queue.release('t1', { tokens: 1, budgetTokens: 0, budgetCost: 0 }, 'gw-b');
    const ended = await registry.locate('t1');
    expect(ended).toMatchObject({ owner: 'gw-b', state: 'ended' });
    expect(ended?.ttlMs).toBeGreaterThan(0);
    expect(ended?.ttlMs).toBeLessThanOrEqual(5_000);
  });

  it('marks a withdrawn task ended by the withdrawing replica, and a refused one is never registered', async () => {
    const keys = stateKeys(ctx.prefix);
    const queue = new RedisPoolQueue({ redis: ctx.client, keys, poolId: 'chat', retentionMs: 5_000 });
    const registry = new RedisTaskRegistry({ redis: ctx.client, keys });
    await queue.admit(task('t1'), POLICY);
    expect(await queue.withdraw('t1', 'gw-c')).toBe(true);
    expect(await registry.locate('t1')).toMatchObject({ owner: 'gw-c', state: 'ended' });
    expect(await queue.admit(task('t2'), { ...POLICY, maxQueued: 0 })).toEqual({ kind: 'queue_full' });
    expect(await registry.locate('t2')).toBeUndefined();
  });

  it('marks a task evicted under drop-lru ended by the replica whose admission\'s commit evicted it', async () => {
    const keys = stateKeys(ctx.prefix);
    const queue = new RedisPoolQueue({ redis: ctx.client, keys, poolId: 'chat', retentionMs: 5_000 });
    const registry = new RedisTaskRegistry({ redis: ctx.client, keys });
    const one = { ...POLICY, maxQueued: 1, policy: 'drop-lru' as const };
    await queue.admit({ ...task('old'), priority: 'batch' }, one);
    expect(await queue.admit({ ...task('new'), admittedBy: 'gw-b' }, one)).toMatchObject({ kind: 'queued', evicted: 'old' });
    // Set aside until the newcomer's commit: still queued (and cancellable) on its own admitter.
    expect(await registry.locate('old')).toMatchObject({ owner: 'gw-a', state: 'queued' });
    expect(await queue.settleAside('old', 'settle', 1, 'gw-b')).toBe('evicted');
    const evicted = await registry.locate('old');
    expect(evicted).toMatchObject({ owner: 'gw-b', state: 'ended' });
    expect(evicted?.ttlMs).toBeLessThanOrEqual(5_000);
    expect(await registry.locate('new')).toMatchObject({ owner: 'gw-b', state: 'queued' });
  });

  it('lets a survivor adopt only a lost replica\'s queued tasks', async () => {
    const keys = stateKeys(ctx.prefix);
    const queue = new RedisPoolQueue({ redis: ctx.client, keys, poolId: 'chat' });
    const registry = new RedisTaskRegistry({ redis: ctx.client, keys });
    await queue.admit(task('t1'), POLICY);
    expect(await queue.queuedBy('gw-a')).toEqual(['t1']);
    expect(await registry.adopt('t1', 'gw-x', 'gw-b')).toBe(false);
    expect(await registry.adopt('t1', 'gw-a', 'gw-b')).toBe(true);
    expect(await registry.locate('t1')).toMatchObject({ owner: 'gw-b', state: 'queued' });
    await queue.withdraw('t1', 'gw-b');
    expect(await registry.adopt('t1', 'gw-b', 'gw-c')).toBe(false);
  });
});
