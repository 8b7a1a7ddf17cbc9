// The tasks this replica claimed and has not released, each with the shared queue and engine
// replica its slot is counted on; the dispatcher's SharedSlots, so a re-placement or fallback
// hop of a claimed task takes its new slot through the cluster-wide count (slot-move.ts).

import type { Logger } from 'pino';
import type { Pool } from '../../pool/pool.ts';
import type { Replica } from '../../pool/replica.ts';
import type { RedisPoolQueue } from '../../state/redis/pool-queue.ts';
import type { RedisSlotMoves } from '../../state/redis/slot-move.ts';
import type { SharedSlots } from '../dispatcher.ts';
import type { Task } from '../task.ts';

interface Claim {
  queue: RedisPoolQueue;
  engine: string;
  /** A move in flight: the release waits for it, so it gives back the slot the move left counted. */
  moving: Promise<unknown>;
}

export interface ClaimedSlotsDeps {
  moves: RedisSlotMoves;
  queueOf(poolId: string): RedisPoolQueue;
  logger: Logger;
}

export class ClaimedSlots implements SharedSlots {
  readonly #claims = new Map<string, Claim>();
  readonly #deps: ClaimedSlotsDeps;

  constructor(deps: ClaimedSlotsDeps) {
    this.#deps = deps;
  }

  add(taskId: string, queue: RedisPoolQueue, engine: string): void {
    this.#claims.set(taskId, { queue, engine, moving: Promise.resolve() });
  }

  ids(): string[] {
    return [...this.#claims.keys()];
  }

  engineOf(task: Task): string | undefined {
    return this.#claims.get(task.id)?.engine;
  }

  /** Forgets the claim; resolves to the queue its slot is counted in, once any move in flight landed. */
  take(taskId: string): Promise<RedisPoolQueue> | undefined {
    const claim = this.#claims.get(taskId);
    if (claim === undefined) return undefined;
    this.#claims.delete(taskId);
    return claim.moving.then(() => claim.queue);
  }

  async move(task: Task, failed: Replica, to: Pool<Task>, candidates: readonly string[]): Promise<string | undefined> {
    const claim = this.#claims.get(task.id);
    if (claim === undefined || claim.engine !== failed.id) return undefined;
    const request = { taskId: task.id, from: { poolId: task.pool.id, engineReplica: failed.id }, toPoolId: to.id, candidates };
    const moving = this.#deps.moves.move(request).then(
      (result) => {
        if (result.kind !== 'moved') return undefined;
        // The claim object, not the map: a release that took it meanwhile reads the new queue.
        claim.queue = this.#deps.queueOf(to.id);
        claim.engine = result.engineReplica;
        return result.engineReplica;
      },
      (error: unknown) => {
        this.#deps.logger.warn({ err: String(error), task_id: task.id, replica_id: failed.id }, 'shared slot not moved; the task stays on its slot');
        return undefined;
      },
    );
    claim.moving = moving;
    return moving;
  }
}
