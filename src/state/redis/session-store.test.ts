// Sessions shared across replicas, against the real Redis: the same standings as the in-memory
// MemorySessionStore for the same operations, the admit script checking and holding a turn in
// the admission's one step (so concurrent turns on any replica never pass the turn cap or the
// token budget), TTL with the SESSION_EXPIRED tombstone, the cluster-wide session cap, affinity.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../test/support/fake-clock.ts';
import { redisForTest, type RedisTestContext } from '../../../test/support/redis.ts';
import { MemorySessionStore } from '../../core/session/session-store.ts';
import type { TurnUsage } from '../../core/session/session-record.ts';
import { stateKeys } from './keys.ts';
import { RedisPoolQueue, type AdmitRequest, type PoolPolicy } from './pool-queue.ts';
import { RedisSessionStore } from './session-store.ts';

let ctx: RedisTestContext;
const POLICY: PoolPolicy = { maxQueued: 1_000, policy: 'reject', interactiveWeight: 3, batchWeight: 1 };
const OPTIONS = { ttlMs: 60_000, maxTurns: 3, maxSessions: 100 };
const usage = (u: Partial<TurnUsage> = {}): TurnUsage => ({ tokens: 10, time_ms: 100, cost: 0.5, pool_id: 'demo', replica_id: 'r1', ...u });

beforeEach(async () => {
  ctx = await redisForTest();
});
afterEach(() => ctx.cleanup());

const sessions = (redis = ctx.client, over: Partial<typeof OPTIONS> & { replicaId?: string } = {}) => new RedisSessionStore({ redis, keys: stateKeys(ctx.prefix), replicaId: 'gw', ...OPTIONS, ...over });
const queue = (redis = ctx.client) => new RedisPoolQueue({ redis, keys: stateKeys(ctx.prefix), poolId: 'demo' });
const turn = (taskId: string, store: RedisSessionStore, sessionId: string, maxTokens = 10): AdmitRequest => ({
  taskId, priority: 'interactive', admittedBy: 'gw', maxTokens, budgetTokens: 0, budgetCost: 0, subjects: [], session: { id: sessionId, defaults: store.defaults },
});

/** A copy without the wall-clock fields, which differ by design (Redis server time vs the fake clock). */
function wallClockFree(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(wallClockFree);
  if (value === null || typeof value !== 'object') return value;
  const clocked = new Set(['ttl_ms_remaining', 'created_at', 'expires_at']);
  return Object.fromEntries(Object.entries(value).filter(([key]) => !clocked.has(key)).map(([key, v]) => [key, wallClockFree(v)]));
}

describe('RedisSessionStore: same standings as MemorySessionStore', () => {
  it('answers every step of a session\'s life as the in-memory store does', async () => {
    const shared = sessions();
    const local = new MemorySessionStore(OPTIONS, new FakeClock());
    const steps: Array<[string, (s: RedisSessionStore | MemorySessionStore) => unknown]> = [
      ['create with budgets', (s) => s.create({ session_id: 'a', owner: 'acme', max_turns: 4, budgets: { tokens: 100, cost: 2 } })],
      ['hold 40', (s) => s.hold('a', 40)],
      ['hold 50', (s) => s.hold('a', 50)],
      ['release 50', (s) => s.release('a', 50)],
      ['confirm', (s) => s.confirmTurn('a', 40)],
      ['end turn on slot 7, cached', (s) => s.endTurn('a', usage({ tokens: 60, cost: 1.5, slot_id: 7, cached_tokens: 12 }))],
      ['hold on an unknown id', (s) => s.hold('b', 5)],
      ['confirm creates it', (s) => s.confirmTurn('b', 5, { owner: 'acme' })],
      ['cancel its turn', (s) => s.cancelTurn('b')],
      ['end a turn of a: cost used up', (s) => s.endTurn('a', usage({ tokens: 1, cost: 1 }))],
      ['create a again', (s) => s.create({ session_id: 'a' })],
      ['delete b', (s) => s.delete('b')],
      ['delete b again', (s) => s.delete('b')],
    ];
    for (const [name, step] of steps) {
      expect(wallClockFree(await step(shared)), name).toEqual(wallClockFree(await step(local)));
      for (const id of ['a', 'b', 'c']) {
        expect(await shared.standing(id), `${name}: standing ${id}`).toEqual(local.standing(id));
        expect(wallClockFree(await shared.view(id)), `${name}: view ${id}`).toEqual(wallClockFree(local.view(id)));
      }
    }
    expect(await shared.ownerOf('a')).toBe('acme');
    expect((await shared.ownedBy('acme')).count).toBe(1);
  });
});

describe('RedisSessionStore in the admit script', () => {
  it('never lets 24 concurrent turns from 4 replicas pass a session\'s turn cap of 5', async () => {
    const setup = sessions();
    expect((await setup.create({ session_id: 's', max_turns: 5 })).ok).toBe(true);
    const replicas = Array.from({ length: 4 }, () => {
      const redis = ctx.connect();
      return { queue: queue(redis), store: sessions(redis) };
    });
    const results = await Promise.all(Array.from({ length: 24 }, (_, i) => {
      const r = replicas[i % 4] as (typeof replicas)[number];
      return r.queue.admit(turn(`t${i}`, r.store, 's'), POLICY);
    }));
    const admitted = results.filter((r) => r.kind === 'queued');
    expect(admitted).toHaveLength(5);
    for (const refused of results.filter((r) => r.kind !== 'queued')) {
      expect(refused).toEqual({ kind: 'session_refused', error: expect.objectContaining({ code: 'BUDGET_EXCEEDED', budget: 'turns' }) });
    }
    // The held turns become counted turns; the cap still holds.
    for (let i = 0; i < 5; i++) expect((await setup.confirmTurn('s', 10)).ok).toBe(true);
    expect((await setup.view('s')).ok && (await setup.view('s'))).toMatchObject({ value: { turns: 5 } });
    expect(await queue().admit(turn('late', setup, 's'), POLICY)).toMatchObject({ kind: 'session_refused' });
  });

  it('holds the token budget across concurrent admissions of a session not created yet, then of a created one', async () => {
    const store = sessions();
    // Unknown id: the default turn cap (3) bounds the turns held for it.
    const fresh = await Promise.all(Array.from({ length: 8 }, (_, i) => queue(ctx.connect()).admit(turn(`n${i}`, store, 'new'), POLICY)));
    expect(fresh.filter((r) => r.kind === 'queued')).toHaveLength(3);
    await store.create({ session_id: 'b', budgets: { tokens: 100 } });
    const budgeted = await Promise.all(Array.from({ length: 6 }, (_, i) => queue(ctx.connect()).admit(turn(`b${i}`, store, 'b', 30), POLICY)));
    expect(budgeted.filter((r) => r.kind === 'queued')).toHaveLength(3);
    expect(budgeted.find((r) => r.kind === 'session_refused')).toEqual({
      kind: 'session_refused',
      error: { code: 'BUDGET_EXCEEDED', retriable: false, budget: 'tokens', field: 'max_tokens', message: "max_tokens 30 exceeds the session's remaining token budget 10" },
    });
  });

  it('returns the KV affinity of the previous turn with the admission', async () => {
    const store = sessions();
    await store.create({ session_id: 's' });
    expect(await queue().admit(turn('t1', store, 's'), POLICY)).toEqual({ kind: 'queued', position: 0 });
    await store.confirmTurn('s', 10);
    await store.endTurn('s', usage({ pool_id: 'demo', replica_id: 'r2', slot_id: 3 }));
    expect(await queue().admit(turn('t2', store, 's'), POLICY)).toEqual({ kind: 'queued', position: 1, affinity: { pool_id: 'demo', replica_id: 'r2', slot_id: 3 } });
  });

  it('refuses an expired session for one more TTL, and a new one past the cluster-wide cap with a retry hint', async () => {
    const store = sessions(ctx.client, { maxSessions: 2 });
    // Expired after 1 s; the tombstone lasts one more TTL, wide enough for a loaded machine.
    await store.create({ session_id: 'short', ttl_ms: 1_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect(await queue().admit(turn('t1', store, 'short'), POLICY)).toMatchObject({ kind: 'session_refused', error: { code: 'SESSION_EXPIRED' } });
    expect(await store.view('short')).toMatchObject({ ok: false, error: { code: 'SESSION_EXPIRED' } });
    expect(await store.delete('short')).toBe(false);
    expect(await store.view('short')).toMatchObject({ ok: false, error: { code: 'NOT_FOUND' } });
    await store.create({ session_id: 'one' });
    await store.create({ session_id: 'two' });
    const full = await store.create({ session_id: 'three' });
    expect(full).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
    expect(!full.ok && full.error.retry_after_ms).toBeGreaterThan(50_000);
    expect(await queue().admit(turn('t2', store, 'three'), POLICY)).toMatchObject({ kind: 'session_refused', error: { code: 'RATE_LIMITED', retry_after_ms: expect.any(Number) } });
  });

  it('keeps admission at one round trip with a session and a task_id', async () => {
    const redis = ctx.connect();
    const store = sessions(redis);
    const shared = queue(redis);
    await shared.admit(turn('warm', store, 'w'), POLICY);
    const sent: string[] = [];
    const original = redis.sendCommand.bind(redis);
    redis.sendCommand = ((command: { name: string }, ...rest: unknown[]) => {
      sent.push(command.name);
      return (original as (...args: unknown[]) => unknown)(command, ...rest);
    }) as typeof redis.sendCommand;
    await shared.admit({ ...turn('t1', store, 's'), idempotency: { key: 'k', digest: 'd', ttlMs: 60_000 } }, POLICY);
    expect(sent).toEqual(['evalsha']);
  });
});

describe('RedisSessionStore holds tagged by replica', () => {
  const held = async (id: string) => (await ctx.client.hmget(stateKeys(ctx.prefix).session(id), 'h_turns', 'hr:gw-a', 'hr:gw-b')).map((v) => (v === null ? null : Number(v)));

  it('gives back only the lost replica\'s holds, once, and ignores its late release afterwards', async () => {
    const a = sessions(ctx.client, { replicaId: 'gw-a' });
    const b = sessions(ctx.client, { replicaId: 'gw-b' });
    expect((await b.create({ session_id: 's', max_turns: 3 })).ok).toBe(true);
    await a.hold('s', 10);
    await a.hold('s', 10);
    await b.hold('s', 10);
    await a.hold('new', 5);
    expect(await held('s')).toEqual([3, 2, 1]);
    expect(await b.standing('s')).toMatchObject({ exhausted: { budget: 'turns', used: 3, limit: 3 } });
    expect(await b.giveBackHolds('gw-a')).toBe(3);
    expect(await held('s')).toEqual([1, null, 1]);
    expect(await ctx.client.exists(stateKeys(ctx.prefix).session('new'))).toBe(0);
    expect(await b.standing('s')).not.toHaveProperty('exhausted');
    expect(await b.giveBackHolds('gw-a')).toBe(0);
    // The lost replica wakes up and releases what it held: the survivor's hold stays counted.
    await a.release('s', 10);
    expect((await a.confirmTurn('s', 10)).ok).toBe(true);
    expect(await held('s')).toEqual([1, null, 1]);
    await b.release('s', 10);
    expect(await held('s')).toEqual([null, null, null]);
  });

  it('tags the admit script\'s hold with the admitting replica, and confirmTurn takes that hold back', async () => {
    const a = sessions(ctx.client, { replicaId: 'gw-a' });
    expect(await queue().admit({ ...turn('t1', a, 's'), admittedBy: 'gw-a' }, POLICY)).toEqual({ kind: 'queued', position: 0 });
    expect(await held('s')).toEqual([1, 1, null]);
    expect(await ctx.client.smembers(stateKeys(ctx.prefix).heldSessions('gw-a'))).toEqual([stateKeys(ctx.prefix).session('s')]);
    expect((await a.confirmTurn('s', 10)).ok).toBe(true);
    expect(await held('s')).toEqual([null, null, null]);
    expect(await ctx.client.exists(stateKeys(ctx.prefix).heldSessions('gw-a'))).toBe(0);
    expect(await a.view('s')).toMatchObject({ ok: true, value: { turns: 1 } });
  });

  it('gives a tracked hold back when its task is evicted or withdrawn before its commit, and only once', async () => {
    const a = sessions(ctx.client, { replicaId: 'gw-a' });
    expect((await a.create({ session_id: 's', max_turns: 3 })).ok).toBe(true);
    const tracked = (taskId: string, sessionId = 's'): AdmitRequest => ({ ...turn(taskId, a, sessionId), admittedBy: 'gw-a', priority: 'batch', session: { id: sessionId, defaults: a.defaults, trackHold: true } });
    const full: PoolPolicy = { ...POLICY, maxQueued: 2, policy: 'drop-lru' };
    const shared = queue();
    expect(await shared.admit(tracked('x'), full)).toMatchObject({ kind: 'queued' });
    expect(await shared.admit(tracked('y'), full)).toMatchObject({ kind: 'queued' });
    expect(await shared.admit({ ...turn('untracked', a, 's'), admittedBy: 'gw-a', priority: 'batch' }, { ...POLICY, maxQueued: 3 })).toMatchObject({ kind: 'queued' });
    expect(await held('s')).toEqual([3, 3, null]);
    // An interactive newcomer on another session sets the oldest batch task, x, aside (its hold
    // stays until the newcomer's commit) and its commit evicts it: x's hold goes with it.
    expect(await shared.admit({ ...turn('z', a, 'other'), admittedBy: 'gw-a' }, { ...full, maxQueued: 3 })).toMatchObject({ kind: 'queued', evicted: 'x' });
    expect(await held('s')).toEqual([3, 3, null]);
    expect(await shared.settleAside('x', 'settle', 3, 'gw-a')).toBe('evicted');
    expect(await held('s')).toEqual([2, 2, null]);
    // x's admission commits late or rolls back: nothing more goes, no turn is counted.
    expect(await a.confirmTurn('s', 10, {}, 'x')).toEqual({ ok: true, value: { removed: true } });
    await a.release('s', 10, 'x');
    expect(await held('s')).toEqual([2, 2, null]);
    // y is withdrawn (canceled while queued): its hold goes in the same step; a second withdrawal changes nothing.
    expect(await shared.withdraw('y', 'gw-a')).toBe(true);
    expect(await shared.withdraw('y', 'gw-a')).toBe(false);
    expect(await held('s')).toEqual([1, 1, null]);
    await a.release('s', 10, 'y');
    expect(await held('s')).toEqual([1, 1, null]);
    // An untracked hold is the caller's, as before: its withdrawal leaves it.
    expect(await shared.withdraw('untracked', 'gw-a')).toBe(true);
    expect(await held('s')).toEqual([1, 1, null]);
    await a.release('s', 10);
    expect(await held('s')).toEqual([null, null, null]);
    expect(await a.view('s')).toMatchObject({ ok: true, value: { turns: 0 } });
  });

  it('confirms a tracked hold into a turn once, by its task id', async () => {
    const a = sessions(ctx.client, { replicaId: 'gw-a' });
    const shared = queue();
    expect(await shared.admit({ ...turn('t1', a, 'n'), admittedBy: 'gw-a', session: { id: 'n', defaults: a.defaults, trackHold: true } }, POLICY)).toMatchObject({ kind: 'queued' });
    expect(await a.confirmTurn('n', 10, {}, 't1')).toEqual({ ok: true, value: {} });
    expect(await a.confirmTurn('n', 10, {}, 't1')).toEqual({ ok: true, value: { removed: true } });
    expect(await shared.withdraw('t1', 'gw-a')).toBe(true);
    expect(await held('n')).toEqual([null, null, null]);
    expect(await a.view('n')).toMatchObject({ ok: true, value: { turns: 1 } });
  });
});
