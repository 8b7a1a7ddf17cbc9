// The lost-replica journey on the components (issue 15, the SIGKILL test's groundwork): a replica
// stops renewing mid-stream, exactly one survivor takes over, its running tasks end with exactly
// one terminal event each (also when the lost replica's last write races the survivor's), readers
// resuming on the survivor see that event once, the slots come back, and its queued tasks stay
// claimable by anyone.

import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../test/support/fake-clock.ts';
import { redisForTest, type RedisTestContext } from '../../../test/support/redis.ts';
import type { TaskEvent } from '../../core/task/events.ts';
import { RedisEventLogs } from './event-log.ts';
import { stateKeys } from './keys.ts';
import { endLostReplicaTasks, giveBackLostReplicaHolds, type LostReplicaDeps } from './lost-replica.ts';
import { RedisIdempotency } from './idempotency.ts';
import { RedisPoolQueue, type AdmitRequest } from './pool-queue.ts';
import { RedisSessionStore } from './session-store.ts';
import { RedisTaskRegistry } from './task-registry.ts';
import { ReplicaLease } from './replica-lease.ts';

let ctx: RedisTestContext;
const POLICY = { maxQueued: 100, policy: 'reject' as const, interactiveWeight: 3, batchWeight: 1 };
const closers: Array<() => Promise<void>> = [];

beforeEach(async () => {
  ctx = await redisForTest();
});
afterEach(async () => {
  for (const close of closers.splice(0)) await close();
  await ctx.cleanup();
});

function replica(id: string, leaseMs: number, onTakeover: (dead: string) => void = () => {}) {
  const keys = stateKeys(ctx.prefix);
  const redis = ctx.connect();
  const logs = new RedisEventLogs({ redis, blocking: ctx.connect(), keys, retentionMs: 60_000 });
  closers.push(() => logs.close());
  const queue = new RedisPoolQueue({ redis, keys, poolId: 'p', retentionMs: 60_000 });
  const registry = new RedisTaskRegistry({ redis, keys });
  const lease = new ReplicaLease({ redis, keys, replicaId: id, token: randomUUID(), clock: new FakeClock(), leaseMs, onLost: () => {}, onTakeover });
  const sessions = new RedisSessionStore({ redis, keys, ttlMs: 60_000, maxTurns: 5, maxSessions: 100, replicaId: id });
  const idempotency = new RedisIdempotency({ redis, keys, ttlMs: 60_000 });
  return { id, logs, queue, lease, registry, sessions, idempotency };
}

/** An admission by replica `r` with a session turn and, optionally, a client task_id. */
function admission(r: ReturnType<typeof replica>, taskId: string, sessionId: string, taskIdKey?: string): AdmitRequest {
  return {
    taskId, priority: 'interactive', admittedBy: r.id, maxTokens: 10, budgetTokens: 10, budgetCost: 0, subjects: [],
    session: { id: sessionId, defaults: r.sessions.defaults },
    ...(taskIdKey ? { idempotency: { key: taskIdKey, digest: `digest-of-${taskIdKey}`, ttlMs: 60_000 } } : {}),
  };
}

describe('a lost gateway replica', () => {
  it('has its running tasks ended once by the one survivor that took over, and its queued tasks left for others', async () => {
    const a = replica('gw-a', 300);
    const won: string[] = [];
    const b = replica('gw-b', 60_000, (dead) => won.push(dead));
    const c = replica('gw-c', 60_000, (dead) => won.push(dead));
    await Promise.all([a, b, c].map((r) => r.lease.acquire()));
    await a.queue.setCapacity('e0', 2);
    for (const id of ['t1', 't2', 't3']) await a.queue.admit({ taskId: id, priority: 'interactive', admittedBy: 'gw-a', maxTokens: 10, budgetTokens: 10, budgetCost: 0, subjects: [] }, POLICY);
    // gw-a runs t1 and t2 and streams a little; t3 waits for a slot.
    for (let n = 0; n < 2; n++) {
      const claimed = await a.queue.claim('gw-a', ['e0'], POLICY);
      expect(claimed.kind).toBe('claimed');
    }
    for (const id of ['t1', 't2']) for (let i = 0; i < 3; i++) await a.logs.of(id).append('token', { t: `${id}-${i}`, i });
    // A reader of t1 resumes on gw-b from id 2.
    const seen: TaskEvent[] = [];
    const closed = new Promise<void>((resolve) => b.logs.of('t1').follow(2, (_frame, event) => {
      seen.push(event);
      if (event.event === 'error' || event.event === 'end') resolve();
    }));
    // gw-a stops renewing (SIGKILL); its lease expires; gw-b and gw-c sweep at once.
    a.lease.stop();
    await new Promise((resolve) => setTimeout(resolve, 400));
    await Promise.all([b.lease.sweep(), c.lease.sweep()]);
    expect(won).toEqual(['gw-a']);
    const winner = await ctx.client.get(stateKeys(ctx.prefix).takeover('gw-a'));
    expect(['gw-b', 'gw-c']).toContain(winner);
    const survivor = winner === 'gw-b' ? b : c;
    // The lost replica's last write (t2's end) races the survivor's terminal error.
    const [zombie, ended] = await Promise.all([
      a.logs.of('t2').append('end', { tokens_out: 3, decode_time_ms: 5, finish_reason: 'stop' }),
      endLostReplicaTasks('gw-a', { pools: new Map([['p', survivor.queue]]), logs: survivor.logs, registry: survivor.registry, survivor: survivor.id }),
    ]);
    expect(ended.map((t) => t.taskId).sort()).toEqual(['t1', 't2']);
    for (const id of ['t1', 't2']) {
      const events = await survivor.logs.of(id).since(0);
      expect(events.filter((e) => e.event === 'end' || e.event === 'error'), id).toHaveLength(1);
    }
    // Of the two racing terminal writes to t2, exactly one landed.
    expect([zombie, ended.find((t) => t.taskId === 't2')?.terminalSeq ?? 0].filter((seq) => seq > 0)).toHaveLength(1);
    await closed;
    expect(seen.map((e) => e.seq)).toEqual([3, 4]);
    expect(seen.at(-1)).toMatchObject({ event: 'error', data: { code: 'WORKER_RESET', retriable: true, message: expect.stringContaining('gw-a') } });
    // The registry names the survivor for every task gw-a held: ended ones for the retention window.
    for (const id of ['t1', 't2']) {
      const where = await b.registry.locate(id);
      expect(where, id).toMatchObject({ owner: survivor.id, poolId: 'p', state: 'ended' });
      expect(where?.ttlMs).toBeLessThanOrEqual(60_000);
    }
    expect(await b.registry.locate('t3')).toMatchObject({ owner: survivor.id, state: 'queued' });
    // The slots are back and the queued task runs on a survivor.
    expect((await survivor.queue.figures()).busy).toEqual({ e0: 0 });
    const next = await survivor.queue.claim(survivor.id, ['e0'], POLICY);
    expect(next).toMatchObject({ kind: 'claimed', task: { taskId: 't3', admittedBy: 'gw-a' } });
    for (const r of [b, c]) r.lease.stop();
  });

  it('gives back the session turns and task_ids it admitted but never answered, once, leaving the survivor\'s own', async () => {
    const a = replica('gw-a', 300);
    const b = replica('gw-b', 60_000);
    await Promise.all([a, b].map((r) => r.lease.acquire()));
    await a.queue.setCapacity('e0', 4);
    expect((await b.sessions.create({ session_id: 's', max_turns: 3 })).ok).toBe(true);
    // gw-a answered one admission (committed: the turn counted, the answer remembered) ...
    expect(await a.queue.admit(admission(a, 'done', 's', 'job-done'), POLICY)).toMatchObject({ kind: 'queued' });
    expect((await a.sessions.confirmTurn('s', 10)).ok).toBe(true);
    expect(await a.idempotency.remember('job-done', 'digest-of-job-done', { task_id: 'done' })).toBe(true);
    // ... and dies between admission and commit of two more: one queued, one a turn of a session not created yet.
    expect(await a.queue.admit(admission(a, 'ta', 's', 'job-a'), POLICY)).toMatchObject({ kind: 'queued' });
    expect(await a.queue.admit(admission(a, 'ta-new', 'fresh'), POLICY)).toMatchObject({ kind: 'queued' });
    // The survivor holds a turn and a task_id of its own, in flight.
    expect(await b.queue.admit(admission(b, 'tb', 's', 'job-b'), POLICY)).toMatchObject({ kind: 'queued' });
    // Turn cap 3 = one counted + two held: the session is full, the task_id in flight.
    expect(await b.queue.admit(admission(b, 'tb2', 's'), POLICY)).toMatchObject({ kind: 'session_refused', error: { code: 'BUDGET_EXCEEDED' } });
    expect(await b.queue.admit(admission(b, 'ta-retry', 'other', 'job-a'), POLICY)).toEqual({ kind: 'in_flight' });

    a.lease.stop();
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await b.lease.sweep()).toEqual(['gw-a']);
    const deps: LostReplicaDeps = { pools: new Map([['p', b.queue]]), logs: b.logs, registry: b.registry, survivor: b.id, sessions: b.sessions, idempotency: b.idempotency };
    expect(await endLostReplicaTasks('gw-a', deps)).toEqual([]);
    const snapshot = async () => ({
      s: await b.sessions.standing('s'),
      fresh: await b.sessions.standing('fresh'),
      figures: await b.queue.figures(),
      jobB: await ctx.client.hgetall(stateKeys(ctx.prefix).idempotency('job-b')),
      done: await ctx.client.hget(stateKeys(ctx.prefix).idempotency('job-done'), 'a'),
    });
    const after = await snapshot();
    // ta was never committed: withdrawn with its reservation; ta-new's turn on 'fresh' is gone too.
    expect(after.figures.interactive).toBe(3);
    expect(await b.registry.locate('ta')).toMatchObject({ state: 'ended', owner: 'gw-b' });
    expect(after.fresh).toEqual({ kind: 'new', room: true });
    expect(await ctx.client.exists(stateKeys(ctx.prefix).session('fresh'))).toBe(0);
    // The committed task and the survivor's own admission are untouched; ta-new, never answered but without a task_id, stays queued for anyone.
    expect(after.jobB).toMatchObject({ by: 'gw-b', t: 'tb' });
    expect(after.jobB).not.toHaveProperty('a');
    expect(after.done).toBe(JSON.stringify({ task_id: 'done' }));
    expect(await b.registry.locate('ta-new')).toMatchObject({ state: 'queued', owner: 'gw-b' });

    // Running the handover again changes nothing.
    expect(await endLostReplicaTasks('gw-a', deps)).toEqual([]);
    expect(await giveBackLostReplicaHolds('gw-a', deps)).toEqual({ sessionTurns: 0, withdrawn: [], freed: [], kept: [] });
    expect(await snapshot()).toEqual(after);

    // The session admits the turn again (one counted + the survivor's hold + this one = 3), the task_id afresh; the survivor's stays in flight.
    expect(await b.queue.admit(admission(b, 'tb2', 's'), POLICY)).toMatchObject({ kind: 'queued' });
    expect(await b.queue.admit(admission(b, 'ta-retry', 'other', 'job-a'), POLICY)).toMatchObject({ kind: 'queued' });
    expect(await b.queue.admit(admission(b, 'tb-retry', 'other', 'job-b'), POLICY)).toEqual({ kind: 'in_flight' });
    expect(await b.queue.admit(admission(b, 'done-retry', 'other', 'job-done'), POLICY)).toEqual({ kind: 'replay', answer: { task_id: 'done' } });
    b.lease.stop();
  });

  it('keeps the task_id record of an unanswered admission whose task a live replica already runs', async () => {
    const a = replica('gw-a', 60_000);
    const b = replica('gw-b', 60_000);
    await a.queue.setCapacity('e0', 1);
    expect(await a.queue.admit(admission(a, 'ta', 's', 'job-a'), POLICY)).toMatchObject({ kind: 'queued' });
    expect(await b.queue.claim('gw-b', ['e0'], POLICY)).toMatchObject({ kind: 'claimed', task: { taskId: 'ta' } });
    const deps: LostReplicaDeps = { pools: new Map([['p', b.queue]]), logs: b.logs, registry: b.registry, survivor: b.id, sessions: b.sessions, idempotency: b.idempotency };
    expect(await giveBackLostReplicaHolds('gw-a', deps)).toEqual({ sessionTurns: 1, withdrawn: [], freed: [], kept: ['ta'] });
    expect(await b.queue.admit(admission(b, 'ta-retry', 'other', 'job-a'), POLICY)).toEqual({ kind: 'in_flight' });
    expect(await b.queue.figures()).toMatchObject({ busy: { e0: 1 } });
  });
});
