// Tasks this replica does not run, in a cluster (state.backend redis): finding one (registry +
// spec + stream head) to serve its status and stream; cancelling one wherever it is (here, by
// withdrawal from the shared queue when this replica admitted it and nobody claimed it, or on its
// owner through the control bus); ending a queued task with its one terminal event and audit row
// (a drained pool's whole shared queue at its deadline too); counting its readers here in Redis.

import { fail, ok, orchError, type OrchError, type Result } from '../../core/errors.ts';
import type { LifecycleObserver } from '../../core/observer.ts';
import type { Clock } from '../../core/ports.ts';
import type { Pool } from '../../pool/pool.ts';
import type { ControlBus } from '../../state/redis/control-bus.ts';
import type { QueueSweep } from '../../state/redis/queue-sweep.ts';
import type { ReaderCount } from '../../state/redis/reader-count.ts';
import type { RedisSessionStore } from '../../state/redis/session-store.ts';
import { StateError, toOrchError, unavailable } from '../../state/state-errors.ts';
import type { RemoteCancel } from '../streamed-task.ts';
import type { Ending, Task } from '../task.ts';
import { TASK_BACKSTOP_MS, type ClusterState } from './cluster-state.ts';
import { DropLruVictims } from './drop-lru-victims.ts';
import { RemoteTask, type RemoteReaders } from './remote-task.ts';
import { parseSpec, specFacts, type TaskSpec } from './task-spec.ts';

export interface ClusterTaskLookupDeps {
  cluster: ClusterState;
  clock: Clock;
  observer: LifecycleObserver;
  /** A task that leaves the queue unrun after its turn was counted gives the turn back (cancelTurn). */
  sessions: Pick<RedisSessionStore, 'cancelTurn'>;
  /** Readers here of tasks held elsewhere, counted cluster-wide. */
  readers: Pick<ReaderCount, 'attach' | 'detach' | 'standing'>;
  /** Empties a drained pool's shared queue at its deadline. */
  sweep: Pick<QueueSweep, 'withdrawAll'>;
  /** The tasks this replica runs. */
  local: {
    get(id: string): Task | undefined;
    cancel(id: string, reason: string): { task: Task; canceled: boolean } | undefined;
  };
}

export class ClusterTaskLookup {
  readonly #deps: ClusterTaskLookupDeps;
  /** The drop-lru victims admissions here set aside, settled after their commits. */
  readonly victims: DropLruVictims;

  constructor(deps: ClusterTaskLookupDeps) {
    this.#deps = deps;
    this.victims = new DropLruVictims({ cluster: deps.cluster, endEvicted: (id, pool) => this.endEvicted(id, pool) });
  }

  /** A queued task another admission's commit evicted (drop-lru): its one terminal event and its audit row. */
  async endEvicted(taskId: string, pool: Pool<Task>): Promise<void> {
    const error = orchError('QUEUE_FULL_DROP_LRU', `evicted from the full queue of pool ${pool.id} by newer work (drop-lru)`, { pool_id: pool.id, retry_after_ms: pool.queueBackoffMs(), policy_label: 'drop-lru' });
    await this.#endQueued(taskId, { state: 'evicted', error, reason: 'drop-lru' });
  }

  /**
   * A queued task hard-pinned to an engine replica that has no capacity (a claim answered
   * `unplaceable`): it leaves the queue and ends `REPLICA_EXHAUSTED` with its audit row, as
   * memory's dispatcher ends it at the head. Withdrawn first by another replica: nothing here.
   */
  async endUnplaceable(taskId: string, pool: Pool<Task>): Promise<void> {
    const { cluster } = this.#deps;
    const pin = parseSpec(await cluster.redis.get(cluster.keys.spec(taskId)))?.submission.placement?.pin;
    if (!(await cluster.queueOf(pool.id).withdraw(taskId, cluster.replicaId))) return;
    const error = orchError('REPLICA_EXHAUSTED', `pinned replica ${pin ?? '(unknown)'} of pool ${pool.id} cannot take the task`, { pool_id: pool.id, retry_after_ms: pool.config.health.interval_ms });
    await this.#endQueued(taskId, { state: 'failed', error });
  }

  /**
   * A drained pool's deadline (every replica runs this at its own): the tasks still in the shared
   * queue leave it in one script and each ends as in memory, `DRAINING` with its audit row. The
   * first replica's sweep takes them all; the others find none. Returns how many ended here.
   */
  async endDrainedQueue(pool: Pool<Task>, error: OrchError): Promise<number> {
    const ids = await this.#deps.sweep.withdrawAll(pool.id, this.#deps.cluster.replicaId);
    await Promise.all(ids.map((id) => this.#endQueued(id, { state: 'canceled', reason: 'drain', error }).catch(() => undefined)));
    return ids.length;
  }

  /**
   * The orphan grace of a queued task admitted here ran out: still queued here, not detached and
   * with no reader on any live replica, it leaves the queue and ends `orphaned` (as in memory).
   * Claimed meanwhile, it is its runner's to judge (ClusterOrphanGrace.claimed).
   */
  async endQueuedOrphan(id: string): Promise<void> {
    const { cluster, readers } = this.#deps;
    const [location, json] = await Promise.all([cluster.registry.locate(id), cluster.redis.get(cluster.keys.spec(id))]);
    if (location?.owner !== cluster.replicaId || location.state !== 'queued' || parseSpec(json)?.submission.detach === true) return;
    if ((await readers.standing(id)).readers > 0) return;
    if (await cluster.queueOf(location.poolId).withdraw(id, cluster.replicaId)) await this.#endQueued(id, { state: 'canceled', reason: 'orphaned' });
  }

  /** Ends a task that left the shared queue before any replica ran it: one terminal event in its stream, one audit row. */
  async #endQueued(taskId: string, ending: Ending): Promise<void> {
    const deps = this.#deps;
    const { keys, redis } = deps.cluster;
    const [json, verdict] = await redis.mget(keys.spec(taskId), keys.committed(taskId));
    const spec = parseSpec(json);
    // '1': its admission committed and counted its session turn (ClusterTaskService's verdict).
    // Without a verdict yet its admission is still committing: that confirm finds its tracked
    // hold gone and counts nothing.
    const sessionId = spec?.submission.session_id;
    if (sessionId !== undefined && verdict === '1') await deps.sessions.cancelTurn(sessionId).catch(() => undefined);
    const log = this.#deps.cluster.logs.of(taskId);
    const seq = 'error' in ending
      ? await log.append('error', { code: ending.error.code, message: ending.error.message, retriable: ending.error.retriable, ...(ending.error.retry_after_ms !== undefined ? { retry_after_ms: ending.error.retry_after_ms } : {}) })
      : await log.append('end', { tokens_out: 0, decode_time_ms: 0, finish_reason: 'canceled' });
    if (seq === 0 || spec === undefined) return;
    const waitedMs = Math.max(0, deps.clock.now() - spec.createdAt);
    deps.observer.finished?.({
      ...specFacts(spec),
      state: ending.state === 'completed' ? 'canceled' : ending.state,
      ...('error' in ending ? { error_code: ending.error.code } : { finish_reason: 'canceled' as const }),
      ...('reason' in ending && ending.reason !== undefined ? { cancel_reason: ending.reason } : {}),
      tokens_out: 0,
      queue_wait_ms: waitedMs,
      decode_time_ms: 0,
      e2e_ms: waitedMs,
    });
  }

  /** The task wherever it is: local, or followed through its Redis stream. */
  async locate(id: string): Promise<Result<RemoteTask | undefined>> {
    try {
      const [location, json] = await Promise.all([this.#deps.cluster.registry.locate(id), this.#deps.cluster.redis.get(this.#deps.cluster.keys.spec(id)).catch((error: unknown) => {
        throw unavailable('task spec', error);
      })]);
      const spec = parseSpec(json);
      if (location === undefined || spec === undefined) return ok(undefined);
      const shared = this.#deps.cluster.logs.of(id);
      return ok(new RemoteTask(spec, location, await shared.head(), shared, this.#countedReaders(id)));
    } catch (error) {
      if (error instanceof StateError) return fail(toOrchError(error));
      throw error;
    }
  }

  remoteView(spec: TaskSpec, state: 'queued'): RemoteTask {
    const location = { owner: this.#deps.cluster.replicaId, poolId: spec.poolId, state, ttlMs: TASK_BACKSTOP_MS };
    return new RemoteTask(spec, location, { lastSeq: 0, terminal: undefined }, this.#deps.cluster.logs.of(spec.id), this.#countedReaders(spec.id));
  }

  /**
   * Readers of a task another replica may run, counted in Redis: its runner's unclaimed-stream
   * timeout reads the opened mark, its orphan grace the count. A write lost (Redis gone) is not
   * retried: a reader missed keeps nothing alive, a detach missed leaves a task to its own end.
   */
  #countedReaders(id: string): RemoteReaders {
    const { readers } = this.#deps;
    return {
      attached: () => void readers.attach(id).catch(() => undefined),
      detached: () => void readers.detach(id).catch(() => undefined),
    };
  }

  /**
   * Cancels a task wherever it is: here (running, or queued and admitted here), or on its owner
   * through the control bus, which acks once the owner's cancel finished (no token after it).
   */
  async cancelAnywhere(id: string, reason: string): Promise<Result<RemoteCancel | undefined>> {
    try {
      for (let attempt = 0; attempt < 3; attempt++) {
        const local = this.#deps.local.get(id);
        if (local) return ok(this.#cancelLocal(local.id, reason));
        const location = await this.#deps.cluster.registry.locate(id);
        if (location === undefined) return ok(undefined);
        if (location.state === 'ended') {
          const view = await this.locate(id);
          if (!view.ok || view.value === undefined) return view.ok ? ok(undefined) : view;
          const status = await view.value.status();
          return status.ok ? ok({ task_id: id, state: status.value.state, canceled: status.value.state === 'canceled' }) : status;
        }
        if (location.owner === this.#deps.cluster.replicaId) {
          const queue = this.#deps.cluster.queueOf(location.poolId);
          if (await queue.withdraw(id, this.#deps.cluster.replicaId)) {
            await this.#endQueued(id, { state: 'canceled', reason });
            return ok({ task_id: id, state: 'canceled', canceled: true });
          }
          // Claimed meanwhile (here or elsewhere): look again.
          continue;
        }
        if (this.bus === undefined) break;
        const sent = await this.bus.send(location.owner, { kind: 'cancel', task_id: id });
        if (sent.ok && sent.reply.ok) return ok(sent.reply.detail as RemoteCancel);
        if (sent.ok || sent.error.code === 'STATE_UNAVAILABLE') return fail(orchError('STATE_UNAVAILABLE', 'the replica that owns the task could not cancel it; retry', { retry_after_ms: 1_000 }));
        // Unreachable or silent owner: its lease may be expiring; look again.
      }
    } catch (error) {
      if (error instanceof StateError) return fail(toOrchError(error));
      throw error;
    }
    return fail(orchError('STATE_UNAVAILABLE', 'the replica that owns the task did not answer; retry', { retry_after_ms: 1_000 }));
  }

  #cancelLocal(id: string, reason: string): RemoteCancel | undefined {
    const result = this.#deps.local.cancel(id, reason);
    return result ? { task_id: id, state: result.task.state, canceled: result.canceled } : undefined;
  }

  /** The control bus (set by the composition once subscribed): cancels reach the owner through it. */
  bus: Pick<ControlBus, 'send'> | undefined;

  /** The control bus handler for a cancel addressed here: resolves once the task's log is closed. */
  async onCancel(id: string): Promise<RemoteCancel | undefined> {
    const local = this.#deps.local.get(id);
    if (local) return this.#cancelLocal(id, 'client');
    const location = await this.#deps.cluster.registry.locate(id);
    if (location?.owner !== this.#deps.cluster.replicaId || location.state !== 'queued') return undefined;
    if (!(await this.#deps.cluster.queueOf(location.poolId).withdraw(id, this.#deps.cluster.replicaId))) {
      const claimed = this.#deps.local.get(id);
      return claimed ? this.#cancelLocal(id, 'client') : undefined;
    }
    await this.#endQueued(id, { state: 'canceled', reason: 'client' });
    return { task_id: id, state: 'canceled', canceled: true };
  }
}
