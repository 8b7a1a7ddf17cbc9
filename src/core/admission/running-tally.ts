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
/** Zero-count keys kept beyond the live ones before they are dropped (a few leases' worth of reads). */
const ZEROS_KEPT = 64;

export class RunningTally {
  /** Tokens left before max_tokens → leases that have their first token. */
  readonly #started = new Map<number, number>();
  /** max_tokens → leases still waiting for their first token. */
  readonly #waiting = new Map<number, number>();
  #startedKeys: number[] | undefined;
  #waitingKeys: number[] | undefined;
  #size = 0;
  /** Keys whose count fell to zero and are kept (see `bump`), both maps together. */
  #zeros = 0;

  get size(): number {
    return this.#size;
  }

  /** Counts a lease: `key` is its tokens left when its first token came (`started`), else its max_tokens (tallyKey). */
  add(started: boolean, key: number): void {
    this.#size++;
    const counts = started ? this.#started : this.#waiting;
    const n = counts.get(key);
    if (n === undefined) this.#forgetOrder(started);
    else if (n === 0) this.#zeros--;
    counts.set(key, (n ?? 0) + 1);
  }

  remove(started: boolean, key: number): void {
    const counts = started ? this.#started : this.#waiting;
    const was = counts.get(key) ?? 0;
    if (was === 0) return; // not counted: nothing to take back
    this.#size--;
    // A key whose count falls to zero is kept: a lease moves to the next key on every engine
    // read, and a Map that deletes and adds a key each time allocates (V8 reuses no deleted
    // slot before it rehashes) and loses the sorted order each time. Zeros are dropped once
    // they outnumber the live keys, so the maps stay as small as the keys in use.
    counts.set(key, was - 1);
    if (was === 1 && ++this.#zeros > ZEROS_KEPT + this.#started.size + this.#waiting.size - this.#zeros) this.#dropZeros();
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

  #dropZeros(): void {
    for (const counts of [this.#started, this.#waiting]) for (const [key, n] of counts) if (n === 0) counts.delete(key);
    this.#zeros = 0;
    this.#startedKeys = undefined;
    this.#waitingKeys = undefined;
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

function sortedKeys(counts: Map<number, number>): number[] {
  return [...counts.keys()].sort((a, b) => a - b);
}

function take(out: RunningWork[], keys: readonly number[], counts: Map<number, number>, limit: number, work: (key: number) => RunningWork): void {
  let left = limit;
  for (const key of keys) {
    if (left <= 0) return;
    const n = Math.min(left, counts.get(key) ?? 0);
    if (n === 0) continue;
    const w = work(key);
    for (let i = 0; i < n; i++) out.push(w);
    left -= n;
  }
}
