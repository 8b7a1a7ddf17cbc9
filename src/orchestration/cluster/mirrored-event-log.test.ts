// The local log of a task this replica runs, written behind to its shared stream: local readers
// see every event at once; the events of one synchronous burst (one engine read) reach the stream
// as one batch at the seq the local log gave them, the terminal event at once; a lost or refused
// batch stops the mirroring of that task (its remote readers never see a gap). Last, on the real
// Redis: a reader on another replica sees every event of a mirrored run once, in order.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogListener } from '../../core/state-ports.ts';
import { TaskEventLog } from '../../core/task/event-log.ts';
import type { TaskEvent } from '../../core/task/events.ts';
import type { BatchAppend, SerializedEvent, SharedEventLog } from '../../state/shared-state-ports.ts';
import { RedisEventLogs } from '../../state/redis/event-log.ts';
import { stateKeys } from '../../state/redis/keys.ts';
import { redisForTest, type RedisTestContext } from '../../../test/support/redis.ts';
import { until } from '../../../test/support/until.ts';
import { MirroredEventLog, type MirrorFailure } from './mirrored-event-log.ts';

interface Batch {
  firstSeq: number;
  events: SerializedEvent[];
}

/** A shared log that records batches and answers each with what `answer` says (default: written where expected). */
function sharedLog(answer: (batch: Batch, n: number) => Promise<BatchAppend> = (b) => Promise.resolve({ kind: 'written', lastSeq: b.firstSeq + b.events.length - 1 })) {
  const batches: Batch[] = [];
  const log: SharedEventLog = {
    taskId: 't1',
    append: () => Promise.reject(new Error('the runner appends in batches only')),
    appendBatch: (events, firstSeq) => {
      const batch = { firstSeq, events: [...events] };
      batches.push(batch);
      return answer(batch, batches.length);
    },
    head: () => Promise.resolve({ lastSeq: 0, terminal: undefined }),
    since: () => Promise.resolve([]),
    follow: () => () => undefined,
  };
  return { log, batches };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));
const END = { tokens_out: 2, decode_time_ms: 1, finish_reason: 'stop' } as const;
const names = (batch: Batch | undefined) => batch?.events.map((e) => e.event);

function mirrored(log: SharedEventLog): { mirrored: MirroredEventLog; failures: MirrorFailure[] } {
  const failures: MirrorFailure[] = [];
  return { mirrored: new MirroredEventLog(log, (f) => failures.push(f)), failures };
}

describe('MirroredEventLog', () => {
  it('serves local readers synchronously and sends one burst of appends as one batch, in order, once the burst is over', async () => {
    const { log, batches } = sharedLog();
    const { mirrored: m, failures } = mirrored(log);
    const seen: number[] = [];
    const listener: LogListener = (_frame, event) => void seen.push(event.seq);
    m.follow(0, listener);
    m.append('started', { pool_id: 'p', replica_id: 'r', engine: 'mock', queue_wait_ms: 0 });
    await flush();
    for (let i = 0; i < 5; i++) expect(m.append('token', { t: `w${i}`, i })).toBe(i + 2);
    expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
    // Nothing of the burst is sent while it runs: the batch goes after it, not per event.
    expect(batches).toHaveLength(1);
    await Promise.resolve();
    expect(batches).toHaveLength(2);
    await flush();
    expect(batches.map((b) => b.firstSeq)).toEqual([1, 2]);
    expect(names(batches[1])).toEqual(['token', 'token', 'token', 'token', 'token']);
    // The stream gets the frames' data text, byte for byte what JSON.stringify of the data gives.
    expect(batches[1]?.events.map((e) => e.json)).toEqual([0, 1, 2, 3, 4].map((i) => JSON.stringify({ t: `w${i}`, i })));
    expect(failures).toEqual([]);
  });

  it('sends the terminal event at once, with the rest of its burst, and nothing after it', async () => {
    const { log, batches } = sharedLog();
    const { mirrored: m, failures } = mirrored(log);
    m.append('token', { t: 'a', i: 0 });
    m.append('token', { t: 'b', i: 1 });
    expect(m.append('end', END)).toBe(3);
    // Synchronously: no tick passed.
    expect(batches).toEqual([{ firstSeq: 1, events: [{ event: 'token', json: '{"t":"a","i":0}' }, { event: 'token', json: '{"t":"b","i":1}' }, { event: 'end', json: JSON.stringify(END) }] }]);
    expect(m.append('token', { t: 'late', i: 2 })).toBe(0);
    await flush();
    expect(batches).toHaveLength(1);
    expect(failures).toEqual([]);
    expect(m.terminal?.event).toBe('end');
  });

  it('serializes data with escapes as JSON.stringify does', async () => {
    const { log, batches } = sharedLog();
    const { mirrored: m } = mirrored(log);
    const error = { code: 'WORKER_RESET', message: 'a "quoted"\nline\u2028', retriable: true } as const;
    m.append('token', { t: 'hé "x"\n\ud83d', i: 0 });
    m.append('error', error);
    expect(batches[0]?.events.map((e) => JSON.parse(e.json) as unknown)).toEqual([{ t: 'hé "x"\n\ud83d', i: 0 }, error]);
    expect(batches[0]?.events[1]?.json).toBe(JSON.stringify(error));
  });

  it('stops writing to the stream after a batch failed, and reports it once; local readers go on', async () => {
    const { log, batches } = sharedLog((b, n) => (n === 2 ? Promise.reject(new Error('Connection is closed.')) : Promise.resolve({ kind: 'written', lastSeq: b.firstSeq + b.events.length - 1 })));
    const { mirrored: m, failures } = mirrored(log);
    m.append('token', { t: 'a', i: 0 });
    await flush();
    m.append('token', { t: 'b', i: 1 });
    m.append('token', { t: 'c', i: 2 });
    await flush();
    m.append('token', { t: 'd', i: 3 });
    m.append('end', { ...END, tokens_out: 4 });
    await flush();
    expect(batches.map((b) => b.firstSeq)).toEqual([1, 2]);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ taskId: 't1', seq: 2 });
    expect(m.since(0).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('stops when the stream was ended by another writer (a survivor)', async () => {
    const { log, batches } = sharedLog((_b, n) => Promise.resolve(n === 1 ? { kind: 'closed' } : { kind: 'written', lastSeq: 2 }));
    const { mirrored: m, failures } = mirrored(log);
    m.append('token', { t: 'a', i: 0 });
    await flush();
    m.append('token', { t: 'b', i: 1 });
    await flush();
    expect(batches).toHaveLength(1);
    expect(String(failures[0]?.error)).toMatch(/ended by another replica/);
  });

  it('stops when a batch does not land at the seq the local log gave its first event', async () => {
    const { log, batches } = sharedLog((_b, n) => Promise.resolve(n === 2 ? { kind: 'out_of_step', nextSeq: 1 } : { kind: 'written', lastSeq: n }));
    const { mirrored: m, failures } = mirrored(log);
    m.append('token', { t: 'a', i: 0 });
    await Promise.resolve();
    // Sent before the first batch's answer: pipelined, not awaited one by one.
    m.append('token', { t: 'b', i: 1 });
    await flush();
    m.append('token', { t: 'c', i: 2 });
    await flush();
    expect(batches.map((b) => b.firstSeq)).toEqual([1, 2]);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.seq).toBe(2);
    expect(String(failures[0]?.error)).toMatch(/next seq is 1, not 2/);
  });
});

describe('MirroredEventLog on the real Redis', () => {
  let ctx: RedisTestContext;
  let runner: RedisEventLogs;
  let reader: RedisEventLogs;
  beforeEach(async () => {
    ctx = await redisForTest();
    const keys = stateKeys(ctx.prefix);
    // Two replicas: each its own command and blocking connections.
    runner = new RedisEventLogs({ redis: ctx.connect({ enableAutoPipelining: true }), blocking: ctx.connect(), keys, retentionMs: 60_000 });
    reader = new RedisEventLogs({ redis: ctx.connect(), blocking: ctx.connect(), keys, retentionMs: 60_000 });
  });
  afterEach(async () => {
    await runner.close();
    await reader.close();
    await ctx.cleanup();
  });

  it('lets a reader on another replica see every event once, in order, with the local frames, while bursts are written behind', async () => {
    const failures: MirrorFailure[] = [];
    const m = new MirroredEventLog(runner.of('run'), (f) => failures.push(f));
    const remote: Array<{ frame: string; event: TaskEvent }> = [];
    const done = new Promise<void>((resolve, reject) => {
      reader.of('run').follow(0, (frame, event) => {
        remote.push({ frame, event });
        if (event.event === 'end') resolve();
      }, reject);
    });
    m.append('started', { pool_id: 'p', replica_id: 'r', engine: 'mock', queue_wait_ms: 0 });
    let i = 0;
    for (const burst of [1, 7, 3, 20, 1, 12]) {
      await flush();
      for (let k = 0; k < burst; k++, i++) m.append('token', { t: i % 5 === 0 ? `"q${i}"\n` : `w${i}`, i });
    }
    m.append('end', { tokens_out: i, decode_time_ms: 5, finish_reason: 'stop' });
    await done;
    const local = new TaskEventLog();
    for (const e of m.since(0)) local.append(e.event, e.data as never);
    const frames: string[] = [];
    local.follow(0, (frame) => frames.push(frame));
    expect(remote.map((r) => r.event.seq)).toEqual(m.since(0).map((e) => e.seq));
    expect(remote.map((r) => r.frame)).toEqual(frames);
    expect(failures).toEqual([]);
  });

  it('stops mirroring when a survivor ended the task first, and the stream keeps the survivor\'s terminal only', async () => {
    let failed: (failure: MirrorFailure) => void = () => {};
    const failure = new Promise<MirrorFailure>((resolve) => (failed = resolve));
    const m = new MirroredEventLog(runner.of('lost'), (f) => failed(f));
    m.append('token', { t: 'a', i: 0 });
    // The first batch is in the stream (its write is one Redis round trip, not a tick) before the survivor writes.
    await until(async () => ((await reader.of('lost').since(0)).length === 1 ? true : undefined));
    await reader.of('lost').append('error', { code: 'WORKER_RESET', message: 'lost', retriable: true });
    m.append('token', { t: 'b', i: 1 });
    m.append('end', END);
    expect(await failure).toMatchObject({ taskId: 'lost', seq: 2 });
    expect(String((await failure).error)).toMatch(/ended by another replica/);
    expect((await reader.of('lost').since(0)).map((e) => e.event)).toEqual(['token', 'error']);
  });
});
