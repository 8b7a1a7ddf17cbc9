// What the survivor that won a lost replica's takeover does (issue 15): each task the lost
// replica was running gets exactly one terminal error event (retriable, naming the lost replica;
// refused by the log if the task had already ended) and its engine slot back, with its quota
// charged as reserved since its real use is unknown; the task registry then names the survivor.
// Its queued tasks stay queued (the queue is shared, any replica claims them); their registry
// records move to the survivor, so GET and cancel route to a live replica.

import { errorEventData, orchError } from '../../core/errors.ts';
import type { SharedEventLogs } from '../shared-state-ports.ts';
import type { RedisPoolQueue } from './pool-queue.ts';
import type { RedisTaskRegistry } from './task-registry.ts';

export interface LostTask {
  poolId: string;
  taskId: string;
  /** Seq of the terminal error written here, or 0 when the task had already ended. */
  terminalSeq: number;
}

export interface LostReplicaDeps {
  pools: ReadonlyMap<string, RedisPoolQueue>;
  logs: SharedEventLogs;
  registry: RedisTaskRegistry;
  /** The replica that won the takeover and runs this. */
  survivor: string;
}

/**
 * Ends the running tasks of `lostReplica` in every pool. WORKER_RESET is the closest code the
 * error table has today (retriable, "the work was lost mid-way"); a dedicated code is left to
 * the wiring (docs/architecture.md "Scale-out on Redis").
 */
export async function endLostReplicaTasks(lostReplica: string, deps: LostReplicaDeps): Promise<LostTask[]> {
  const ended: LostTask[] = [];
  const error = errorEventData(orchError('WORKER_RESET', `gateway replica ${lostReplica} was lost while running this task (its lease expired); retry`));
  for (const [poolId, queue] of deps.pools) {
    for (const { taskId } of await queue.runningBy(lostReplica)) {
      // The terminal event first: once the slot is back another task may start on it.
      const terminalSeq = await deps.logs.of(taskId).append('error', error);
      await queue.release(taskId, 'reserved', deps.survivor);
      ended.push({ poolId, taskId, terminalSeq });
    }
    for (const taskId of await queue.queuedBy(lostReplica)) await deps.registry.adopt(taskId, lostReplica, deps.survivor);
  }
  return ended;
}
