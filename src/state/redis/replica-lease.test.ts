// Replica leases against the real Redis: renewal on the injected clock keeps a replica live, a
// replica that stops renewing expires, and of several survivors sweeping at once exactly one
// takes it over; the expired replica learns it lost its lease at its next renewal.

import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeClock } from '../../../test/support/fake-clock.ts';
import { redisForTest, startRedisServer, type RedisTestContext } from '../../../test/support/redis.ts';
import { openRedis } from './connection.ts';
import type { StateError } from '../state-errors.ts';
import { stateKeys } from './keys.ts';
import { ReplicaLease } from './replica-lease.ts';

const LEASE_MS = 500;
let ctx: RedisTestContext;
let clock: FakeClock;

interface Member {
  id: string;
  lease: ReplicaLease;
  lost: StateError[];
  tookOver: string[];
}

function member(replicaId: string, redis = ctx.client, leaseMs = LEASE_MS): Member {
  const lost: StateError[] = [];
  const tookOver: string[] = [];
  const lease = new ReplicaLease({
    redis, keys: stateKeys(ctx.prefix), replicaId, token: randomUUID(), clock, leaseMs,
    onLost: (error) => lost.push(error),
    onTakeover: (dead) => tookOver.push(dead),
  });
  return { id: replicaId, lease, lost, tookOver };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Real time passes (Redis expires keys) while the fake clock fires the renewal timers. */
async function elapse(ms: number): Promise<void> {
  for (let t = 0; t < ms; t += LEASE_MS / 3) {
    clock.advance(LEASE_MS / 3);
    await sleep(LEASE_MS / 3);
  }
}

beforeEach(async () => {
  ctx = await redisForTest();
  clock = new FakeClock();
});
afterEach(() => ctx.cleanup());

describe('ReplicaLease', () => {
  it('registers a replica, keeps it live by renewing on its timer, and refuses a second holder of the id', async () => {
    const a = member('gw-a');
    await a.lease.acquire();
    expect(await a.lease.live()).toEqual(['gw-a']);
    await expect(member('gw-a').lease.acquire()).rejects.toMatchObject({ code: 'LEASE_HELD' });
    await elapse(LEASE_MS * 3);
    expect(await a.lease.live()).toEqual(['gw-a']);
    expect(a.lost).toEqual([]);
    a.lease.stop();
  });

  it('lets exactly one of several survivors take over a replica that stopped renewing', async () => {
    const dead = member('gw-dead');
    await dead.lease.acquire();
    dead.lease.stop();
    // Long leases for the survivors: no renewal (and no timer-driven sweep) runs before the race below.
    const survivors = ['gw-1', 'gw-2', 'gw-3', 'gw-4', 'gw-5'].map((id) => member(id, ctx.connect(), 60_000));
    for (const s of survivors) await s.lease.acquire();
    expect(await survivors[0]?.lease.sweep()).toEqual([]);
    await sleep(LEASE_MS + 100);
    // Every survivor sweeps at once, each on its own connection.
    const won = await Promise.all(survivors.map((s) => s.lease.sweep()));
    expect(won.flat()).toEqual(['gw-dead']);
    const winner = survivors.find((s) => s.tookOver.length > 0);
    expect(survivors.flatMap((s) => s.tookOver)).toEqual(['gw-dead']);
    expect(await ctx.client.get(stateKeys(ctx.prefix).takeover('gw-dead'))).toBe(winner?.id);
    expect((await survivors[0]?.lease.live())?.sort()).toEqual(['gw-1', 'gw-2', 'gw-3', 'gw-4', 'gw-5']);
    // A later sweep finds nothing: the takeover happened once.
    expect((await Promise.all(survivors.map((s) => s.lease.sweep()))).flat()).toEqual([]);
    for (const s of survivors) s.lease.stop();
  });

  it('tells a replica whose lease expired that it lost it, at its next renewal, and stops renewing', async () => {
    const slow = member('gw-slow');
    await slow.lease.acquire();
    await sleep(LEASE_MS + 50);
    expect(await slow.lease.tick()).toBe(false);
    expect(slow.lost.map((e) => e.code)).toEqual(['LEASE_LOST']);
    expect(slow.lease.held).toBe(false);
    expect(clock.timers).toBe(0);
  });

  it('leaves gracefully on release: gone from the registry and nobody takes over', async () => {
    const a = member('gw-a');
    const b = member('gw-b');
    await a.lease.acquire();
    await b.lease.acquire();
    await a.lease.release();
    expect(await b.lease.live()).toEqual(['gw-b']);
    await elapse(LEASE_MS + 100);
    expect(await b.lease.sweep()).toEqual([]);
    b.lease.stop();
  });
});

describe('ReplicaLease when Redis goes away', () => {
  it('reports failed renewals while Redis is down and LEASE_LOST once an empty Redis is back', async () => {
    const server = await startRedisServer();
    try {
      const redis = await openRedis(server.url, 'lease');
      const lost: StateError[] = [];
      const errors: StateError[] = [];
      const lease = new ReplicaLease({
        redis, keys: stateKeys('gone:'), replicaId: 'gw-a', token: randomUUID(), clock, leaseMs: 60_000,
        onLost: (error) => lost.push(error), onTakeover: () => {}, onError: (error) => errors.push(error),
      });
      await lease.acquire();
      await server.kill();
      await expect(lease.tick()).rejects.toMatchObject({ code: 'STATE_UNAVAILABLE' });
      clock.advance(20_000);
      await sleep(50);
      expect(errors.map((e) => e.code)).toEqual(['STATE_UNAVAILABLE']);
      expect(lease.held).toBe(true);
      await server.restart();
      await new Promise<void>((resolve) => (redis.status === 'ready' ? resolve() : redis.once('ready', () => resolve())));
      // The restarted server forgot every lease: this incarnation must rejoin, never silently re-acquire.
      expect(await lease.tick()).toBe(false);
      expect(lost.map((e) => e.code)).toEqual(['LEASE_LOST']);
      redis.disconnect();
    } finally {
      await server.kill();
    }
  });
});
