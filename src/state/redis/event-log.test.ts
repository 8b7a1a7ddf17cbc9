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
import type { SerializedEvent } from '../shared-state-ports.ts';
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

/** The names of the commands `redis` sends from now on (the server's own counters are shared with other tests). */
function commandsSent(redis: Redis): string[] {
  const names: string[] = [];
  const send = redis.sendCommand.bind(redis);
  redis.sendCommand = (command, stream) => {
    names.push(command.name);
    return send(command, stream);
  };
  return names;
}

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

describe('RedisEventLog batches (the runner\'s write-behind)', () => {
  const token = (i: number): SerializedEvent => ({ event: 'token', json: JSON.stringify({ t: `w${i}`, i }) });
  const end: SerializedEvent = { event: 'end', json: JSON.stringify(END) };

  it('writes a batch in order at the expected seqs, in one script call', async () => {
    const redis = ctx.connect();
    const own = newLogs(redis, ctx.connect(), ctx.prefix);
    // Connected, and the script known to the server (else EVAL follows a NOSCRIPT once).
    await own.of('b1-warm').appendBatch([token(0)], 1);
    const sent = commandsSent(redis);
    const log = own.of('b1');
    expect(await log.appendBatch([token(0), token(1), token(2)], 1)).toEqual({ kind: 'written', lastSeq: 3 });
    expect(sent).toEqual(['evalsha']);
    await own.close();
    expect(await log.appendBatch([token(3), token(4), end], 4)).toEqual({ kind: 'written', lastSeq: 6 });
    const events = await log.since(0);
    expect(events.map((e) => [e.seq, e.event])).toEqual([[1, 'token'], [2, 'token'], [3, 'token'], [4, 'token'], [5, 'token'], [6, 'end']]);
    expect(events.slice(0, 5).map((e) => e.data)).toEqual(range(0, 4).map((i) => ({ t: `w${i}`, i })));
    expect(await log.head()).toMatchObject({ lastSeq: 6, terminal: { seq: 6, event: 'end' } });
  });

  it('writes nothing when the stream\'s next seq is not the batch\'s first, and answers the next seq', async () => {
    const log = logs.of('b2');
    await log.appendBatch([token(0)], 1);
    expect(await log.appendBatch([token(2), token(3)], 3)).toEqual({ kind: 'out_of_step', nextSeq: 2 });
    expect(await log.appendBatch([token(0)], 1)).toEqual({ kind: 'out_of_step', nextSeq: 2 });
    expect((await log.since(0)).map((e) => e.seq)).toEqual([1]);
    expect(await logs.of('b2-empty').appendBatch([token(5)], 2)).toEqual({ kind: 'out_of_step', nextSeq: 1 });
    expect(await ctx.client.exists(stateKeys(ctx.prefix).events('b2-empty'))).toBe(0);
  });

  it('answers closed after a terminal event (a survivor ended the task first) and writes nothing', async () => {
    const log = logs.of('b3');
    await log.appendBatch([token(0)], 1);
    expect(await newLogs(ctx.connect(), ctx.connect(), ctx.prefix).of('b3').append('error', { code: 'WORKER_RESET', message: 'lost', retriable: true })).toBe(2);
    expect(await log.appendBatch([token(1), end], 2)).toEqual({ kind: 'closed' });
    expect((await log.since(0)).map((e) => e.event)).toEqual(['token', 'error']);
  });

  it('refuses a batch with a terminal event before its last one, and an empty batch, writing nothing', async () => {
    const log = logs.of('b4');
    await expect(log.appendBatch([token(0), end, token(1)], 1)).rejects.toBeInstanceOf(RangeError);
    await expect(log.appendBatch([], 1)).rejects.toBeInstanceOf(RangeError);
    expect(await log.head()).toEqual({ lastSeq: 0, terminal: undefined });
  });

  it('sets the backstop TTL with the first batch and the retention TTL with the batch that ends the stream', async () => {
    const key = stateKeys(ctx.prefix).events('b5');
    const log = logs.of('b5');
    await log.appendBatch([token(0), token(1)], 1);
    expect(await ctx.client.pttl(key)).toBeGreaterThan(60_000);
    await log.appendBatch([token(2), end], 3);
    const ttl = await ctx.client.pttl(key);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(60_000);
    const once = logs.of('b5-once');
    await once.appendBatch([token(0), end], 1);
    expect(await ctx.client.pttl(stateKeys(ctx.prefix).events('b5-once'))).toBeLessThanOrEqual(60_000);
  });

  it('shows followers on another replica each batch whole: every event once, in order, no read ending inside a batch', async () => {
    const writer = newLogs(ctx.connect({ enableAutoPipelining: true }), ctx.connect(), ctx.prefix).of('b6');
    const log = logs.of('b6');
    const batchEnds = new Set<number>();
    const followers: Array<{ after: number; got: ReturnType<typeof collect>; readEnds: number[] }> = [];
    // The follower delivers one read's entries in one synchronous loop: a microtask queued at a
    // read's first event runs after its last, so it notes where that read ended.
    const follow = (after: number) => {
      const readEnds: number[] = [];
      let marking = false;
      const got = collect((listener, onFailure) => log.follow(after, (frame, event) => {
        listener(frame, event);
        if (marking) return;
        marking = true;
        queueMicrotask(() => {
          marking = false;
          readEnds.push(got.seqs.at(-1) as number);
        });
      }, onFailure));
      followers.push({ after, got, readEnds });
    };
    follow(0);
    const appends: Array<Promise<unknown>> = [];
    let seq = 0;
    for (const size of [1, 5, 1, 17, 3, 40, 2, 9, 64, 1]) {
      appends.push(writer.appendBatch(range(seq, seq + size - 1).map(token), seq + 1));
      seq += size;
      batchEnds.add(seq);
      // Readers joining while batches are in flight, from where the log stands now.
      if (seq % 2 === 0) follow((await log.head()).lastSeq);
    }
    appends.push(writer.appendBatch([end], seq + 1));
    batchEnds.add(seq + 1);
    await Promise.all(appends);
    await Promise.all(followers.map((f) => f.got.done));
    expect(followers.length).toBeGreaterThan(2);
    for (const { after, got, readEnds } of followers) {
      expect(got.seqs).toEqual(range(after + 1, seq + 1));
      expect(readEnds.filter((at) => !batchEnds.has(at))).toEqual([]);
    }
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
