// The local log of a task this replica runs, written behind to its shared stream: local readers
// see every event at once; the stream gets the same events in order; a lost or refused stream
// append stops the mirroring of that task (its remote readers never see a gap).

import { describe, expect, it } from 'vitest';
import type { LogListener } from '../../core/state-ports.ts';
import type { SharedEventLog } from '../../state/shared-state-ports.ts';
import { MirroredEventLog, type MirrorFailure } from './mirrored-event-log.ts';

/** A shared log that records appends and answers each with what `answer` says. */
function sharedLog(answer: (seq: number) => Promise<number>) {
  const written: Array<{ event: string; data: unknown }> = [];
  const log: SharedEventLog = {
    taskId: 't1',
    append: (event, data) => {
      written.push({ event, data });
      return answer(written.length);
    },
    head: () => Promise.resolve({ lastSeq: written.length, terminal: undefined }),
    since: () => Promise.resolve([]),
    follow: () => () => undefined,
  };
  return { log, written };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('MirroredEventLog', () => {
  it('serves local readers synchronously and writes the same events, in order, to the stream', async () => {
    const { log, written } = sharedLog((seq) => Promise.resolve(seq));
    const failures: MirrorFailure[] = [];
    const mirrored = new MirroredEventLog(log, (f) => failures.push(f));
    const seen: number[] = [];
    const listener: LogListener = (_frame, event) => void seen.push(event.seq);
    mirrored.follow(0, listener);
    expect(mirrored.append('token', { t: 'a', i: 0 })).toBe(1);
    expect(mirrored.append('token', { t: 'b', i: 1 })).toBe(2);
    expect(seen).toEqual([1, 2]);
    expect(mirrored.append('end', { tokens_out: 2, decode_time_ms: 1, finish_reason: 'stop' })).toBe(3);
    expect(mirrored.append('token', { t: 'late', i: 2 })).toBe(0);
    await flush();
    expect(written.map((w) => w.event)).toEqual(['token', 'token', 'end']);
    expect(failures).toEqual([]);
    expect(mirrored.terminal?.event).toBe('end');
  });

  it('stops writing to the stream after an append failed, and reports it once; local readers go on', async () => {
    const { log, written } = sharedLog((seq) => (seq === 2 ? Promise.reject(new Error('Connection is closed.')) : Promise.resolve(seq)));
    const failures: MirrorFailure[] = [];
    const mirrored = new MirroredEventLog(log, (f) => failures.push(f));
    mirrored.append('token', { t: 'a', i: 0 });
    mirrored.append('token', { t: 'b', i: 1 });
    await flush();
    mirrored.append('token', { t: 'c', i: 2 });
    mirrored.append('end', { tokens_out: 3, decode_time_ms: 1, finish_reason: 'stop' });
    await flush();
    expect(written).toHaveLength(2);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ taskId: 't1', seq: 2 });
    expect(mirrored.since(0).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
  });

  it('stops when the stream was ended by another writer (a survivor) or numbered differently', async () => {
    const { log, written } = sharedLog((seq) => Promise.resolve(seq === 1 ? 0 : seq));
    const failures: MirrorFailure[] = [];
    const mirrored = new MirroredEventLog(log, (f) => failures.push(f));
    mirrored.append('token', { t: 'a', i: 0 });
    await flush();
    mirrored.append('token', { t: 'b', i: 1 });
    await flush();
    expect(written).toHaveLength(1);
    expect(String(failures[0]?.error)).toMatch(/ended by another replica/);
  });
});
