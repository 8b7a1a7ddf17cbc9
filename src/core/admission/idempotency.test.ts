import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Clock } from '../ports.ts';
import { fingerprint, IdempotencyIndex } from './idempotency.ts';

function fakeClock(): Clock & { advance(ms: number): void } {
  let t = 0;
  return { now: () => 1_700_000_000_000 + t, monotonic: () => t, advance(ms) { t += ms; } };
}

describe('fingerprint', () => {
  it.each<[string, object, object]>([
    ['key order', { model: 'demo', prompt: 'hi', max_tokens: 3 }, { max_tokens: 3, prompt: 'hi', model: 'demo' }],
    ['nested key order', { a: { x: 1, y: [1, { q: 2, p: 1 }] } }, { a: { y: [1, { p: 1, q: 2 }], x: 1 } }],
    ['undefined members', { model: 'demo', seed: undefined }, { model: 'demo' }],
  ])('ignores %s', (_title, a, b) => {
    expect(fingerprint(a)).toBe(fingerprint(b));
  });

  it.each<[string, object, object]>([
    ['a changed value', { max_tokens: 3 }, { max_tokens: 4 }],
    ['a changed type', { seed: 1 }, { seed: '1' }],
    ['array order', { stop: ['a', 'b'] }, { stop: ['b', 'a'] }],
    ['an added member', { model: 'demo' }, { model: 'demo', priority: 'interactive' }],
    ['null versus absent', { seed: null }, {}],
  ])('distinguishes %s', (_title, a, b) => {
    expect(fingerprint(a)).not.toBe(fingerprint(b));
  });

  it('is the sha256 of the canonical JSON, 64 hex characters however long the prompt', () => {
    const text = '{"a":{"c":1,"d":2},"b":[1,"x",null,true]}';
    expect(fingerprint({ b: [1, 'x', null, true], a: { d: 2, c: 1 } })).toBe(createHash('sha256').update(text).digest('hex'));
    expect(fingerprint({ model: 'demo', prompt: 'p'.repeat(100_000) })).toMatch(/^[0-9a-f]{64}$/);
  });

  it('fingerprints a body holding a lone surrogate (which RFC 8785 cannot encode) as if it were U+FFFD', () => {
    const print = fingerprint({ prompt: 'x\uD800', stop: ['\uDC00'], meta: { ['k\uD800']: 1 } });
    expect(print).toBe(fingerprint({ meta: { 'k\uFFFD': 1 }, stop: ['\uFFFD'], prompt: 'x\uFFFD' }));
    expect(print).not.toBe(fingerprint({ prompt: 'x', stop: ['\uDC00'], meta: { ['k\uD800']: 1 } }));
  });
});

describe('IdempotencyIndex', () => {
  const setup = (opts = { maxEntries: 3, ttlMs: 1000 }) => {
    const clock = fakeClock();
    return { clock, index: new IdempotencyIndex(opts, clock) };
  };

  it('answers new, then replay for the same body, conflict for another', () => {
    const { index } = setup();
    const print = index.fingerprint({ prompt: 'a' });
    expect(index.check('t1', print)).toEqual({ kind: 'new' });
    index.remember('t1', print, { task_id: 't1', queue_position: 0 });
    expect(index.check('t1', fingerprint({ prompt: 'a' }))).toEqual({ kind: 'replay', answer: { task_id: 't1', queue_position: 0 } });
    expect(index.check('t1', fingerprint({ prompt: 'b' }))).toEqual({ kind: 'conflict' });
    expect(index.check('t2', print)).toEqual({ kind: 'new' });
  });

  it('forgets an answer once it is older than its TTL, on a clock that starts at 0', () => {
    const { clock, index } = setup();
    index.remember('t1', 'p', 1);
    clock.advance(1000);
    expect(index.check('t1', 'p').kind).toBe('replay');
    clock.advance(1);
    expect(index.check('t1', 'p').kind).toBe('new');
    expect(index.size).toBe(0);
  });

  it('drops the oldest answer beyond maxEntries', () => {
    const { index } = setup();
    for (const id of ['a', 'b', 'c', 'd']) index.remember(id, 'p', id);
    expect(index.size).toBe(3);
    expect(index.check('a', 'p').kind).toBe('new');
    expect(index.check('d', 'p')).toEqual({ kind: 'replay', answer: 'd' });
  });

  it('keeps an id that is being retried over one nobody asked about again', () => {
    const { index } = setup();
    for (const id of ['a', 'b', 'c']) index.remember(id, 'p', id);
    expect(index.check('a', 'p').kind).toBe('replay');
    index.remember('d', 'p', 'd');
    expect(index.check('b', 'p').kind).toBe('new');
    expect(index.check('a', 'p')).toEqual({ kind: 'replay', answer: 'a' });
  });

  it('does not restart the TTL when an answer is replayed', () => {
    const { clock, index } = setup();
    index.remember('t1', 'p', 1);
    clock.advance(600);
    expect(index.check('t1', 'p').kind).toBe('replay');
    clock.advance(600);
    expect(index.check('t1', 'p').kind).toBe('new');
  });

  it('forgets on request', () => {
    const { index } = setup();
    index.remember('t1', 'p', 1);
    expect(index.forget('t1')).toBe(true);
    expect(index.forget('t1')).toBe(false);
    expect(index.check('t1', 'p').kind).toBe('new');
  });

  it('remembers nothing with a TTL of 0 or no room', () => {
    for (const opts of [{ maxEntries: 3, ttlMs: 0 }, { maxEntries: 0, ttlMs: 1000 }]) {
      const { index } = setup(opts);
      index.remember('t1', 'p', 1);
      expect(index.check('t1', 'p').kind).toBe('new');
      expect(index.forget('t1')).toBe(false);
    }
  });

  it('restarts the TTL when an id is remembered again and keeps expiring in order', () => {
    const { clock, index } = setup();
    index.remember('a', 'p', 1);
    clock.advance(100);
    index.remember('b', 'p', 2);
    clock.advance(800);
    index.remember('a', 'p2', 3);
    clock.advance(250);
    expect(index.check('b', 'p').kind).toBe('new');
    expect(index.check('a', 'p2')).toEqual({ kind: 'replay', answer: 3 });
    expect(index.size).toBe(1);
  });
});
