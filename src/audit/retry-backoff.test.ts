import { describe, expect, it } from 'vitest';
import { RetryBackoff } from './retry-backoff.ts';

describe('RetryBackoff', () => {
  it('doubles the wait with each failure up to the cap, without jitter', () => {
    const backoff = new RetryBackoff(50, 300);
    expect([1, 2, 3, 4, 5].map(() => backoff.failed(0))).toEqual([50, 100, 200, 300, 300]);
  });

  it('starts over from the initial wait after a success', () => {
    const backoff = new RetryBackoff(50, 300);
    backoff.failed(0);
    backoff.failed(0);
    backoff.succeeded();
    expect(backoff.waitMs(0)).toBe(0);
    expect(backoff.failed(0)).toBe(50);
  });

  it('counts the wait down from the failure and reports 0 once due', () => {
    const backoff = new RetryBackoff(50, 300);
    backoff.failed(1_000);
    expect(backoff.waitMs(1_020)).toBe(30);
    expect(backoff.waitMs(1_050)).toBe(0);
    expect(backoff.waitMs(5_000)).toBe(0);
  });
});
