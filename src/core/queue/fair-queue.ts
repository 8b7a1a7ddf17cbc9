// One pool's bounded wait queue: two priority classes with smooth weighted round robin between
// them, and within each class the same round robin between tenants by weight, FIFO per tenant
// (ORCH-0106, issue 12); plus the full-queue policy (reject or drop-lru). Pure and synchronous:
// it never dispatches, times out or notifies; the caller acts on what it returns.

import type { Priority } from '../task/events.ts';
import type { ListNode } from './fifo-list.ts';
import { EXACT_POSITION_CAP, estimatePosition } from './queue-position.ts';
import { TenantLanes, type WeightOf } from './tenant-lanes.ts';
import { nextTurn, peekTurn, type Turns } from './weighted-turns.ts';

export interface QueueEntry {
  readonly id: string;
  readonly priority: Priority;
  /** The owning tenant; entries without one share a single lane. */
  readonly tenant?: string;
}

export interface FairQueueOptions {
  /** Capacity across both classes; 0 disables queueing (every offer is refused). */
  maxQueued: number;
  policy: 'reject' | 'drop-lru';
  interactiveWeight: number;
  batchWeight: number;
  /** Tenant weights within a class (integers >= 1); default: every tenant weighs 1. */
  weightOf?: WeightOf;
}

export type OfferResult<T> = { admitted: true; evicted?: T } | { admitted: false };

export class FairQueue<T extends QueueEntry> implements Iterable<T> {
  #opts: FairQueueOptions;
  readonly #lanes: Record<Priority, TenantLanes<T>> = { interactive: new TenantLanes(), batch: new TenantLanes() };
  readonly #index = new Map<string, ListNode<T>>();
  #turns: Turns = { interactive: 0, batch: 0 };
  #weightOf: WeightOf;

  constructor(opts: FairQueueOptions) {
    this.#opts = validOptions(opts);
    this.#weightOf = opts.weightOf ?? evenWeights;
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
   * Admits, refuses, or (drop-lru) admits and evicts. The victim comes from the lowest
   * non-empty class, batch before interactive (a batch newcomer never evicts interactive work,
   * it is refused instead): the oldest entry of the tenant with the most entries in that class,
   * so a flooding tenant pays for its own flood; with one tenant, the class's oldest entry. After a shrinking reload the queue may hold more
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

  /**
   * Puts a drop-lru victim back as the oldest entry of its tenant's lane (where the victim came
   * from), size bound aside: the newcomer that evicted it was withdrawn before its admission
   * committed, so the eviction never happened (ORCH-0115).
   */
  restore(victim: T): void {
    if (this.#index.has(victim.id)) throw new Error(`FairQueue: duplicate entry id ${victim.id}`);
    this.#index.set(victim.id, this.#lanes[victim.priority].push(victim.tenant ?? '', victim, true));
  }

  take(): T | undefined {
    const cls = nextTurn(this.#turns, this.#opts, this.#lanes.interactive.size > 0, this.#lanes.batch.size > 0);
    if (cls === undefined) return undefined;
    // nextTurn only names a non-empty class, so it hands out a node.
    const node = this.#lanes[cls].pick(this.#weightOf) as ListNode<T>;
    this.#unlink(node);
    return node.value;
  }

  peek(): T | undefined {
    const cls = peekTurn(this.#turns, this.#opts, this.#lanes.interactive.size > 0, this.#lanes.batch.size > 0);
    return cls === undefined ? undefined : this.#lanes[cls].peek(this.#weightOf)?.value;
  }

  remove(id: string): T | undefined {
    const node = this.#index.get(id);
    if (node === undefined) return undefined;
    this.#unlink(node);
    return node.value;
  }

  /**
   * 0-based place in the predicted dispatch order: exact below EXACT_POSITION_CAP (a replay of
   * both round robins, classes then tenants within the class, of at most that many picks,
   * O(cap × tenants)); at or beyond it an estimate never below the cap (queue-position.ts), as
   * the Redis admit script answers. Takes follow an exact position while nothing is added or
   * removed; an arrival can move an entry back by the newcomer's share.
   */
  position(id: string): number | undefined {
    const node = this.#index.get(id);
    if (node === undefined) return undefined;
    let i = 0;
    for (const entry of this) {
      if (i >= EXACT_POSITION_CAP) break;
      if (entry.id === id) return i;
      i++;
    }
    const { priority, tenant = '' } = node.value;
    const lanes = this.#lanes[priority];
    return estimatePosition({
      priority,
      placeInLane: lanes.placeOf(tenant, node),
      tenantWeight: this.#weightOf(tenant),
      otherLanes: lanes.othersThan(tenant, this.#weightOf),
      otherClassSize: this.#lanes[priority === 'interactive' ? 'batch' : 'interactive'].size,
      interactiveWeight: this.#opts.interactiveWeight,
      batchWeight: this.#opts.batchWeight,
    });
  }

  /** Config reload: weights apply to the next pick; entries beyond a smaller max stay queued. */
  setOptions(opts: FairQueueOptions): void {
    this.#opts = validOptions(opts);
    this.#weightOf = opts.weightOf ?? evenWeights;
  }

  /** Entries in predicted dispatch order. Do not mutate the queue while iterating. */
  *[Symbol.iterator](): Iterator<T> {
    const turns = { ...this.#turns };
    const replay = { interactive: this.#lanes.interactive.replay(this.#weightOf), batch: this.#lanes.batch.replay(this.#weightOf) };
    for (;;) {
      const cls = nextTurn(turns, this.#opts, replay.interactive.hasNext, replay.batch.hasNext);
      if (cls === undefined) return;
      // nextTurn only names a class whose replay still has an entry.
      yield replay[cls].next() as T;
    }
  }

  #victimFor(newcomer: Priority): ListNode<T> | undefined {
    if (this.#lanes.batch.size > 0) return this.#lanes.batch.victim();
    return newcomer === 'interactive' ? this.#lanes.interactive.victim() : undefined;
  }

  #append(entry: T): void {
    this.#index.set(entry.id, this.#lanes[entry.priority].push(entry.tenant ?? '', entry));
  }

  #unlink(node: ListNode<T>): void {
    this.#lanes[node.value.priority].unlink(node.value.tenant ?? '', node);
    this.#index.delete(node.value.id);
    // Each busy period starts the round robin afresh, so history cannot bias a new burst.
    if (this.#index.size === 0) this.#turns = { interactive: 0, batch: 0 };
  }
}

const evenWeights: WeightOf = () => 1;

function validOptions(opts: FairQueueOptions): FairQueueOptions {
  const { maxQueued, interactiveWeight, batchWeight } = opts;
  // The config schema already enforces these; failing here means a wiring bug.
  if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new RangeError(`FairQueue: maxQueued must be an integer >= 0, got ${maxQueued}`);
  for (const w of [interactiveWeight, batchWeight]) {
    if (!Number.isInteger(w) || w < 1) throw new RangeError(`FairQueue: weights must be integers >= 1, got ${w}`);
  }
  return { ...opts };
}
