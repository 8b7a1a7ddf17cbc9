import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../test/support/seeded-random.ts';
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

  it('agrees with a plain count of its leases through thousands of moves, as keys empty, come back and are dropped', () => {
    const tally = new RunningTally();
    const leases: Array<{ started: boolean; key: number }> = [];
    const next = seededRandom(7);
    const random = (n: number) => Math.floor(next() * n);
    for (let step = 0; step < 20_000; step++) {
      const roll = random(10);
      if (roll < 3 || leases.length === 0) {
        const lease = { started: false, key: 1 + random(2_000) };
        leases.push(lease);
        tally.add(lease.started, lease.key);
      } else if (roll < 4) {
        const [lease] = leases.splice(random(leases.length), 1) as [{ started: boolean; key: number }];
        tally.remove(lease.started, lease.key);
      } else {
        // An engine read: the lease moves to a key with fewer tokens left.
        const lease = leases[random(leases.length)] as { started: boolean; key: number };
        tally.remove(lease.started, lease.key);
        lease.started = true;
        lease.key = Math.max(0, lease.key - 1 - random(3));
        tally.add(true, lease.key);
      }
      if (step % 997 === 0) {
        const expected = (kind: boolean) => leases.filter((l) => l.started === kind).map((l) => l.key).sort((a, b) => a - b).slice(0, 8)
          .map((key) => (kind ? started(key) : waiting(key)));
        expect(tally.soonest(8, 1)).toEqual([...expected(true), ...expected(false)]);
        expect(tally.size).toBe(leases.length);
      }
    }
  });

  it('keys a lease by tokens left once its first token came (never below 0), else by max_tokens', () => {
    expect(tallyKey(16, 0)).toBe(16);
    expect(tallyKey(16, 5)).toBe(11);
    expect(tallyKey(16, 20)).toBe(0);
  });
});
