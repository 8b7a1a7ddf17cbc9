import { describe, expect, it } from 'vitest';

import { backoffMs, DEFAULT_PRIORS, predictFinishMs, predictStartMs, retryAfterSeconds, ServiceStats, type BackoffInput, type StartInput } from './predict.ts';

// ORCH-0111
describe('predictStartMs', () => {
  it.each<[string, StartInput, number]>([
    ['starts at once at position 0 with a free slot', { position: 0, slotsTotal: 4, slotsBusy: 3, avgServiceMs: 1000 }, 0],
    ['starts at once while positions ahead fit the free slots', { position: 1, slotsTotal: 4, slotsBusy: 2, avgServiceMs: 1000 }, 0],
    ['waits one release when every slot is busy', { position: 0, slotsTotal: 4, slotsBusy: 4, avgServiceMs: 1000 }, 250],
    ['waits one release per task ahead', { position: 7, slotsTotal: 4, slotsBusy: 4, avgServiceMs: 1000 }, 2000],
    ['counts only releases beyond the free slots', { position: 3, slotsTotal: 4, slotsBusy: 2, avgServiceMs: 1000 }, 500],
    ['rounds up to whole milliseconds', { position: 0, slotsTotal: 3, slotsBusy: 3, avgServiceMs: 1000 }, 334],
    ['treats more busy than total (after a reload) as none free', { position: 0, slotsTotal: 2, slotsBusy: 5, avgServiceMs: 600 }, 300],
    ['is infinite when the pool has no slots', { position: 0, slotsTotal: 0, slotsBusy: 0, avgServiceMs: 1000 }, Number.POSITIVE_INFINITY],
  ])('%s', (_title, input, expected) => {
    expect(predictStartMs(input)).toBe(expected);
  });
});

describe('predictFinishMs', () => {
  it.each([
    ['adds ttft and the remaining tokens at the measured speed', { startMs: 250, maxTokens: 101, tokensPerS: 50, ttftMs: 100 }, 2350],
    ['needs no decode time for a single token', { startMs: 0, maxTokens: 1, tokensPerS: 50, ttftMs: 80 }, 80],
    ['rounds up', { startMs: 0, maxTokens: 2, tokensPerS: 3, ttftMs: 0 }, 334],
    ['is infinite without a measured speed', { startMs: 0, maxTokens: 2, tokensPerS: 0, ttftMs: 0 }, Number.POSITIVE_INFINITY],
    ['is infinite when the start is', { startMs: Number.POSITIVE_INFINITY, maxTokens: 2, tokensPerS: 10, ttftMs: 0 }, Number.POSITIVE_INFINITY],
  ])('%s', (_title, input, expected) => {
    expect(predictFinishMs(input)).toBe(expected);
  });
});

// ORCH-0107 ORCH-0111
describe('backoffMs', () => {
  it.each<[string, BackoffInput, number]>([
    ['is one slot release when the queue is just full', { queued: 10, slotsTotal: 4, avgServiceMs: 1000 }, 250],
    ['does not depend on depth when capacity is unknown', { queued: 500, slotsTotal: 4, avgServiceMs: 1000 }, 250],
    ['needs more releases when the queue is over a shrunk capacity', { queued: 12, maxQueued: 10, slotsTotal: 4, avgServiceMs: 1000 }, 750],
    ['is one release for a queue of capacity 0 with all slots busy', { queued: 0, maxQueued: 0, slotsTotal: 2, slotsBusy: 2, avgServiceMs: 1000 }, 500],
    ['is 1 ms when a free slot is about to take work', { queued: 10, maxQueued: 10, slotsTotal: 4, slotsBusy: 3, avgServiceMs: 1000 }, 1],
    ['is never below 1 ms', { queued: 10, slotsTotal: 4, avgServiceMs: 0.5 }, 1],
    ['falls back when there are no slots', { queued: 10, slotsTotal: 0, avgServiceMs: 1000 }, 1000],
    ['uses a given fallback', { queued: 10, slotsTotal: 0, avgServiceMs: 1000, fallbackMs: 2500 }, 2500],
  ])('%s', (_title, input, expected) => {
    expect(backoffMs(input)).toBe(expected);
  });

  it('agrees with predictStartMs for the task that would take the freed place', () => {
    const state = { slotsTotal: 3, slotsBusy: 3, avgServiceMs: 900 };
    expect(backoffMs({ queued: 5, maxQueued: 5, ...state })).toBe(predictStartMs({ position: 0, ...state }));
  });
});

describe('retryAfterSeconds', () => {
  it.each([[1, 1], [999, 1], [1000, 1], [1001, 2], [0, 1], [59_500, 60]])('turns %i ms into %i s', (ms, s) => {
    expect(retryAfterSeconds(ms)).toBe(s);
  });
});

const snapshot = (s: ServiceStats) => ({ avgServiceMs: s.avgServiceMs, tokensPerS: s.tokensPerS, ttftMs: s.ttftMs });
const PRIORS = { avgServiceMs: DEFAULT_PRIORS.serviceMs, tokensPerS: DEFAULT_PRIORS.tokensPerS, ttftMs: DEFAULT_PRIORS.ttftMs };

describe('ServiceStats', () => {
  it('starts from the default priors and accepts partial overrides', () => {
    expect(snapshot(new ServiceStats())).toEqual(PRIORS);
    expect(snapshot(new ServiceStats({ priors: { tokensPerS: 200 } }))).toEqual({ ...PRIORS, tokensPerS: 200 });
  });

  it('weighs the prior as one sample, then settles at alpha', () => {
    const stats = new ServiceStats({ priors: { serviceMs: 1000, tokensPerS: 10, ttftMs: 100 }, alpha: 0.25 });
    stats.observe({ serviceMs: 2000, tokens: 11, tokensPerS: 20, ttftMs: 300 });
    expect(stats.avgServiceMs).toBe(1500);
    expect(stats.tokensPerS).toBe(15);
    expect(stats.ttftMs).toBe(200);
    stats.observe({ serviceMs: 1500, tokens: 2, tokensPerS: 20, ttftMs: 200 });
    expect(stats.avgServiceMs).toBe(1500);
    stats.observe({ serviceMs: 2300, tokens: 2, tokensPerS: 20, ttftMs: 200 });
    expect(stats.avgServiceMs).toBe(1700);
  });

  it('converges on a steady workload', () => {
    const stats = new ServiceStats();
    for (let i = 0; i < 200; i++) stats.observe({ serviceMs: 400, tokens: 21, tokensPerS: 200, ttftMs: 30 });
    expect(stats.avgServiceMs).toBeCloseTo(400, 6);
    expect(stats.tokensPerS).toBeCloseTo(200, 6);
    expect(stats.ttftMs).toBeCloseTo(30, 6);
  });

  it.each([
    ['a task that produced no token', { serviceMs: 5, tokens: 0, tokensPerS: 0, ttftMs: 0 }],
    ['non-finite figures', { serviceMs: Number.NaN, tokens: 3, tokensPerS: Number.POSITIVE_INFINITY, ttftMs: -1 }],
  ])('ignores %s', (_title, sample) => {
    const stats = new ServiceStats();
    stats.observe(sample);
    expect(snapshot(stats)).toEqual(PRIORS);
  });

  it('ignores an unmeasured speed (0: fewer than two tokens)', () => {
    const stats = new ServiceStats({ priors: { tokensPerS: 10 } });
    stats.observe({ serviceMs: 100, tokens: 1, tokensPerS: 0, ttftMs: 100 });
    expect(stats.tokensPerS).toBe(10);
    expect(stats.avgServiceMs).not.toBe(DEFAULT_PRIORS.serviceMs);
  });

  it('refuses an alpha outside (0, 1]', () => {
    expect(() => new ServiceStats({ alpha: 0 })).toThrow(RangeError);
    expect(() => new ServiceStats({ alpha: 1.5 })).toThrow(RangeError);
  });
});
