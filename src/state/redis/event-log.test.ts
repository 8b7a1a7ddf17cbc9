// RedisEventLog against the real Redis: the in-memory log's semantics (seq from 1, one frame per
// event, nothing after the terminal event) plus what only a shared log needs: racing writers,
// exactly-once replay-then-live for readers that join while events are being appended, many
// streams on one blocking connection, and failing closed when Redis goes away.

import type { Redis } from 'ioredis';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { TaskEvent } from '../../core/task/events.ts';
import { TaskEventLog } from '../../core/task/event-log.ts';
import { redisForTest, startRedisServer, type RedisTestContext } from '../../../test/support/redis.ts';
import { StateError } from '../state-errors.ts';
import { openRedis } from './connection.ts';
import { RedisEventLogs } from './event-log.ts';
import { stateKeys } from './keys.ts';

let ctx: RedisTestContext;
let logs: RedisEventLogs;

const END = { tokens_out: 0, decode_time_ms: 0, finish_reason: 'stop' } as const;

function newLogs(redis: Redis, blocking: Redis, prefix: string, blockMs = 60_000): RedisEventLogs {
  return new RedisEventLogs({ redis, blocking, keys: stateKeys(prefix), retentionMs: 60_000, blockMs });
}

type Follow = (listener: (frame: string, event: TaskEvent) => void, onFailure: (error: Error) => void) => void;

/** Collects a follower's events until its terminal event; a backend failure rejects `done`. */
function collect(follow: Follow): { seqs: number[]; frames: string[]; done: Promise<void> } {
  const seqs: number[] = [];
  const frames: string[] = [];
  let finish: () => void = () => {};
  let fail: (error: Error) => void = () => {};
  const done = new Promise<void>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  follow((frame, event) => {
    seqs.push(event.seq);
    frames.push(frame);
    if (event.event === 'end' || event.event === 'error') finish();
  }, fail);
  return { seqs, frames, done };
}

const ready = (redis: Redis) => new Promise<void>((resolve) => (redis.status === 'ready' ? resolve() : redis.once('ready', () => resolve())));

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

beforeEach(async () => {
  ctx = await redisForTest();
  logs = newLogs(ctx.client, ctx.connect(), ctx.prefix);
});
afterEach(async () => {
  await logs.close();
  await ctx.cleanup();
});

describe('RedisEventLog', () => {
  it('numbers events from 1 and renders the same SSE frames as the in-memory log', async () => {
    const log = logs.of('t1');
    const memory = new TaskEventLog();
    const events = [['started', { pool_id: 'p', replica_id: 'r', engine: 'mock', queue_wait_ms: 3 }], ['token', { t: 'hé "x"\n', i: 0 }], ['end', END]] as const;
    for (const [name, data] of events) {
      memory.append(name, data as never);
      expect(await log.append(name, data as never)).toBe(memory.lastSeq);
    }
    const remote = collect((listener, onFailure) => log.follow(0, listener, onFailure));
    await remote.done;
    const local: string[] = [];
    memory.follow(0, (frame) => local.push(frame));
    expect(remote.frames).toEqual(local);
    expect(await log.since(1)).toEqual(memory.since(1));
    expect(await log.head()).toEqual({ lastSeq: 3, terminal: memory.terminal });
  });

  it('refuses appends after the terminal event, and of racing terminal events exactly one lands', async () => {
    const log = logs.of('t2');
    await log.append('token', { t: 'a', i: 0 });
    const writers = [ctx.client, ctx.connect(), ctx.connect()].map((redis) => newLogs(redis, ctx.connect(), ctx.prefix).of('t2'));
    const results = await Promise.all(writers.flatMap((w, n) => [w.append('error', { code: 'WORKER_RESET', message: `lost ${n}`, retriable: true }), w.append('token', { t: 'late', i: 1 })]));
    const events = await log.since(0);
    expect(events.filter((e) => e.event === 'error')).toHaveLength(1);
    expect(events.at(-1)?.event).toBe('error');
    expect(results.filter((seq) => seq === 0).length).toBe(results.length - (events.length - 1));
    expect(await log.append('end', END)).toBe(0);
  });

  it('sets the backstop TTL with the first event and the retention TTL with the terminal one', async () => {
    const key = stateKeys(ctx.prefix).events('t3');
    const log = logs.of('t3');
    await log.append('token', { t: 'a', i: 0 });
    expect(await ctx.client.pttl(key)).toBeGreaterThan(60_000);
    await log.append('end', END);
    const ttl = await ctx.client.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
  });

  it('delivers every event exactly once to readers that join while a writer appends (replay, then live)', async () => {
    const writer = newLogs(ctx.connect(), ctx.connect(), ctx.prefix).of('t4');
    const log = logs.of('t4');
    const total = 400;
    const readers: Array<{ after: number; got: ReturnType<typeof collect> }> = [];
    const appends: Array<Promise<number>> = [];
    for (let i = 0; i < total; i++) {
      appends.push(writer.append('token', { t: `w${i}`, i }));
      // Join at many points while appends are in flight, from where the log stands now.
      if (i % 40 === 20) {
        const { lastSeq } = await log.head();
        // One reader from the head, one from well behind the readers already caught up.
        for (const after of [lastSeq, Math.max(0, lastSeq - 25)]) readers.push({ after, got: collect((listener, onFailure) => log.follow(after, listener, onFailure)) });
      }
    }
    appends.push(writer.append('end', { ...END, tokens_out: total }));
    expect(await Promise.all(appends)).toEqual(range(1, total + 1));
    await Promise.all(readers.map((r) => r.got.done));
    expect(readers.length).toBe(20);
    for (const { after, got } of readers) expect(got.seqs).toEqual(range(after + 1, total + 1));
    expect(logs.followed).toBe(0);
  });

  it('replays a finished log and stops; a reader beyond the head gets only later ids', async () => {
    const log = logs.of('t5');
    for (let i = 0; i < 3; i++) await log.append('token', { t: String(i), i });
    const ahead = collect((listener, onFailure) => log.follow(5, listener, onFailure));
    for (let i = 3; i < 6; i++) await log.append('token', { t: String(i), i });
    await log.append('end', END);
    await ahead.done;
    expect(ahead.seqs).toEqual([6, 7]);
    const replay = collect((listener, onFailure) => log.follow(0, listener, onFailure));
    await replay.done;
    expect(replay.seqs).toEqual(range(1, 7));
  });

  it('follows many streams on one blocking connection: a stream added during a blocked read is served at once', async () => {
    // The blocked read waits 60 s; only CLIENT UNBLOCK gets the second stream in within the test timeout.
    const first = logs.of('quiet');
    await first.append('token', { t: 'q', i: 0 });
    const quiet = collect((listener, onFailure) => first.follow(1, listener, onFailure));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const busy = logs.of('busy');
    const got = collect((listener, onFailure) => busy.follow(0, listener, onFailure));
    await busy.append('token', { t: 'b', i: 0 });
    await busy.append('end', END);
    await got.done;
    expect(got.seqs).toEqual([1, 2]);
    expect(logs.followed).toBe(1);
    await first.append('end', END);
    await quiet.done;
    expect(quiet.seqs).toEqual([2]);
  });
});

describe('RedisEventLog when Redis goes away', () => {
  it('fails followers and appends with STATE_UNAVAILABLE, then works again once Redis is back', async () => {
    const server = await startRedisServer();
    try {
      const redis = await openRedis(server.url, 'commands');
      const blocking = await openRedis(server.url, 'follower');
      const own = newLogs(redis, blocking, 'gone:');
      const log = own.of('t6');
      await log.append('token', { t: 'a', i: 0 });
      const failed = new Promise<Error>((resolve) => log.follow(1, () => {}, resolve));
      await new Promise((resolve) => setTimeout(resolve, 50));
      await server.kill();
      const failure = await failed;
      expect(failure).toBeInstanceOf(StateError);
      expect((failure as StateError).code).toBe('STATE_UNAVAILABLE');
      const refused = await log.append('token', { t: 'b', i: 1 }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'STATE_UNAVAILABLE', retryAfterMs: 1_000 });
      await server.restart();
      // A follow while the blocking connection still reconnects fails at once (fail closed): wait for both.
      await Promise.all([ready(redis), ready(blocking)]);
      // The restarted server is empty (no persistence): the log starts again, the script reloads itself.
      expect(await log.append('token', { t: 'c', i: 0 })).toBe(1);
      const again = collect((listener, onFailure) => log.follow(0, listener, onFailure));
      await log.append('end', END);
      await again.done;
      expect(again.seqs).toEqual([1, 2]);
      await own.close();
      redis.disconnect();
    } finally {
      await server.kill();
    }
  });
});
