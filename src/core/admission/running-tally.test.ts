import { describe, expect, it } from 'vitest';
import { RunningTally, tallyKey } from './running-tally.ts';

const started = (remainingTokens: number) => ({ remainingTokens, firstTokenSeen: true });
const waiting = (remainingTokens: number) => ({ remainingTokens, firstTokenSeen: false });

describe('RunningTally', () => {
  it('gives up to `limit` leases of each kind with the least left, at the given fill', () => {
    const tally = new RunningTally();
    for (const left of [30, 5, 5, 12]) tally.add(true, left);
    for (const maxTokens of [64, 16]) tally.add(false, maxTokens);
    expect(tally.size).toBe(6);
    expect(tally.soonest(3, 0.5)).toEqual([started(2.5), started(2.5), started(6), waiting(8), waiting(32)]);
    expect(tally.soonest(0, 1)).toEqual([]);
  });

  it('follows leases as they move and end, including a key that empties and comes back', () => {
    const tally = new RunningTally();
    tally.add(false, 10);
    tally.add(true, 7);
    expect(tally.soonest(5, 1)).toEqual([started(7), waiting(10)]);
    tally.remove(false, 10);
    tally.add(true, 9);
    tally.remove(true, 7);
    tally.add(true, 6);
    expect(tally.soonest(5, 1)).toEqual([started(6), started(9)]);
    tally.remove(true, 6);
    tally.remove(true, 9);
    tally.add(true, 7);
    expect(tally.soonest(5, 1)).toEqual([started(7)]);
    expect(tally.size).toBe(1);
  });

  it('keys a lease by tokens left once its first token came (never below 0), else by max_tokens', () => {
    expect(tallyKey(16, 0)).toBe(16);
    expect(tallyKey(16, 5)).toBe(11);
    expect(tallyKey(16, 20)).toBe(0);
  });
});
