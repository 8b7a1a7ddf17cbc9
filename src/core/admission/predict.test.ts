import { describe, expect, it } from 'vitest';

import {
  backoffMs,
  DEFAULT_PRIORS,
  dispatchTimesMs,
  expectedRemainingTokens,
  predictFinishMs,
  predictStartMs,
  retryAfterSeconds,
  ServiceStats,
  type BackoffInput,
  type DispatchInput,
  type SlotGroup,
} from './predict.ts';

/** One replica: `slots` slots, running tasks with these remaining tokens (first token seen), 10 tokens/s, 100 ms to first token. */
const replica = (slots: number, running: number[], tokensPerS = 10): SlotGroup => ({
  slotsTotal: slots,
  running: running.map((remainingTokens) => ({ remainingTokens, firstTokenSeen: true })),
  tokensPerS,
  ttftMs: 100,
});

// ORCH-0111; issue 10 finding 9
describe('predictStartMs', () => {
  it.each<[string, DispatchInput & { position: number }, number]>([
    ['starts at once at position 0 with a free slot', { groups: [replica(2, [50])], queued: [], position: 0 }, 0],
    ['starts at once while positions ahead fit the free slots', { groups: [replica(3, [50])], queued: [20], position: 1 }, 0],
    ['waits for the running task with the fewest tokens left', { groups: [replica(2, [50, 220])], queued: [], position: 0 }, 5_000],
    ['serves the queue ahead on the slot that frees first', { groups: [replica(2, [50, 220])], queued: [31], position: 1 }, 8_100],
    ['takes the slot of the faster replica when it frees first', { groups: [replica(1, [100], 10), replica(1, [100], 50)], queued: [], position: 0 }, 2_000],
    ['treats more leases than slots (after a reload) as none free', { groups: [replica(1, [10, 30])], queued: [], position: 0 }, 1_000],
    ['rounds up to whole milliseconds', { groups: [replica(1, [1], 3)], queued: [], position: 0 }, 334],
    ['is infinite when the pool has no slots', { groups: [], queued: [], position: 0 }, Number.POSITIVE_INFINITY],
    ['is infinite without a usable speed', { groups: [replica(1, [5], 0)], queued: [], position: 0 }, Number.POSITIVE_INFINITY],
  ])('%s', (_title, input, expected) => {
    expect(predictStartMs(input)).toBe(expected);
  });

  it('adds the time to first token for a running task that has not streamed yet', () => {
    const groups: SlotGroup[] = [{ slotsTotal: 1, running: [{ remainingTokens: 11, firstTokenSeen: false }], tokensPerS: 10, ttftMs: 100 }];
    expect(predictStartMs({ groups, queued: [], position: 0 })).toBe(1_100);
  });

  it('gives one time per dispatch, in order', () => {
    expect(dispatchTimesMs({ groups: [replica(2, [10])], queued: [11, 11, 11] }, 4)).toEqual([0, 1_000, 1_100, 2_100]);
  });
});

describe('expectedRemainingTokens', () => {
  it.each([
    [100, 0, 1, 100],
    [100, 40, 1, 60],
    [100, 40, 0.5, 30],
    [100, 120, 1, 0],
  ])('max %i, %i out, fill %d → %d', (max, out, fill, expected) => {
    expect(expectedRemainingTokens(max, out, fill)).toBe(expected);
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

// ORCH-0107 ORCH-0111; issue 10 finding 9
describe('backoffMs', () => {
  const full = (queuedCount: number): number[] => new Array<number>(queuedCount).fill(10);
  it.each<[string, BackoffInput, number]>([
    ['is the first release when the queue is just full', { groups: [replica(2, [220, 50])], queued: full(10) }, 5_000],
    ['does not depend on depth when capacity is unknown', { groups: [replica(2, [220, 50])], queued: full(500) }, 5_000],
    ['needs more dispatches when the queue is over a shrunk capacity', { groups: [replica(1, [10])], queued: [11, 11, 11], maxQueued: 1 }, 3_200],
    ['is one release for a queue of capacity 0 with all slots busy', { groups: [replica(1, [30])], queued: [], maxQueued: 0 }, 3_000],
    ['is 1 ms when a free slot is about to take work', { groups: [replica(2, [50])], queued: full(10), maxQueued: 10 }, 1],
    ['falls back when there are no slots', { groups: [], queued: full(10) }, 1_000],
    ['uses a given fallback', { groups: [], queued: full(10), fallbackMs: 2_500 }, 2_500],
  ])('%s', (_title, input, expected) => {
    expect(backoffMs(input)).toBe(expected);
  });

  it('agrees with predictStartMs for the task that would take the freed place', () => {
    const state = { groups: [replica(3, [5, 9, 40])], queued: full(5) };
    expect(backoffMs({ ...state, maxQueued: 5 })).toBe(predictStartMs({ ...state, position: 0 }));
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

  it('learns the share of max_tokens that completed tasks use, from a prior of 1', () => {
    const stats = new ServiceStats({ alpha: 0.5 });
    expect(stats.fill).toBe(1);
    stats.observe({ serviceMs: 100, tokens: 50, tokensPerS: 544.4, ttftMs: 10, maxTokens: 100 });
    expect(stats.fill).toBe(0.75);
    stats.observe({ serviceMs: 100, tokens: 50, tokensPerS: 544.4, ttftMs: 10 });
    stats.observe({ serviceMs: 100, tokens: 50, tokensPerS: 544.4, ttftMs: 10, maxTokens: 40 });
    expect(stats.fill).toBe(0.75);
  });

  it('refuses an alpha outside (0, 1]', () => {
    expect(() => new ServiceStats({ alpha: 0 })).toThrow(RangeError);
    expect(() => new ServiceStats({ alpha: 1.5 })).toThrow(RangeError);
  });
});
