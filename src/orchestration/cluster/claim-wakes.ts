// Which pool wake-ups call for a claim. Every task enters a shared queue through the admit
// script, which publishes `queued`; a release publishes `slot`. Once a claim found a pool's queue
// empty and no `queued` was heard since, a freed slot has nothing to claim: without this every
// replica ran one claim script per task end for nothing. A claim's `empty` covers only the
// `queued` wake-ups heard before it was sent, and none while the subscription was away.

/** What a claim remembers from when it was sent. */
export interface ClaimTicket {
  readonly heard: number;
  readonly epoch: number | undefined;
}

export class ClaimWakes {
  /** Per pool: `queued` wake-ups heard, and whether a claim found the queue empty since the last. */
  readonly #pools = new Map<string, { heard: number; drained: boolean }>();
  /** The subscription that hears wake-ups; undefined while none does (before it, after a drop). */
  #epoch: number | undefined;

  /** A wake-up on `poolId`'s channel: whether to claim. */
  heard(poolId: string, message: string): boolean {
    const pool = this.#of(poolId);
    if (message !== 'slot') {
      pool.heard++;
      pool.drained = false;
      return true;
    }
    return !pool.drained;
  }

  /** A claim on `poolId` is being sent. */
  sending(poolId: string): ClaimTicket {
    return { heard: this.#of(poolId).heard, epoch: this.#epoch };
  }

  /** The claim sent with `ticket` found the queue empty. */
  foundEmpty(poolId: string, ticket: ClaimTicket): void {
    const pool = this.#of(poolId);
    if (ticket.epoch !== undefined && ticket.epoch === this.#epoch && ticket.heard === pool.heard) pool.drained = true;
  }

  /** The wake-ups are heard from now on (a subscription confirmed). */
  subscribed(epoch: number): void {
    this.#epoch = epoch;
  }

  /** The subscription dropped: wake-ups may have been lost, so no pool counts as drained. */
  dropped(): void {
    this.#epoch = undefined;
    for (const pool of this.#pools.values()) pool.drained = false;
  }

  #of(poolId: string): { heard: number; drained: boolean } {
    let pool = this.#pools.get(poolId);
    if (pool === undefined) this.#pools.set(poolId, (pool = { heard: 0, drained: false }));
    return pool;
  }
}
