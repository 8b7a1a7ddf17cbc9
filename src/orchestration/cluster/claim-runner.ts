// Claiming on a cluster replica: one claim loop per pool (the claim script counts engine slots once
// cluster-wide); a claimed task becomes a local Task pinned to the engine replica the script chose,
// its events written behind to its Redis Stream; its slot's release; engine capacity published.

import type { Pool } from '../../pool/pool.ts';
import { errorEventData, orchError, type OrchError } from '../../core/errors.ts';
import type { ClaimedTask, RedisPoolQueue } from '../../state/redis/pool-queue.ts';
import { unavailable } from '../../state/state-errors.ts';
import { Task, type Ending } from '../task.ts';
import { priceOf } from '../task-price.ts';
import { ADMISSION_COMMIT_TIMEOUT_MS, type TaskServiceDeps } from '../task-service.ts';
import type { ClusterState } from './cluster-state.ts';
import { policyOf } from './admit-refusals.ts';
import type { ClusterOrphanGrace } from './cluster-orphan-grace.ts';
import type { ClaimedSlots } from './claimed-slots.ts';
import { armClaimedTaskTimers } from './claimed-task-timers.ts';
import { ClaimWakes } from './claim-wakes.ts';
import type { CommitVerdicts } from './commit-verdicts.ts';
import { MirroredEventLog } from './mirrored-event-log.ts';
import { parseSpec, type TaskSpec } from './task-spec.ts';

/** An admission in progress on this replica: its spec, and its commit's verdict once known. */
export type AdmittedHere = { spec: TaskSpec; verdict: Promise<boolean> };

export interface ClaimRunnerDeps extends Pick<TaskServiceDeps, 'config' | 'pools' | 'clock' | 'logger'> {
  cluster: ClusterState;
  /** Tasks this replica claimed and has not released: their shared queue. */
  claimed: ClaimedSlots;
  verdicts: Pick<CommitVerdicts, 'wait'>;
  orphans: Pick<ClusterOrphanGrace, 'timer' | 'claimed'>;
  /** Whether this replica admits and claims (false after its lease was lost, until it rejoins). */
  admitting(): boolean;
  /** Admissions in progress here: claiming one locally needs no read of its spec, only its commit's verdict. */
  admittedHere(taskId: string): AdmittedHere | undefined;
  /** Makes a started task one of the service's local tasks. */
  adopt(task: Task): void;
  finish(task: Task, ending: Ending): boolean;
  /** Hands the pool's retry list to the dispatcher. */
  pump(pool: Pool<Task>): void;
  /** Ends a queued task hard-pinned to a replica with no capacity (REPLICA_EXHAUSTED, as in memory). */
  endUnplaceable(taskId: string, pool: Pool<Task>): Promise<void>;
  /** Holds a background write until the service settles; its failure is logged here. */
  track(promise: Promise<unknown>): void;
}

type ClaimLoop = { running: Promise<void> | undefined; again: boolean };

/** Engine replicas this replica may claim work onto now: serviceable, with a local slot free. */
export function claimCandidates(pool: Pool<Task>): string[] {
  return pool.replicas.filter((r) => r.serviceable && r.slotsBusy < r.slotsTotal).map((r) => r.id);
}

/** The terminal error of a task this replica ran when it lost its lease (the survivor writes the same code). */
export function leaseLostError(replicaId: string): OrchError {
  return orchError('WORKER_RESET', `gateway replica ${replicaId} lost its lease while running this task; retry`);
}

export class ClaimRunner {
  readonly #deps: ClaimRunnerDeps;
  readonly #cluster: ClusterState;
  readonly #claimed: ClaimedSlots;
  readonly #claims = new Map<string, ClaimLoop>();
  /** Which wake-ups call for a claim; `#subscriptions` numbers the subscriber's (re)subscriptions. */
  readonly #wakes = new ClaimWakes();
  #subscriptions = 0;
  /** Slots published per `<pool>\n<engine replica>`, so only changes are written. */
  readonly #published = new Map<string, number>();
  /** Releases that failed (Redis gone): retried when the connection is back. */
  readonly #unreleased = new Map<string, () => Promise<unknown>>();

  constructor(deps: ClaimRunnerDeps) {
    this.#deps = deps;
    this.#cluster = deps.cluster;
    this.#claimed = deps.claimed;
  }

  get #replicaId(): string {
    return this.#cluster.replicaId;
  }

  /** Subscribes to the pools' wake-ups (a task queued or a slot freed anywhere): each claims in its pool. */
  async listen(): Promise<void> {
    const { subscriber } = this.#cluster;
    const byChannel = new Map<string, string>();
    for (const [poolId, queue] of this.#cluster.queues) byChannel.set(queue.wakeChannel, poolId);
    subscriber.on('message', (channel: string, message: string) => {
      const poolId = byChannel.get(channel);
      const pool = poolId === undefined ? undefined : this.#deps.pools.get(poolId);
      if (pool === undefined) return;
      // A freed slot with the queue known empty claims nothing, but a re-placement waiting for a
      // slot (ClaimedSlots) still tries it.
      const claiming = this.#wakes.heard(pool.id, message);
      // After this turn's other I/O: an admission's wake-up reaches its own admitter with the
      // admission's reply, and that reply starts the task's engine call first.
      setImmediate(() => void (claiming ? this.claim(pool) : this.#claimed.wake(pool.id)));
    });
    // Wake-ups published while the subscriber was away are lost: once it is subscribed again
    // (ioredis resubscribes too; this reply says when), every pool claims.
    subscriber.on('close', () => this.#wakes.dropped());
    subscriber.on('ready', () => {
      const epoch = ++this.#subscriptions;
      subscriber.subscribe(...byChannel.keys()).then(() => {
        if (epoch !== this.#subscriptions) return;
        this.#wakes.subscribed(epoch);
        for (const pool of this.#deps.pools.list()) void this.claim(pool);
      }, () => undefined);
    });
    try {
      await subscriber.subscribe(...byChannel.keys());
    } catch (error) {
      throw unavailable('wake subscribe', error);
    }
    this.#wakes.subscribed(0);
  }

  /**
   * Claims and starts tasks of `pool` while this replica has a free local slot and the shared
   * queue has work: after an admission here, on a wake-up (a task queued or a slot freed
   * anywhere), and when capacity appears. Concurrent calls fold into one loop.
   */
  claim(pool: Pool<Task>): Promise<void> {
    // Re-placements waiting for a slot try first (the memory backend's retry list goes ahead of its queue).
    void this.#claimed.wake(pool.id);
    let loop = this.#claims.get(pool.id);
    if (loop === undefined) this.#claims.set(pool.id, (loop = { running: undefined, again: false }));
    if (loop.running) {
      loop.again = true;
      return loop.running;
    }
    const state = loop;
    state.running = this.#claimLoop(pool, state).finally(() => {
      state.running = undefined;
    });
    return state.running;
  }

  async #claimLoop(pool: Pool<Task>, state: ClaimLoop): Promise<void> {
    const queue = this.#cluster.queueOf(pool.id);
    do {
      state.again = false;
      for (;;) {
        if (!this.#deps.admitting() || pool.retired) return;
        const candidates = claimCandidates(pool);
        if (candidates.length === 0) return;
        let claimed;
        const ticket = this.#wakes.sending(pool.id);
        try {
          claimed = await queue.claim(this.#replicaId, candidates, policyOf(pool));
        } catch (error) {
          this.#deps.logger.warn({ err: String(error), pool_id: pool.id }, 'claim failed; waiting for the next wake-up');
          return;
        }
        if (claimed.kind === 'empty') this.#wakes.foundEmpty(pool.id, ticket);
        // A hard pin on a replica with no capacity: ended here, then claim on.
        if (claimed.kind === 'unplaceable') {
          const id = claimed.taskId;
          if (await this.#deps.endUnplaceable(id, pool).then(() => true, (error: unknown) => void this.#deps.logger.warn({ err: String(error), task_id: id }, 'unplaceable pinned task not ended; the next claim hands it out again'))) continue;
        }
        if (claimed.kind !== 'claimed') break;
        await this.start(pool, queue, claimed.task);
      }
    } while (state.again);
  }

  /** A claimed task becomes a local Task pinned to the engine replica the claim counted. */
  async start(pool: Pool<Task>, queue: RedisPoolQueue, claimed: ClaimedTask): Promise<void> {
    const deps = this.#deps;
    const admittedHere = deps.admittedHere(claimed.taskId) !== undefined;
    const spec = await this.#runnableSpec(queue, claimed.taskId);
    if (spec === undefined) return;
    const task = this.#taskFrom(spec, pool);
    task.commit({ task_id: spec.id, queue_position: 0, predicted_start_ms: 0, backoff_ms: 0, streams: { sse: `/v1/tasks/${spec.id}/stream`, status: `/v1/tasks/${spec.id}` } });
    deps.adopt(task);
    this.#claimed.add(task.id, queue, claimed.engineReplica);
    armClaimedTaskTimers(task, {
      clock: deps.clock,
      unclaimedMs: deps.config.server.unclaimed_stream_timeout_ms,
      finish: (ending) => deps.finish(task, ending),
      openedElsewhere: () => this.#cluster.redis.get(this.#cluster.keys.streamOpened(task.id)).then((v) => v !== null),
    });
    if (task.finished) return;
    if (!admittedHere) deps.orphans.claimed(task);
    pool.retry.push(task);
    deps.pump(pool);
  }

  /**
   * The spec of a claimed task that may start here. One that may not (refused or never
   * committed, unreadable, or claimed by a replica whose lease went meanwhile) is ended for its
   * readers where needed, its slot given back, and undefined is answered.
   */
  async #runnableSpec(queue: RedisPoolQueue, taskId: string): Promise<TaskSpec | undefined> {
    const deps = this.#deps;
    const here = deps.admittedHere(taskId);
    let spec: TaskSpec | undefined;
    let committed = false;
    try {
      ({ spec, committed } = here ? { spec: here.spec, committed: await here.verdict } : await this.#committedSpec(taskId));
    } catch (error) {
      deps.logger.warn({ err: String(error), task_id: taskId }, 'claimed task spec unreadable');
    }
    if (spec !== undefined && !committed) {
      // Its admission was refused, or never committed (its admitter is gone): nothing of it may
      // run or reach a client. The slot goes back; nothing was used.
      this.release(queue, taskId, { tokens: 0, budgetTokens: 0, budgetCost: 0 });
      return undefined;
    }
    if (spec === undefined) {
      // Nothing to run it from: end it for its readers and give the slot back.
      await this.#cluster.logs.of(taskId).append('error', { code: 'INTERNAL', message: 'the task could not be started', retriable: true }).catch(() => 0);
      this.release(queue, taskId, 'reserved');
      return undefined;
    }
    if (!deps.admitting()) {
      // The lease went while the verdict was awaited: a survivor takes over this claim, so it
      // must not start here. Ended in its stream now (the survivor's terminal is then refused).
      await this.#cluster.logs.of(taskId).append('error', errorEventData(leaseLostError(this.#replicaId))).catch(() => 0);
      this.release(queue, taskId, { tokens: 0, budgetTokens: 0, budgetCost: 0 });
      return undefined;
    }
    return spec;
  }

  /** The local Task of a claimed spec, its clocks set back by the time it spent queued. */
  #taskFrom(spec: TaskSpec, pool: Pool<Task>): Task {
    const deps = this.#deps;
    const ageMs = Math.max(0, deps.clock.now() - spec.createdAt);
    return new Task({
      id: spec.id,
      request: spec.submission,
      // Runs on the engine replica its claim counted (the dispatcher pins it through #claimed).
      job: spec.job,
      pool,
      correlationId: spec.correlationId,
      log: new MirroredEventLog(this.#cluster.logs.of(spec.id), (failure) => {
        deps.logger.warn({ task_id: failure.taskId, seq: failure.seq, err: String(failure.error) }, 'task events no longer reach its Redis stream; local readers continue');
      }),
      now: spec.createdAt,
      mono: deps.clock.monotonic() - ageMs,
      promptTokens: spec.promptTokens,
      owner: spec.owner,
      ...(spec.affinity ? { affinity: spec.affinity } : {}),
      ...(spec.promptSha256 !== undefined ? { promptSha256: spec.promptSha256 } : {}),
      ...priceOf(deps.config, pool),
      orphanTimer: (t) => deps.orphans.timer(t),
    });
  }

  /**
   * The spec of a task claimed here but admitted elsewhere, once its admission's commit is known:
   * another replica may claim a task while its admitter still commits the audit row, and nothing
   * of a task runs before that row (the commit point). Waits at most the commit timeout.
   */
  async #committedSpec(taskId: string): Promise<{ spec: TaskSpec | undefined; committed: boolean }> {
    const [json, verdict] = await this.#cluster.redis.mget(this.#cluster.keys.spec(taskId), this.#cluster.keys.committed(taskId));
    const spec = parseSpec(json);
    if (spec === undefined || verdict != null) return { spec, committed: verdict === '1' };
    // Still being committed: the admitter announces the verdict (CommitVerdicts); silence is a refusal.
    return { spec, committed: await this.#deps.verdicts.wait(taskId, ADMISSION_COMMIT_TIMEOUT_MS + 1_000) };
  }

  /** Gives a claimed task's engine slot back and settles its quota cluster-wide; a failure is retried on reconnect. */
  release(queue: RedisPoolQueue, taskId: string, actual: Parameters<RedisPoolQueue['release']>[1]): void {
    const attempt = () => queue.release(taskId, actual, this.#replicaId);
    this.#deps.track(attempt().then(
      () => this.#unreleased.delete(taskId),
      (error: unknown) => {
        this.#unreleased.set(taskId, attempt);
        this.#deps.logger.warn({ err: String(error), task_id: taskId }, 'engine slot not released in Redis; retried when it is back');
      },
    ));
  }

  /** Back after an outage (maybe an empty Redis): capacity written again, failed releases retried. */
  reconnected(): void {
    this.#published.clear();
    for (const pool of this.#deps.pools.list()) void this.publishCapacity(pool);
    for (const [taskId, attempt] of this.#unreleased) {
      this.#deps.track(attempt().then(() => this.#unreleased.delete(taskId), () => undefined));
    }
  }

  /** Engine replicas' slots (0 while not serviceable) reach the shared capacity hash; only changes are written. */
  async publishCapacity(pool: Pool<Task>): Promise<void> {
    const queue = this.#cluster.queues.get(pool.id);
    if (queue === undefined) return;
    let grew = false;
    const writes: Array<Promise<void>> = [];
    for (const replica of pool.replicas) {
      // Not probed yet, this replica knows nothing of it: publishing 0 would overwrite what the
      // others measured (and end the tasks hard-pinned to it as unplaceable) on every start.
      if (replica.effectiveState === 'starting') continue;
      const slots = replica.effectiveState === 'ready' && replica.versionOk ? replica.slotsTotal : 0;
      const key = `${pool.id}\n${replica.id}`;
      const before = this.#published.get(key);
      if (before === slots) continue;
      this.#published.set(key, slots);
      // Gone to 0 too: a claim hands out the tasks hard-pinned to it to end.
      grew ||= slots > (before ?? 0) || (slots === 0 && (before ?? 0) > 0);
      writes.push(queue.setCapacity(replica.id, slots).catch((error: unknown) => {
        this.#published.delete(key);
        this.#deps.logger.warn({ err: String(error), pool_id: pool.id, replica_id: replica.id }, 'engine capacity not published');
      }));
    }
    await Promise.all(writes);
    if (grew) void this.claim(pool);
  }
}
