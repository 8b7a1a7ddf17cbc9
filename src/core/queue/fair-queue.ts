// One pool's bounded wait queue: two priority classes, FIFO within a class, smooth weighted
// round robin between them, and the full-queue policy (reject or drop-lru). Pure and
// synchronous: it never dispatches, times out or notifies; the caller acts on what it returns.

import type { Priority } from '../task/events.ts';
import { FifoList, type ListNode } from './fifo-list.ts';
import { nextTurn, peekTurn, type Turns } from './weighted-turns.ts';

export interface QueueEntry {
  readonly id: string;
  readonly priority: Priority;
}

export interface FairQueueOptions {
  /** Capacity across both classes; 0 disables queueing (every offer is refused). */
  maxQueued: number;
  policy: 'reject' | 'drop-lru';
  interactiveWeight: number;
  batchWeight: number;
}

export type OfferResult<T> = { admitted: true; evicted?: T } | { admitted: false };

export class FairQueue<T extends QueueEntry> implements Iterable<T> {
  #opts: FairQueueOptions;
  readonly #lanes: Record<Priority, FifoList<T>> = { interactive: new FifoList(), batch: new FifoList() };
  readonly #index = new Map<string, ListNode<T>>();
  #turns: Turns = { interactive: 0, batch: 0 };

  constructor(opts: FairQueueOptions) {
    this.#opts = validOptions(opts);
  }

  get size(): number {
    return this.#index.size;
  }

  sizeOf(priority: Priority): number {
    return this.#lanes[priority].size;
  }

  has(id: string): boolean {
    return this.#index.has(id);
  }

  /**
   * Admits, refuses, or (drop-lru) admits and evicts. The victim is the oldest entry of the
   * lowest non-empty class, batch before interactive; a batch newcomer never evicts
   * interactive work, it is refused instead. After a shrinking reload the queue may hold more
   * than maxQueued; drop-lru then swaps one for one, so the queue never grows past its size.
   */
  offer(entry: T): OfferResult<T> {
    // A duplicate id is a caller bug (ids are unique per task), not an expected outcome.
    if (this.#index.has(entry.id)) throw new Error(`FairQueue: duplicate entry id ${entry.id}`);
    const { maxQueued, policy } = this.#opts;
    if (maxQueued === 0) return { admitted: false };
    if (this.size < maxQueued) {
      this.#append(entry);
      return { admitted: true };
    }
    if (policy === 'reject') return { admitted: false };
    const victim = this.#victimFor(entry.priority);
    if (victim === undefined) return { admitted: false };
    this.#unlink(victim);
    this.#append(entry);
    return { admitted: true, evicted: victim.value };
  }

  take(): T | undefined {
    const cls = nextTurn(this.#turns, this.#opts, this.#lanes.interactive.size > 0, this.#lanes.batch.size > 0);
    if (cls === undefined) return undefined;
    // nextTurn only names a non-empty class, so the head exists.
    const node = this.#lanes[cls].head as ListNode<T>;
    this.#unlink(node);
    return node.value;
  }

  peek(): T | undefined {
    const cls = peekTurn(this.#turns, this.#opts, this.#lanes.interactive.size > 0, this.#lanes.batch.size > 0);
    return cls === undefined ? undefined : this.#lanes[cls].head?.value;
  }

  remove(id: string): T | undefined {
    const node = this.#index.get(id);
    if (node === undefined) return undefined;
    this.#unlink(node);
    return node.value;
  }

  /** 0-based place in the predicted dispatch order (O(n): it replays the round robin). */
  position(id: string): number | undefined {
    if (!this.#index.has(id)) return undefined;
    let i = 0;
    for (const entry of this) {
      if (entry.id === id) return i;
      i++;
    }
    return undefined;
  }

  /** Config reload: weights apply to the next pick; entries beyond a smaller max stay queued. */
  setOptions(opts: FairQueueOptions): void {
    this.#opts = validOptions(opts);
  }

  /** Entries in predicted dispatch order. Do not mutate the queue while iterating. */
  *[Symbol.iterator](): Iterator<T> {
    const turns = { ...this.#turns };
    const cursor = { interactive: this.#lanes.interactive.head, batch: this.#lanes.batch.head };
    for (;;) {
      const cls = nextTurn(turns, this.#opts, cursor.interactive !== undefined, cursor.batch !== undefined);
      if (cls === undefined) return;
      // nextTurn only names a class whose cursor is still on a node.
      const node = cursor[cls] as ListNode<T>;
      yield node.value;
      cursor[cls] = node.next;
    }
  }

  #victimFor(newcomer: Priority): ListNode<T> | undefined {
    const oldestBatch = this.#lanes.batch.head;
    if (oldestBatch) return oldestBatch;
    return newcomer === 'interactive' ? this.#lanes.interactive.head : undefined;
  }

  #append(entry: T): void {
    this.#index.set(entry.id, this.#lanes[entry.priority].push(entry));
  }

  #unlink(node: ListNode<T>): void {
    this.#lanes[node.value.priority].unlink(node);
    this.#index.delete(node.value.id);
    // Each busy period starts the round robin afresh, so history cannot bias a new burst.
    if (this.#index.size === 0) this.#turns = { interactive: 0, batch: 0 };
  }
}

function validOptions(opts: FairQueueOptions): FairQueueOptions {
  const { maxQueued, interactiveWeight, batchWeight } = opts;
  // The config schema already enforces these; failing here means a wiring bug.
  if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new RangeError(`FairQueue: maxQueued must be an integer >= 0, got ${maxQueued}`);
  for (const w of [interactiveWeight, batchWeight]) {
    if (!Number.isInteger(w) || w < 1) throw new RangeError(`FairQueue: weights must be integers >= 1, got ${w}`);
  }
  return { ...opts };
}
