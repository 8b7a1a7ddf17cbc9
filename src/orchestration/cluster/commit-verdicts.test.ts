// The commit verdict on the real Redis: a claimer waiting for it is woken by the admitter's
// announce (no polling: at most one read of the key while waiting), finds a verdict written
// before it subscribed, and counts silence until its timeout as a refusal.

import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { redisForTest, type RedisTestContext } from '../../../test/support/redis.ts';
import { stateKeys } from '../../state/redis/keys.ts';
import { systemClock } from '../../system-clock.ts';
import { CommitVerdicts } from './commit-verdicts.ts';

let ctx: RedisTestContext;
const opened: CommitVerdicts[] = [];

function verdicts(): CommitVerdicts {
  const v = new CommitVerdicts({ redis: ctx.client, subscriber: ctx.connect(), keys: stateKeys(ctx.prefix), clock: systemClock, ttlMs: 60_000 });
  opened.push(v);
  return v;
}

beforeEach(async () => {
  ctx = await redisForTest();
});
afterEach(async () => {
  for (const v of opened.splice(0)) v.close();
  vi.restoreAllMocks();
  await ctx.cleanup();
});

describe('CommitVerdicts', () => {
  it('wakes a waiting claimer with the admitter\'s committed verdict, reading the key once', async () => {
    const admitter = verdicts();
    const claimer = verdicts();
    const gets = vi.spyOn(ctx.client, 'get');
    const id = randomUUID();
    const waiting = claimer.wait(id, 10_000);
    let settled = false;
    void waiting.then(() => void (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(settled).toBe(false);
    await admitter.publish(id, true);
    expect(await waiting).toBe(true);
    expect(gets.mock.calls.filter(([key]) => String(key).includes(id))).toHaveLength(1);
  });

  it('wakes a waiting claimer with a refusal', async () => {
    const admitter = verdicts();
    const claimer = verdicts();
    const id = randomUUID();
    const waiting = claimer.wait(id, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await admitter.publish(id, false);
    expect(await waiting).toBe(false);
  });

  it('finds a verdict written before the claimer subscribed', async () => {
    const id = randomUUID();
    await verdicts().publish(id, true);
    expect(await verdicts().wait(id, 10_000)).toBe(true);
  });

  it('counts silence until the timeout as withdrawn and leaves the channel', async () => {
    const claimer = verdicts();
    const id = randomUUID();
    expect(await claimer.wait(id, 50)).toBe(false);
    const channels = await ctx.client.pubsub('CHANNELS', `${ctx.prefix}*`);
    expect(channels).not.toContain(stateKeys(ctx.prefix).commitVerdict(id));
  });

  it('ignores announces for other tasks', async () => {
    const admitter = verdicts();
    const claimer = verdicts();
    const id = randomUUID();
    const waiting = claimer.wait(id, 300);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await admitter.publish(randomUUID(), true);
    expect(await waiting).toBe(false);
  });
});
