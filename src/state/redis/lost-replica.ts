// What the survivor that won a lost replica's takeover does (issue 15): each task the lost
// replica was running gets exactly one terminal error event (retriable, naming the lost replica;
// refused by the log if the task had already ended) and its engine slot back, with its quota
// charged as reserved since its real use is unknown; the task registry then names the survivor.
// What it admitted and never answered goes back: its session holds, its unanswered task_id
// records and the queued tasks of those (never committed, nobody awaits them; the client's retry
// admits afresh). Its other queued tasks stay queued (the queue is shared, any replica claims
// them); their registry records move to the survivor, so GET and cancel route to a live replica.
// The drop-lru victims its admissions set aside are settled as their commits would have.
// Last, the runners of the tasks its readers followed are told those readers are gone.

import { errorEventData, orchError } from '../../core/errors.ts';
import type { SharedEventLogs } from '../shared-state-ports.ts';
import type { RedisIdempotency } from './idempotency.ts';
import type { RedisPoolQueue } from './pool-queue.ts';
import type { ReaderCount } from './reader-count.ts';
import type { RedisSessionStore } from './session-store.ts';
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
  /** With it, the lost replica's session holds are given back (giveBackLostReplicaHolds). */
  sessions?: RedisSessionStore;
  /** With it, the lost replica's unanswered task_id records are freed (giveBackLostReplicaHolds). */
  idempotency?: RedisIdempotency;
  /** With it, the runners of the tasks the lost replica's readers followed are told they left (their orphan grace). */
  readers?: Pick<ReaderCount, 'forgetReplica'>;
  /**
   * With it, the drop-lru victims the lost replica's admissions set aside and never settled are
   * settled by the survivor as a commit would (evicted unless the queue has room; `ended` writes
   * an evicted one's terminal event and audit row), so none keeps its reservation out of the queue.
   */
  aside?: { maxQueued(poolId: string): number; ended(poolId: string, taskId: string): Promise<void> };
}

/** What giveBackLostReplicaHolds gave back. */
export interface GivenBack {
  /** Session turns the lost replica held (admitted, neither confirmed nor released). */
  sessionTurns: number;
  /** Queued tasks of its unanswered admissions, withdrawn with all they reserved. */
  withdrawn: string[];
  /** Tasks whose task_id record was freed: a retry with the same task_id admits afresh. */
  freed: string[];
  /** Tasks whose record stays in flight: still queued where this survivor has no queue, or running on a live replica. */
  kept: string[];
}

/**
 * Ends the running tasks of `lostReplica` in every pool, gives back what it held when `deps`
 * has the session store and the idempotency store, then moves its queued tasks' registry
 * records to the survivor. WORKER_RESET is the closest code the error table has today
 * (retriable, "the work was lost mid-way"); a dedicated code is left to the wiring
 * (docs/architecture.md "Scale-out on Redis"). Running it again changes nothing.
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
  }
  // Before adoption, so the unanswered admissions' tasks leave instead of moving.
  await giveBackLostReplicaHolds(lostReplica, deps);
  // After those leave: a victim of a newcomer never answered finds room and keeps its place.
  if (deps.aside !== undefined) await settleLostAside(lostReplica, deps, deps.aside);
  for (const queue of deps.pools.values()) {
    for (const taskId of await queue.queuedBy(lostReplica)) await deps.registry.adopt(taskId, lostReplica, deps.survivor);
  }
  // After adoption, so a queued task's message reaches its live admitter (now the survivor).
  await deps.readers?.forgetReplica(lostReplica);
  return ended;
}

/**
 * Gives back what `lostReplica` held for admissions it never answered: its session holds
 * (tagged by replica, RedisSessionStore.giveBackHolds) and its unanswered task_id records. A
 * record's task still queued is withdrawn first (its admission was never committed); a task
 * running on a live replica keeps its record, since a retry could not be admitted while it runs.
 * Idempotent: a second run finds nothing. Each part runs only when `deps` has its store.
 */
export async function giveBackLostReplicaHolds(lostReplica: string, deps: LostReplicaDeps): Promise<GivenBack> {
  const given: GivenBack = { sessionTurns: 0, withdrawn: [], freed: [], kept: [] };
  if (deps.sessions !== undefined) given.sessionTurns = await deps.sessions.giveBackHolds(lostReplica);
  if (deps.idempotency === undefined) return given;
  for (const { recordKey, taskId, poolId } of await deps.idempotency.unansweredBy(lostReplica)) {
    const queue = deps.pools.get(poolId);
    if (queue !== undefined && (await queue.withdraw(taskId, deps.survivor))) given.withdrawn.push(taskId);
    else {
      const where = await deps.registry.locate(taskId);
      if (where !== undefined && (where.state === 'queued' || (where.state === 'running' && where.owner !== lostReplica))) {
        given.kept.push(taskId);
        continue;
      }
    }
    if (await deps.idempotency.free(lostReplica, recordKey)) given.freed.push(taskId);
  }
  return given;
}

/** The drop-lru victims `lostReplica` set aside, settled by the survivor (idempotent: a settled one is gone). */
async function settleLostAside(lostReplica: string, deps: LostReplicaDeps, aside: NonNullable<LostReplicaDeps['aside']>): Promise<void> {
  for (const [poolId, queue] of deps.pools) {
    for (const taskId of await queue.asideBy(lostReplica)) {
      if ((await queue.settleAside(taskId, 'settle', aside.maxQueued(poolId), deps.survivor)) === 'evicted') await aside.ended(poolId, taskId);
    }
  }
}
