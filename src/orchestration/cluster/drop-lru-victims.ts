// Settling the drop-lru victims this replica's admissions set aside (ORCH-0115 with the redis
// backend, RedisPoolQueue.settleAside): after the newcomer's commit, evicted with one terminal
// event and audit row, or put back. A settle Redis refused is retried when the connection is back.

import type { Pool } from '../../pool/pool.ts';
import type { AsideOutcome } from '../../state/redis/pool-queue.ts';
import { StateError } from '../../state/state-errors.ts';
import type { Task } from '../task.ts';
import type { ClusterState } from './cluster-state.ts';

export interface DropLruVictimsDeps {
  cluster: ClusterState;
  /** Writes an evicted victim's terminal event and audit row (ClusterTaskLookup.endEvicted). */
  endEvicted(taskId: string, pool: Pool<Task>): Promise<void>;
}

export class DropLruVictims {
  readonly #deps: DropLruVictimsDeps;
  /** Settles Redis refused, by victim id: retried once it is back (or settled by the takeover if this replica is lost first). */
  readonly #unsettled = new Map<string, () => Promise<void>>();

  constructor(deps: DropLruVictimsDeps) {
    this.#deps = deps;
    deps.cluster.redis.on('ready', () => {
      for (const retry of this.#unsettled.values()) void retry().catch(() => undefined);
    });
  }

  /**
   * `restore` after a newcomer refused at its commit (the victim goes back, as if never offered);
   * `settle` after a commit (evicted unless the queue has room again). A victim a withdrawal ended
   * meanwhile (its cancel, deadline, orphan grace, a drain) is left alone: it has its one ending.
   * Throws StateError when Redis is unreachable, after registering the retry.
   */
  async settle(victimId: string, pool: Pool<Task>, mode: 'restore' | 'settle'): Promise<void> {
    const { cluster } = this.#deps;
    let outcome: AsideOutcome;
    try {
      outcome = await cluster.queueOf(pool.id).settleAside(victimId, mode, pool.config.queue.max_queued, cluster.replicaId);
    } catch (error) {
      if (error instanceof StateError) this.#unsettled.set(victimId, () => this.settle(victimId, pool, mode));
      throw error;
    }
    this.#unsettled.delete(victimId);
    if (outcome === 'evicted') await this.#deps.endEvicted(victimId, pool);
  }

  /** For the takeover of a lost replica: settles its set-aside victims here (lost-replica.ts `aside`). */
  lostReplicaAside(poolOf: (poolId: string) => Pool<Task> | undefined): { maxQueued(poolId: string): number; ended(poolId: string, taskId: string): Promise<void> } {
    return {
      // An unknown pool here: 0 evicts (its victim's reservation never stays out of every queue).
      maxQueued: (poolId) => poolOf(poolId)?.config.queue.max_queued ?? 0,
      ended: async (poolId, taskId) => {
        const pool = poolOf(poolId);
        if (pool !== undefined) await this.#deps.endEvicted(taskId, pool);
      },
    };
  }
}
