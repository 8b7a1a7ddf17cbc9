// Client task_ids across replicas, against the real Redis: the admit script checks and holds the
// id in the step that queues the task (same body → first answer, other body → conflict, an
// unanswered first admission → in flight), so of replicas racing one id exactly one admits.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redisForTest, type RedisTestContext } from '../../../test/support/redis.ts';
import { RedisIdempotency } from './idempotency.ts';
import { stateKeys } from './keys.ts';
import { RedisPoolQueue, type AdmitRequest, type PoolPolicy } from './pool-queue.ts';

let ctx: RedisTestContext;
const POLICY: PoolPolicy = { maxQueued: 100, policy: 'reject', interactiveWeight: 3, batchWeight: 1 };
const TTL_MS = 60_000;

beforeEach(async () => {
  ctx = await redisForTest();
});
afterEach(() => ctx.cleanup());

const queue = (redis = ctx.client) => new RedisPoolQueue({ redis, keys: stateKeys(ctx.prefix), poolId: 'p' });
const store = () => new RedisIdempotency({ redis: ctx.client, keys: stateKeys(ctx.prefix), ttlMs: TTL_MS });
/** A replica's admission of client task_id `id` (its own internal task id) with body digest `digest`. */
const request = (taskId: string, digest: string, over: Partial<AdmitRequest> = {}): AdmitRequest => ({
  taskId, priority: 'interactive', admittedBy: 'gw-a', maxTokens: 10, budgetTokens: 0, budgetCost: 0, subjects: [],
  idempotency: { key: 'tenant-a/job-1', digest, ttlMs: TTL_MS }, ...over,
});

describe('idempotency in the admit script', () => {
  it('admits exactly one of eight replicas racing the same task_id; the others see it in flight', async () => {
    const replicas = Array.from({ length: 8 }, () => queue(ctx.connect()));
    const results = await Promise.all(replicas.map((q, r) => q.admit(request(`t-${r}`, 'digest-1', { admittedBy: `gw-${r}` }), POLICY)));
    expect(results.filter((r) => r.kind === 'queued')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'in_flight')).toHaveLength(7);
    expect((await queue().figures()).interactive).toBe(1);
  });

  it('replays the first answer to the same body, refuses another body, and holds the record for its TTL', async () => {
    const shared = queue();
    const ids = store();
    expect(await shared.admit(request('t1', 'digest-1'), POLICY)).toEqual({ kind: 'queued', position: 0 });
    expect(await ids.check('tenant-a/job-1', 'digest-1')).toEqual({ kind: 'conflict' });
    const answer = { task_id: 'job-1', queue_position: 0, predicted_start_ms: 12 };
    expect(await ids.remember('tenant-a/job-1', 'digest-1', answer)).toBe(true);
    expect(await shared.admit(request('t2', 'digest-1', { admittedBy: 'gw-b' }), POLICY)).toEqual({ kind: 'replay', answer });
    expect(await shared.admit(request('t3', 'digest-2'), POLICY)).toEqual({ kind: 'conflict' });
    expect(await ids.check('tenant-a/job-1', 'digest-1')).toEqual({ kind: 'replay', answer });
    expect(await ids.check('tenant-a/job-1', 'digest-2')).toEqual({ kind: 'conflict' });
    const ttl = await ctx.client.pttl(stateKeys(ctx.prefix).idempotency('tenant-a/job-1'));
    expect(ttl).toBeGreaterThan(TTL_MS - 5_000);
    expect(ttl).toBeLessThanOrEqual(TTL_MS);
    // Only the first admission queued anything.
    expect((await shared.figures()).interactive).toBe(1);
  });

  it('leaves no record when the admission is refused, and none after forget, so the id admits again', async () => {
    const shared = queue();
    const ids = store();
    const full: PoolPolicy = { ...POLICY, maxQueued: 0 };
    expect(await shared.admit(request('t1', 'digest-1'), full)).toEqual({ kind: 'queue_full' });
    expect(await ids.check('tenant-a/job-1', 'digest-1')).toEqual({ kind: 'new' });
    expect(await shared.admit(request('t1', 'digest-1'), POLICY)).toMatchObject({ kind: 'queued' });
    await ids.forget('tenant-a/job-1');
    // A rolled-back admission forgets its record; a late remember then stores nothing.
    expect(await ids.remember('tenant-a/job-1', 'digest-1', { late: true })).toBe(false);
    expect(await ids.check('tenant-a/job-1', 'digest-1')).toEqual({ kind: 'new' });
    expect(await shared.admit(request('t2', 'digest-2'), POLICY)).toMatchObject({ kind: 'queued' });
  });

  it('keeps admission at one round trip with a task_id', async () => {
    const redis = ctx.connect();
    const shared = queue(redis);
    await shared.admit(request('warm', 'digest-0', { idempotency: { key: 'warm', digest: 'd', ttlMs: TTL_MS } }), POLICY);
    const sent: string[] = [];
    const original = redis.sendCommand.bind(redis);
    redis.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
      sent.push(command.name);
      return (original as (...args: unknown[]) => unknown)(command, ...rest);
    }) as typeof redis.sendCommand;
    await shared.admit(request('t1', 'digest-1'), POLICY);
    await shared.admit(request('t2', 'digest-1'), POLICY);
    expect(sent).toEqual(['evalsha', 'evalsha']);
  });

  it('lists a replica\'s unanswered task_ids until they are answered or forgotten, and frees only those', async () => {
    const shared = queue();
    const ids = store();
    const key = (name: string) => stateKeys(ctx.prefix).idempotency(name);
    for (const [taskId, name] of [['t1', 'job-1'], ['t2', 'job-2'], ['t3', 'job-3']] as const) {
      expect(await shared.admit(request(taskId, 'd', { idempotency: { key: name, digest: 'd', ttlMs: TTL_MS } }), POLICY)).toMatchObject({ kind: 'queued' });
    }
    expect(await shared.admit(request('t4', 'd', { admittedBy: 'gw-b', idempotency: { key: 'job-4', digest: 'd', ttlMs: TTL_MS } }), POLICY)).toMatchObject({ kind: 'queued' });
    expect(await ids.remember('job-1', 'd', { task_id: 't1' })).toBe(true);
    await ids.forget('job-2');
    expect(await ids.unansweredBy('gw-a')).toEqual([{ recordKey: key('job-3'), taskId: 't3', poolId: 'p' }]);
    expect(await ctx.client.smembers(stateKeys(ctx.prefix).unansweredTaskIds('gw-a'))).toEqual([key('job-3')]);
    // Freeing names the lost replica: another replica's record, or an answered one, stays.
    expect(await ids.free('gw-a', key('job-4'))).toBe(false);
    expect(await ids.free('gw-a', key('job-1'))).toBe(false);
    expect(await ids.free('gw-a', key('job-3'))).toBe(true);
    expect(await ids.free('gw-a', key('job-3'))).toBe(false);
    expect(await ids.unansweredBy('gw-a')).toEqual([]);
    expect(await ids.check('job-4', 'd')).toEqual({ kind: 'conflict' });
    expect(await ids.check('job-1', 'd')).toEqual({ kind: 'replay', answer: { task_id: 't1' } });
  });
});
