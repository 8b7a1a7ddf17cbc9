// The tasks this replica claimed and has not released, each with the shared queue and engine
// replica its slot is counted on; the dispatcher's SharedSlots, so a re-placement or fallback
// hop of a claimed task takes its new slot through the cluster-wide count (slot-move.ts).

import type { Logger } from 'pino';
import type { Pool } from '../../pool/pool.ts';
import type { Replica } from '../../pool/replica.ts';
import type { RedisPoolQueue } from '../../state/redis/pool-queue.ts';
import type { RedisSlotMoves } from '../../state/redis/slot-move.ts';
import type { MoveCandidates, SharedSlots } from '../shared-slots.ts';
import type { Task } from '../task.ts';

interface Claim {
  queue: RedisPoolQueue;
  engine: string;
  /** A move in flight: the release waits for it, so it gives back the slot the move left counted. */
  moving: Promise<unknown>;
}

/** A move that found no slot free, waiting (holding its slot on the failed replica) for one to free anywhere. */
interface Waiting {
  task: Task;
  failed: Replica;
  to: Pool<Task>;
  candidates: MoveCandidates;
  done: (engine: string | undefined) => void;
}

export interface ClaimedSlotsDeps {
  moves: RedisSlotMoves;
  queueOf(poolId: string): RedisPoolQueue;
  logger: Logger;
}

export class ClaimedSlots implements SharedSlots {
  readonly #claims = new Map<string, Claim>();
  readonly #waiting = new Map<string, Waiting>();
  /** Wake-ups seen per pool: a wake that lands while a first try is in flight makes it try again. */
  readonly #wakes = new Map<string, number>();
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

  has(taskId: string): boolean {
    return this.#claims.has(taskId);
  }

  engineOf(task: Task): string | undefined {
    return this.#claims.get(task.id)?.engine;
  }

  /**
   * Forgets the claim (its task ended); resolves to the queue its slot is counted in, once any
   * move in flight landed. A move waiting for a slot stops waiting.
   */
  take(taskId: string): Promise<RedisPoolQueue> | undefined {
    const claim = this.#claims.get(taskId);
    if (claim === undefined) return undefined;
    this.#claims.delete(taskId);
    this.#waiting.get(taskId)?.done(undefined);
    this.#waiting.delete(taskId);
    return claim.moving.then(() => claim.queue);
  }

  /**
   * Takes a slot on a candidate now, or waits for one to free anywhere (retried on `wake`) while
   * the candidates can still serve; undefined when they cannot, the task ended, or Redis failed.
   */
  async move(task: Task, failed: Replica, to: Pool<Task>, candidates: MoveCandidates): Promise<string | undefined> {
    for (;;) {
      const seen = this.#wakes.get(to.id) ?? 0;
      const result = await this.#attempt(task, failed, to, candidates);
      if (result !== 'no_slot') return result;
      if ((this.#wakes.get(to.id) ?? 0) === seen) break;
    }
    return new Promise((done) => this.#waiting.set(task.id, { task, failed, to, candidates, done }));
  }

  /** A slot may have freed in `poolId` (a wake-up, capacity): waiting moves into it try again, oldest first. */
  async wake(poolId: string): Promise<void> {
    this.#wakes.set(poolId, (this.#wakes.get(poolId) ?? 0) + 1);
    for (const [taskId, waiting] of this.#waiting) {
      if (waiting.to.id !== poolId) continue;
      const result = await this.#attempt(waiting.task, waiting.failed, waiting.to, waiting.candidates);
      if (result === 'no_slot' || this.#waiting.get(taskId) !== waiting) continue;
      this.#waiting.delete(taskId);
      waiting.done(result);
    }
  }

  async #attempt(task: Task, failed: Replica, to: Pool<Task>, candidates: MoveCandidates): Promise<string | undefined | 'no_slot'> {
    const claim = this.#claims.get(task.id);
    const ids = candidates();
    if (claim === undefined || claim.engine !== failed.id || ids === undefined) return undefined;
    const request = { taskId: task.id, from: { poolId: task.pool.id, engineReplica: failed.id }, toPoolId: to.id, candidates: ids };
    const moving = this.#deps.moves.move(request).then(
      (result) => {
        if (result.kind === 'no_slot') return 'no_slot' as const;
        if (result.kind === 'gone') return undefined;
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
