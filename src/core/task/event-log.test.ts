import { describe, expect, it } from 'vitest';
import { TaskEventLog } from './event-log.ts';

describe('TaskEventLog', () => {
  // ORCH-0401
  it('numbers events from 1 and renders each as one SSE frame', () => {
    const log = new TaskEventLog();
    expect(log.append('token', { t: 'hé', i: 0 })).toBe(1);
    const frames: string[] = [];
    log.follow(0, (frame) => frames.push(frame));
    expect(frames).toEqual(['id: 1\nevent: token\ndata: {"t":"hé","i":0}\n\n']);
  });

  // ORCH-0403
  it('replays only events after the given seq, then delivers live ones in order', () => {
    const log = new TaskEventLog();
    log.append('token', { t: 'a', i: 0 });
    log.append('token', { t: 'b', i: 1 });
    const seen: number[] = [];
    log.follow(1, (_f, e) => seen.push(e.seq));
    log.append('token', { t: 'c', i: 2 });
    expect(seen).toEqual([2, 3]);
  });

  // ORCH-0402 ORCH-0407
  it('refuses appends after the terminal event, so nothing follows end or error', () => {
    const log = new TaskEventLog();
    log.append('end', { tokens_out: 0, decode_time_ms: 0, finish_reason: 'canceled' });
    expect(log.append('token', { t: 'late', i: 0 })).toBe(0);
    expect(log.append('error', { code: 'INTERNAL', message: 'x', retriable: false })).toBe(0);
    expect(log.lastSeq).toBe(1);
    expect(log.terminal?.event).toBe('end');
  });

  it('does not keep listeners on a finished log, and unsubscribes cleanly', () => {
    const log = new TaskEventLog();
    const off = log.follow(0, () => {});
    expect(log.listenerCount).toBe(1);
    off();
    expect(log.listenerCount).toBe(0);
    log.append('end', { tokens_out: 0, decode_time_ms: 0, finish_reason: 'stop' });
    log.follow(0, () => {});
    expect(log.listenerCount).toBe(0);
  });

  // ORCH-0403 (issue 10 finding 10: Last-Event-ID above the head)
  it('gives a reader resuming beyond the head only the ids greater than its resume point, as they arrive', () => {
    const log = new TaskEventLog();
    log.append('token', { t: 'a', i: 0 });
    const seen: number[] = [];
    log.follow(3, (_f, e) => seen.push(e.seq));
    log.append('token', { t: 'b', i: 1 });
    log.append('token', { t: 'c', i: 2 });
    expect(seen).toEqual([]);
    log.append('token', { t: 'd', i: 3 });
    log.append('end', { tokens_out: 4, decode_time_ms: 1, finish_reason: 'length' });
    expect(seen).toEqual([4, 5]);
  });
});
