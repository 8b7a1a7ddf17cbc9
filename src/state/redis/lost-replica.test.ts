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
import { endLostReplicaTasks } from './lost-replica.ts';
import { RedisPoolQueue } from './pool-queue.ts';
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
  return { id, logs, queue, lease, registry };
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
});
