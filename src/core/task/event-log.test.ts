import { execFileSync } from 'node:child_process';
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

  it('writes each token frame exactly as JSON.stringify of its data would, whatever the text', () => {
    const texts = ['', ' the', ' café 日本', ' 🙂', 'say "hi"', 'back\\slash', 'line\nbreak\ttab', '\u0000\u001f\u007f', '\u2028\u2029', 'lone \ud83d', '\ude42 low', '</script>'];
    const log = new TaskEventLog();
    texts.forEach((t, i) => log.append('token', { t, i }));
    const frames: string[] = [];
    log.follow(0, (frame) => frames.push(frame));
    expect(frames).toEqual(texts.map((t, i) => `id: ${i + 1}\nevent: token\ndata: ${JSON.stringify({ t, i })}\n\n`));
  });

  it('replays token events equal to those appended, whatever the text, though it keeps only their frames', () => {
    const texts = ['', ' the', ' café 日本', ' 🙂', 'say "hi"', 'back\\slash', 'line\nbreak\ttab', '\u0000\u001f\u007f', '\u2028\u2029', 'lone \ud83d', '\ude42 low'];
    const log = new TaskEventLog();
    log.append('started', { pool_id: 'p', replica_id: 'r', engine: 'mock', queue_wait_ms: 1 });
    texts.forEach((t, i) => log.append('token', { t, i }));
    const expected = [{ seq: 1, event: 'started', data: { pool_id: 'p', replica_id: 'r', engine: 'mock', queue_wait_ms: 1 } }, ...texts.map((t, i) => ({ seq: i + 2, event: 'token', data: { t, i } }))];
    const replayed: unknown[] = [];
    const serialized: string[] = [];
    // A replayed token event reads its data from its frame when asked (the SSE writer never asks).
    log.follow(0, (_frame, event) => {
      replayed.push({ seq: event.seq, event: event.event, data: event.data });
      serialized.push(JSON.stringify(event));
    });
    expect(replayed).toStrictEqual(expected);
    expect(serialized).toEqual(expected.map((e) => JSON.stringify(e)));
    expect(log.since(3)).toStrictEqual(expected.slice(3));
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

/**
 * The heap a log really holds, measured in a child Node with --expose-gc: `count` logs of
 * `tokens` token events (fresh text strings, as a decoder makes them) between full collections.
 */
function measuredBytesPerLog(count: number, tokens: number): { real: number; estimate: number } {
  const script = `
    import { TaskEventLog } from ${JSON.stringify(new URL('./event-log.ts', import.meta.url).href)};
    const words = [' the', ' fox', ' jumps', ' over', ' lazy', ' dog', ' and', ' runs'];
    const build = (n) => {
      const logs = [];
      for (let k = 0; k < n; k++) {
        const log = new TaskEventLog();
        log.append('started', { pool_id: 'pool-a', replica_id: 'pool-a-0', engine: 'llamacpp', queue_wait_ms: 3 });
        for (let i = 0; i < ${tokens}; i++) log.append('token', { t: JSON.parse(JSON.stringify(words[(i + k) % 8])), i });
        log.append('end', { tokens_out: ${tokens}, decode_time_ms: 30, finish_reason: 'length' });
        logs.push(log);
      }
      return logs;
    };
    build(1_000); // compiled (and optimized) code is heap too: compile before measuring
    gc(); gc();
    const before = process.memoryUsage().heapUsed;
    const logs = build(${count});
    gc(); gc();
    const real = (process.memoryUsage().heapUsed - before) / logs.length;
    process.stdout.write(JSON.stringify({ real, estimate: logs.reduce((a, l) => a + l.bytes, 0) / logs.length }));
  `;
  const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8' });
  return JSON.parse(out) as { real: number; estimate: number };
}

describe('TaskEventLog byte estimate (what server.retention_max_bytes bounds)', () => {
  // Issue 14: memory after a burst is bounded by bytes only if the estimate is close to the heap held.
  it('is within 25% of the heap a 64-token and a 512-token log really hold', () => {
    for (const tokens of [64, 512]) {
      const { real, estimate } = measuredBytesPerLog(500, tokens);
      expect(estimate / real, `${tokens} tokens: estimate ${Math.round(estimate)} B, real ${Math.round(real)} B`).toBeGreaterThan(0.8);
      expect(estimate / real, `${tokens} tokens: estimate ${Math.round(estimate)} B, real ${Math.round(real)} B`).toBeLessThan(1.25);
    }
  }, 60_000); // two child processes; slow on a loaded machine
});
