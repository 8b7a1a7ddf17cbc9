// The cluster-wide reader count against the real Redis: one script per attach and detach, the
// runner told when a replica's last reader left, and a dead replica's readers not counted.

import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { redisForTest, type RedisTestContext } from '../../../test/support/redis.ts';
import { systemClock } from '../../system-clock.ts';
import { stateKeys } from './keys.ts';
import { ReaderCount } from './reader-count.ts';
import { ReplicaLease } from './replica-lease.ts';

let ctx: RedisTestContext;
const leases: ReplicaLease[] = [];

beforeEach(async () => {
  ctx = await redisForTest();
});
afterEach(async () => {
  for (const lease of leases.splice(0)) lease.stop();
  await ctx.cleanup();
});

const counter = (replicaId: string) => new ReaderCount({ redis: ctx.client, keys: stateKeys(ctx.prefix), replicaId, ttlMs: 60_000 });

async function live(replicaId: string): Promise<void> {
  const lease = new ReplicaLease({ redis: ctx.client, keys: stateKeys(ctx.prefix), replicaId, token: randomUUID(), clock: systemClock, leaseMs: 60_000, onLost: () => undefined, onTakeover: () => undefined });
  await lease.acquire();
  leases.push(lease);
}

describe('ReaderCount', () => {
  it('counts readers on live replicas only and marks the stream opened', async () => {
    await live('gw-a');
    await live('gw-b');
    const keys = stateKeys(ctx.prefix);
    await counter('gw-a').attach('t1');
    await counter('gw-b').attach('t1');
    await counter('gw-b').attach('t1');
    // A replica whose lease is gone (crashed with readers attached) never detaches them.
    await counter('gw-dead').attach('t1');
    expect(await counter('gw-a').standing('t1')).toEqual({ opened: true, readers: 3 });
    expect(await ctx.client.get(keys.streamOpened('t1'))).toBe('1');
    await counter('gw-b').detach('t1');
    expect(await counter('gw-a').standing('t1')).toEqual({ opened: true, readers: 2 });
    expect(await counter('gw-a').standing('never-read')).toEqual({ opened: false, readers: 0 });
  });

  it("publishes the task id to its owner's channel when a replica's last reader leaves, not before", async () => {
    const keys = stateKeys(ctx.prefix);
    await ctx.client.hset(keys.owner('t2'), 'owner', 'gw-runner', 'state', 'running');
    const subscriber = ctx.connect();
    const heard: string[] = [];
    subscriber.on('message', (channel: string, message: string) => heard.push(`${channel} ${message}`));
    const runner = counter('gw-runner');
    await subscriber.subscribe(runner.goneChannel);
    const reader = counter('gw-b');
    await reader.attach('t2');
    await reader.attach('t2');
    await reader.detach('t2');
    await reader.detach('t2');
    // A marker published after the detaches arrives after what they published (one connection's order).
    await ctx.client.publish(runner.goneChannel, 'marker');
    await expect.poll(() => heard.length).toBe(2);
    expect(heard).toEqual([`${runner.goneChannel} t2`, `${runner.goneChannel} marker`]);
    expect(await ctx.client.exists(keys.readers('t2'))).toBe(0);
  });

  it("tells the runners of the tasks a lost replica's readers followed, once, and drops those readers' counts", async () => {
    const keys = stateKeys(ctx.prefix);
    await ctx.client.hset(keys.owner('live'), 'owner', 'gw-runner', 'state', 'running');
    await ctx.client.hset(keys.owner('done'), 'owner', 'gw-runner', 'state', 'ended');
    await ctx.client.hset(keys.owner('left'), 'owner', 'gw-runner', 'state', 'running');
    const lost = counter('gw-lost');
    for (const id of ['live', 'done', 'left']) await lost.attach(id);
    await counter('gw-b').attach('live');
    // A reader that left detached itself: the takeover does not tell its runner again.
    await lost.detach('left');
    const subscriber = ctx.connect();
    const heard: string[] = [];
    subscriber.on('message', (_channel: string, message: string) => heard.push(message));
    const survivor = counter('gw-runner');
    await subscriber.subscribe(survivor.goneChannel);
    heard.length = 0;
    expect(await survivor.forgetReplica('gw-lost')).toEqual(['live']);
    expect(await survivor.forgetReplica('gw-lost')).toEqual([]);
    await ctx.client.publish(survivor.goneChannel, 'marker');
    await expect.poll(() => heard).toEqual(['live', 'marker']);
    expect(await ctx.client.hgetall(keys.readers('live'))).toEqual({ 'gw-b': '1' });
    expect(await ctx.client.exists(keys.followedTasks('gw-lost'))).toBe(0);
  });
});
