// One replica's running leases counted by what orders their expected finish, so a start
// prediction reads the few that can matter instead of every lease (issue 14: at 8,192 leases the
// walk per admission dominated opening streams). Pure bookkeeping; the replica feeds it.

import { expectedRemainingTokens, type RunningWork } from './predict.ts';

/**
 * Within one replica every lease decodes at the same speed after the same time to first token,
 * so a lease that has its first token finishes no later than another with fewer tokens left
 * before max_tokens, and one still waiting for it no later than another with a smaller
 * max_tokens. Counting leases by those two numbers keeps each kind in finish order.
 */
export class RunningTally {
  /** Tokens left before max_tokens → leases that have their first token. */
  readonly #started = new Map<number, number>();
  /** max_tokens → leases still waiting for their first token. */
  readonly #waiting = new Map<number, number>();
  #startedKeys: number[] | undefined;
  #waitingKeys: number[] | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Counts a lease: `key` is its tokens left when its first token came (`started`), else its max_tokens (tallyKey). */
  add(started: boolean, key: number): void {
    this.#size++;
    if (bump(started ? this.#started : this.#waiting, key, 1)) this.#forgetOrder(started);
  }

  remove(started: boolean, key: number): void {
    this.#size--;
    if (bump(started ? this.#started : this.#waiting, key, -1)) this.#forgetOrder(started);
  }

  /**
   * The running work of up to `limit` leases of each kind with the least left, as the prediction
   * sees it at `fill`: what `limit` dispatches of `dispatchTimesMs` can reach among this
   * replica's leases (a slot's next dispatch is at its lease's end, earliest first).
   */
  soonest(limit: number, fill: number): RunningWork[] {
    const out: RunningWork[] = [];
    this.#startedKeys ??= sortedKeys(this.#started);
    this.#waitingKeys ??= sortedKeys(this.#waiting);
    take(out, this.#startedKeys, this.#started, limit, (left) => ({ remainingTokens: expectedRemainingTokens(left, 0, fill), firstTokenSeen: true }));
    take(out, this.#waitingKeys, this.#waiting, limit, (maxTokens) => ({ remainingTokens: expectedRemainingTokens(maxTokens, 0, fill), firstTokenSeen: false }));
    return out;
  }

  #forgetOrder(started: boolean): void {
    if (started) this.#startedKeys = undefined;
    else this.#waitingKeys = undefined;
  }
}

/** The key a lease with `maxTokens` and `tokensOut > 0` so far is counted under (as `expectedRemainingTokens` reads them); max_tokens before its first token. */
export function tallyKey(maxTokens: number, tokensOut: number): number {
  return tokensOut > 0 ? Math.max(0, maxTokens - tokensOut) : maxTokens;
}

/** Adds `by` to the count of `key`; true when the set of keys changed. */
function bump(counts: Map<number, number>, key: number, by: number): boolean {
  const n = (counts.get(key) ?? 0) + by;
  if (n > 0) {
    counts.set(key, n);
    return n === by;
  }
  counts.delete(key);
  return true;
}

function sortedKeys(counts: Map<number, number>): number[] {
  return [...counts.keys()].sort((a, b) => a - b);
}

function take(out: RunningWork[], keys: readonly number[], counts: Map<number, number>, limit: number, work: (key: number) => RunningWork): void {
  let left = limit;
  for (const key of keys) {
    if (left <= 0) return;
    const n = Math.min(left, counts.get(key) ?? 0);
    const w = work(key);
    for (let i = 0; i < n; i++) out.push(w);
    left -= n;
  }
}
