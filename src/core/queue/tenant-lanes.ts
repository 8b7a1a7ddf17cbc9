// One queue class's waiting entries: a FIFO lane per tenant with work, and smooth weighted round
// robin (the nginx upstream algorithm, as between the classes) among those lanes by tenant
// weight (issue 12, ORCH-0106). As with an empty class, a tenant without work keeps its running
// weight frozen until it returns, so leaving and rejoining cannot reset a tenant's turn; all of
// it is forgotten when the class runs empty (a new busy period starts afresh).

import { FifoList, type ListNode } from './fifo-list.ts';

/** A tenant's fairness weight (integer >= 1), read at every pick so a change applies at once. */
export type WeightOf = (tenant: string) => number;

interface Lane<T> {
  readonly tenant: string;
  readonly list: FifoList<T>;
  /** The running weight of smooth weighted round robin. */
  current: number;
}

/** One lane as a replay sees it: its running weight and the next node it would hand out. */
interface LaneCursor<T> {
  readonly tenant: string;
  current: number;
  node: ListNode<T> | undefined;
}

export class TenantLanes<T> {
  /** Lanes in the order they formed; ties between tenants go to the earlier lane. */
  readonly #lanes = new Map<string, Lane<T>>();
  /** Running weights of tenants that had work in this busy period and have none now. */
  readonly #idle = new Map<string, number>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Queues `value` last in `tenant`'s lane, or first with `oldest` (a victim put back). */
  push(tenant: string, value: T, oldest = false): ListNode<T> {
    let lane = this.#lanes.get(tenant);
    if (lane === undefined) {
      this.#lanes.set(tenant, (lane = { tenant, list: new FifoList<T>(), current: this.#idle.get(tenant) ?? 0 }));
      this.#idle.delete(tenant);
    }
    this.#size++;
    return oldest ? lane.list.unshift(value) : lane.list.push(value);
  }

  /** Unlinks a node of `tenant`'s lane (the caller guarantees membership). */
  unlink(tenant: string, node: ListNode<T>): void {
    const lane = this.#lanes.get(tenant) as Lane<T>; // membership is the caller's invariant
    lane.list.unlink(node);
    this.#size--;
    if (lane.list.size > 0) return;
    this.#lanes.delete(tenant);
    // A tenant that was just served leaves owing its turn; a trickle of single tasks must not
    // wipe that debt by rejoining at 0 (that would starve lighter tenants with queued work).
    if (this.#lanes.size > 0) this.#idle.set(tenant, lane.current);
    else this.#idle.clear();
  }

  /** The node the next pick hands out, advancing the round robin (O(tenants with work)). */
  pick(weightOf: WeightOf): ListNode<T> | undefined {
    if (this.#lanes.size <= 1) for (const only of this.#lanes.values()) return only.list.head;
    return pickAmong(this.#lanes.values(), weightOf, true)?.list.head;
  }

  /** What pick would hand out, changing nothing. */
  peek(weightOf: WeightOf): ListNode<T> | undefined {
    if (this.#lanes.size <= 1) for (const only of this.#lanes.values()) return only.list.head;
    return pickAmong(this.#lanes.values(), weightOf, false)?.list.head;
  }

  /** The drop-lru victim: the oldest entry of the tenant with the most queued here (earlier lane on ties). */
  victim(): ListNode<T> | undefined {
    let most: Lane<T> | undefined;
    for (const lane of this.#lanes.values()) if (most === undefined || lane.list.size > most.list.size) most = lane;
    return most?.list.head;
  }

  /** The node's 1-based place in `tenant`'s lane (the caller guarantees membership); O(place). */
  placeOf(tenant: string, node: ListNode<T>): number {
    let place = 1;
    for (let at = this.#lanes.get(tenant)?.list.head; at !== undefined && at !== node; at = at.next) place++;
    return place;
  }

  /** Sizes and weights of the lanes other than `tenant`'s, for the position estimate. */
  *othersThan(tenant: string, weightOf: WeightOf): Iterable<{ size: number; weight: number }> {
    for (const lane of this.#lanes.values()) if (lane.tenant !== tenant) yield { size: lane.list.size, weight: weightOf(lane.tenant) };
  }

  /** A replay of the picks over what is queued now, for the predicted dispatch order. */
  replay(weightOf: WeightOf): LaneReplay<T> {
    const cursors: LaneCursor<T>[] = [];
    for (const lane of this.#lanes.values()) cursors.push({ tenant: lane.tenant, current: lane.current, node: lane.list.head });
    return new LaneReplay(cursors, weightOf);
  }
}

/** Steps through the same picks TenantLanes would make if nothing were added or removed. */
export class LaneReplay<T> {
  readonly #cursors: LaneCursor<T>[];
  readonly #weightOf: WeightOf;

  constructor(cursors: LaneCursor<T>[], weightOf: WeightOf) {
    this.#cursors = cursors;
    this.#weightOf = weightOf;
  }

  get hasNext(): boolean {
    return this.#cursors.length > 0;
  }

  next(): T | undefined {
    const cursors = this.#cursors;
    const lane = cursors.length === 1 ? cursors[0] : pickAmong(cursors, this.#weightOf, true);
    if (lane?.node === undefined) return undefined;
    const { value } = lane.node;
    lane.node = lane.node.next;
    // Nothing rejoins during a replay, so a finished lane's running weight no longer matters.
    if (lane.node === undefined) cursors.splice(cursors.indexOf(lane), 1);
    return value;
  }
}

/**
 * Smooth weighted round robin over two or more lanes: each gains its weight, the highest
 * (the earliest on a tie) wins and pays the total. With weights a:b, the b-lane waits at most
 * ceil(a/b) picks of the a-lane. `advance: false` computes the winner without changing state.
 */
function pickAmong<L extends { readonly tenant: string; current: number }>(lanes: Iterable<L>, weightOf: WeightOf, advance: boolean): L | undefined {
  let best: L | undefined;
  let bestScore = 0;
  let total = 0;
  for (const lane of lanes) {
    const w = weightOf(lane.tenant);
    // Tenant weights are validated integers >= 1 (config schema, admin contract); else a wiring bug.
    if (!Number.isInteger(w) || w < 1) throw new RangeError(`FairQueue: tenant weight must be an integer >= 1, got ${w} for ${lane.tenant}`);
    total += w;
    const score = lane.current + w;
    if (advance) lane.current = score;
    if (best === undefined || score > bestScore) {
      best = lane;
      bestScore = score;
    }
  }
  if (advance && best !== undefined) best.current -= total;
  return best;
}
