// The tenant session cap (limits.max_sessions) on the real Redis: the admit script counts a new
// session against its owner from the admission that creates it, the create script checks the
// caps in its own step, a refusal changes nothing, and RedisQuotaStanding reads what they count.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redisForTest, type RedisTestContext } from '../../../test/support/redis.ts';
import type { QuotaLimits } from '../../core/tenancy/limits.ts';
import { stateKeys } from './keys.ts';
import { RedisPoolQueue, type AdmitRequest, type PoolPolicy } from './pool-queue.ts';
import { RedisQuotaStanding } from './quota-standing.ts';
import { RedisSessionStore } from './session-store.ts';

let ctx: RedisTestContext;
const POLICY: PoolPolicy = { maxQueued: 1_000, policy: 'reject', interactiveWeight: 3, batchWeight: 1 };
const TENANT: QuotaLimits = { max_sessions: 2 };

beforeEach(async () => {
  ctx = await redisForTest();
});
afterEach(() => ctx.cleanup());

const keys = () => stateKeys(ctx.prefix);
const sessions = (redis = ctx.client) => new RedisSessionStore({ redis, keys: keys(), replicaId: 'gw', ttlMs: 60_000, maxTurns: 5, maxSessions: 100 });
const queue = (redis = ctx.client) => new RedisPoolQueue({ redis, keys: keys(), poolId: 'demo' });
const standing = (over: { key?: QuotaLimits } = {}) => new RedisQuotaStanding({
  redis: ctx.client, keys: keys(),
  subjectsOf: () => [{ subject: 'tenant:acme', limits: TENANT }, ...(over.key ? [{ subject: 'key:k1', limits: over.key }] : [])],
});
const turn = (taskId: string, sessionId: string, over: { owner?: string; key?: QuotaLimits } = {}): AdmitRequest => ({
  taskId, priority: 'interactive', tenant: 'acme', admittedBy: 'gw', maxTokens: 10, budgetTokens: 10, budgetCost: 0,
  subjects: [{ subject: 'tenant:acme', limits: TENANT }, ...(over.key ? [{ subject: 'key:k1', limits: over.key }] : [])],
  session: { id: sessionId, defaults: sessions().defaults, trackHold: true, owner: over.owner ?? 'acme' },
});
const caps = (max = 2) => ({ caps: [{ subject: 'tenant:acme', max }], backoffMs: 1_000 });

describe('the tenant session cap in the admit script', () => {
  it('counts a new session from its admission: the third new session is refused and nothing changes', async () => {
    expect(await queue().admit(turn('t1', 's1'), POLICY)).toMatchObject({ kind: 'queued' });
    expect(await queue().admit(turn('t2', 's2'), POLICY)).toMatchObject({ kind: 'queued' });
    const before = await ctx.client.hgetall(keys().quota('tenant:acme'));
    const refused = await queue().admit(turn('t3', 's3'), POLICY);
    expect(refused).toEqual({ kind: 'refused', subject: 'tenant:acme', limit: 'max_sessions', max: 2, resetInMs: expect.any(Number) });
    // The soonest of the owner's sessions frees a place: here the hold backstop of one being created.
    expect(refused.kind === 'refused' && refused.resetInMs).toBeGreaterThan(590_000);
    expect(await ctx.client.hgetall(keys().quota('tenant:acme'))).toEqual(before);
    expect(await ctx.client.exists(keys().session('s3'))).toBe(0);
    expect(await ctx.client.hexists(keys().pool('demo').entries, 't3')).toBe(0);
    expect(await ctx.client.zcard(keys().ownedSessions('acme'))).toBe(2);
    // Another turn of a session being created is no new session.
    expect(await queue().admit(turn('t4', 's1'), POLICY)).toMatchObject({ kind: 'queued' });
  });

  it('gives the place back when the last hold of a session being created goes, and keeps it once created', async () => {
    const store = sessions();
    await queue().admit(turn('t1', 's1'), POLICY);
    await queue().admit(turn('t2', 's2'), POLICY);
    expect(await queue().withdraw('t1', 'gw')).toBe(true);
    expect(await store.ownedBy('acme')).toMatchObject({ count: 1 });
    expect(await queue().admit(turn('t3', 's3'), POLICY)).toMatchObject({ kind: 'queued' });
    // Confirmed: s2 is created and scored by its expiry (the TTL), no longer by the hold backstop.
    expect((await store.confirmTurn('s2', 10, { owner: 'acme' }, 't2')).ok).toBe(true);
    const score = Number(await ctx.client.zscore(keys().ownedSessions('acme'), keys().session('s2')));
    const [seconds] = await ctx.client.time();
    expect(score - Number(seconds) * 1000).toBeLessThanOrEqual(61_000);
    expect(await ctx.client.hget(keys().session('s2'), 'po:acme')).toBeNull();
    expect(await queue().admit(turn('t4', 's4'), POLICY)).toMatchObject({ kind: 'refused', limit: 'max_sessions' });
    // Deleted: its place is free again.
    expect(await store.delete('s2')).toBe(true);
    expect(await queue().admit(turn('t5', 's5'), POLICY)).toMatchObject({ kind: 'queued' });
  });

  it('gives the place back when a takeover gives a lost replica\'s holds back', async () => {
    await queue().admit(turn('t1', 's1'), POLICY);
    await queue().admit(turn('t2', 's2'), POLICY);
    expect(await sessions().giveBackHolds('gw')).toBe(2);
    expect(await sessions().ownedBy('acme')).toEqual({ count: 0 });
    expect(await ctx.client.exists(keys().session('s1'))).toBe(0);
  });

  it('names the key when its own cap is the one crossed, and leaves a live session\'s turns alone', async () => {
    const store = sessions();
    expect((await store.create({ session_id: 'live', owner: 'acme' }, caps())).ok).toBe(true);
    expect(await queue().admit(turn('t1', 'k1', { key: { max_sessions: 1 } }), POLICY)).toMatchObject({ kind: 'refused', subject: 'key:k1', limit: 'max_sessions', max: 1 });
    expect(await queue().admit(turn('t2', 'k2'), POLICY)).toMatchObject({ kind: 'queued' });
    // At the cap, a turn of a session that lives already is admitted.
    expect(await queue().admit(turn('t3', 'live'), POLICY)).toMatchObject({ kind: 'queued' });
  });

  it('admits exactly the cap of 12 concurrent admissions of new sessions from four connections', async () => {
    const queues = Array.from({ length: 4 }, () => queue(ctx.connect()));
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => (queues[i % 4] as RedisPoolQueue).admit(turn(`t${i}`, `s${i}`), POLICY)));
    expect(results.filter((r) => r.kind === 'queued')).toHaveLength(2);
    expect(results.filter((r) => r.kind === 'refused')).toHaveLength(10);
    expect(Number((await ctx.client.hget(keys().quota('tenant:acme'), 'inflight')) ?? 0)).toBe(2);
  });

  it('counts sessions for their own owner only: another tenant with no cap is not counted against acme', async () => {
    await queue().admit(turn('t1', 'o1', { owner: 'other' }), POLICY);
    await queue().admit(turn('t2', 'o2', { owner: 'other' }), POLICY);
    expect(await queue().admit(turn('t3', 's1'), POLICY)).toMatchObject({ kind: 'queued' });
  });
});

describe('the tenant session cap in the create script', () => {
  it('refuses past the cap with 429 RATE_LIMITED naming max_sessions and the soonest expiry, creating nothing', async () => {
    const store = sessions();
    expect((await store.create({ session_id: 'a', owner: 'acme', ttl_ms: 30_000 }, caps())).ok).toBe(true);
    expect((await store.create({ session_id: 'b', owner: 'acme' }, caps())).ok).toBe(true);
    const refused = await store.create({ session_id: 'c', owner: 'acme' }, caps());
    expect(refused).toEqual({ ok: false, error: { code: 'RATE_LIMITED', retriable: true, limit: 'max_sessions', retry_after_ms: expect.any(Number), message: 'tenant acme reached its max_sessions limit (2 live sessions)' } });
    expect(!refused.ok && refused.error.retry_after_ms).toBeLessThanOrEqual(30_000);
    expect(!refused.ok && refused.error.retry_after_ms).toBeGreaterThan(25_000);
    expect(await ctx.client.exists(keys().session('c'))).toBe(0);
    // The caps come before the id's conflict, as the memory route checks the quota first.
    expect(await store.create({ session_id: 'a', owner: 'acme' }, caps())).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
    expect(await store.create({ session_id: 'a', owner: 'acme' }, caps(3))).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    // An owner with a cap of 0 has no session to wait for: the caller's backoff.
    expect(await store.create({ session_id: 'z', owner: 'empty' }, caps(0))).toMatchObject({ ok: false, error: { retry_after_ms: 1_000 } });
  });

  it('counts sessions admissions are creating, and creates one of them without counting it twice', async () => {
    const store = sessions();
    await queue().admit(turn('t1', 'p1'), POLICY);
    expect((await store.create({ session_id: 'a', owner: 'acme' }, caps())).ok).toBe(true);
    expect(await store.create({ session_id: 'b', owner: 'acme' }, caps())).toMatchObject({ ok: false, error: { limit: 'max_sessions' } });
    expect((await store.create({ session_id: 'p1', owner: 'acme' }, caps())).ok).toBe(true);
    expect(await store.ownedBy('acme')).toMatchObject({ count: 2 });
  });

  it('frees the place of an expired session', async () => {
    const store = sessions();
    await store.create({ session_id: 'brief', owner: 'acme', ttl_ms: 300 }, caps(1));
    expect(await store.create({ session_id: 'next', owner: 'acme' }, caps(1))).toMatchObject({ ok: false });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await store.create({ session_id: 'next', owner: 'acme' }, caps(1))).ok).toBe(true);
  });
});

describe('RedisQuotaStanding', () => {
  it('reads the counters the admit script keeps and the owner\'s sessions, as core\'s QuotaStanding', async () => {
    await queue().admit({ ...turn('t1', 's1', { key: { requests_per_min: 9 } }), maxTokens: 7 }, POLICY);
    const read = await standing({ key: { requests_per_min: 9 } }).standing({ tenant: 'acme', keyId: 'key:k1' });
    expect(read.subjects.map((s) => s.subject)).toEqual(['tenant:acme', 'key:k1']);
    for (const s of read.subjects) {
      expect(s.usage).toMatchObject({ window: { requests: 1, tokens: 7 }, inFlight: 1, queued: 1, sessions: { count: 1, nextExpiryMs: expect.any(Number) } });
      expect(s.usage.window.startMs).toBe(Math.floor(read.now / 60_000) * 60_000);
    }
  });

  it('reads the budget period holding now, and nothing for a caller who never ran', async () => {
    const budgeted: QuotaLimits = { budget: { period: 'day', tokens: 1_000 } };
    const reader = new RedisQuotaStanding({ redis: ctx.client, keys: keys(), subjectsOf: () => [{ subject: 'tenant:acme', limits: budgeted }] });
    expect((await reader.standing({ tenant: 'acme', keyId: '' })).subjects[0]?.usage).toMatchObject({ inFlight: 0, queued: 0, sessions: { count: 0 }, period: { tokens: 0, cost: 0 } });
    const now = Number((await ctx.client.time())[0]) * 1000;
    const start = Math.floor(now / 86_400_000) * 86_400_000;
    await queue().admit({ ...turn('t1', 's1'), subjects: [{ subject: 'tenant:acme', limits: budgeted, period: { startMs: start, endMs: start + 86_400_000 } }], budgetTokens: 40 }, POLICY);
    const usage = (await reader.standing({ tenant: 'acme', keyId: '' })).subjects[0]?.usage;
    expect(usage?.period).toEqual({ startMs: start, endMs: start + 86_400_000, tokens: 40, cost: 0 });
  });
});
