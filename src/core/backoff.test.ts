import { describe, expect, it } from 'vitest';
import { backoffCeilingMs, fullJitterMs, type BackoffCurve } from './backoff.ts';

const curve: BackoffCurve = { baseMs: 10, capMs: 50 };
const almostOne = (): number => 1 - Number.EPSILON;

// ORCH-0602
describe('backoffCeilingMs', () => {
  it('doubles from the base with each retry until the cap, then stays at the cap', () => {
    expect([0, 1, 2, 3, 4, 10].map((n) => backoffCeilingMs(n, curve))).toEqual([10, 20, 40, 50, 50, 50]);
  });

  it('stays at the cap for any number of retries, even past where 2^n overflows', () => {
    expect(backoffCeilingMs(5_000, curve)).toBe(50);
    expect(backoffCeilingMs(5_000, { baseMs: 0, capMs: 50 })).toBe(0);
  });

  it('never exceeds a cap below the base', () => {
    expect(backoffCeilingMs(0, { baseMs: 100, capMs: 30 })).toBe(30);
  });

  it('refuses a retry index or curve that is not a whole, finite, non-negative number', () => {
    expect(() => backoffCeilingMs(-1, curve)).toThrow(RangeError);
    expect(() => backoffCeilingMs(1.5, curve)).toThrow(RangeError);
    expect(() => backoffCeilingMs(0, { baseMs: -1, capMs: 50 })).toThrow(/baseMs/);
    expect(() => backoffCeilingMs(0, { baseMs: Number.NaN, capMs: 50 })).toThrow(RangeError);
    expect(() => backoffCeilingMs(0, { baseMs: 10, capMs: Number.POSITIVE_INFINITY })).toThrow(/capMs/);
  });
});

describe('fullJitterMs', () => {
  it('spans [0, ceiling) in whole ms as the draw goes from 0 towards 1', () => {
    expect([0, 1, 2, 3, 4].map((n) => fullJitterMs(n, curve, () => 0))).toEqual([0, 0, 0, 0, 0]);
    expect([0, 1, 2, 3, 4].map((n) => fullJitterMs(n, curve, almostOne))).toEqual([9, 19, 39, 49, 49]);
    expect(fullJitterMs(2, curve, () => 0.5)).toBe(20);
    expect(fullJitterMs(1, curve, () => 0.333)).toBe(6);
  });

  it('draws once per delay', () => {
    let draws = 0;
    fullJitterMs(3, curve, () => (draws++, 0.5));
    expect(draws).toBe(1);
  });
});
