// The task service of one replica in a cluster (state.backend redis): TaskService composed with
// the shared admission (shared-admission.ts) and the claims (claim-runner.ts); a task ends as in
// memory, then its slot and session turn settle in Redis. The memory backend never builds this.

import type { Pool } from '../../pool/pool.ts';
import type { OrchError, Result } from '../../core/errors.ts';
import type { ControlBus } from '../../state/redis/control-bus.ts';
import { QueueSweep } from '../../state/redis/queue-sweep.ts';
import { ReaderCount } from '../../state/redis/reader-count.ts';
import { RedisSlotMoves } from '../../state/redis/slot-move.ts';
import type { RedisSessionStore } from '../../state/redis/session-store.ts';
import { settleSession } from '../ending.ts';
import type { RemoteCancel, Served, TaskDesk } from '../streamed-task.ts';
import type { Ended, Ending, Task, TaskOwner, TaskSubmission } from '../task.ts';
import { ANONYMOUS_OWNER, TaskService, type TaskServiceDeps } from '../task-service.ts';
import { TASK_BACKSTOP_MS, type ClusterState } from './cluster-state.ts';
import { ClaimRunner, leaseLostError } from './claim-runner.ts';
import { ClusterOrphanGrace } from './cluster-orphan-grace.ts';
import type { DropLruVictims } from './drop-lru-victims.ts';
import { ClusterTaskLookup } from './cluster-task-lookup.ts';
import { ClaimedSlots } from './claimed-slots.ts';
import { CommitVerdicts } from './commit-verdicts.ts';
import type { RemoteTask } from './remote-task.ts';
import { NO_SESSIONS, NOT_IN_MEMORY, SharedAdmission, type SharedAdmissionDeps } from './shared-admission.ts';

export interface ClusterTaskServiceDeps
  extends Omit<TaskServiceDeps, 'idempotency' | 'quotas' | 'sessions'>,
    Pick<SharedAdmissionDeps, 'sessions' | 'sessionCreate' | 'subjectsOf' | 'weightOf'> {
  cluster: ClusterState;
}

export class ClusterTaskService extends TaskService {
  readonly #cluster: ClusterState;
  readonly #sessions: RedisSessionStore;
  /** Tasks this replica claimed and has not released: their shared queue. */
  readonly #claimed: ClaimedSlots;
  readonly #inFlight = new Set<Promise<unknown>>();
  #admitting = true;
  readonly #lookup: ClusterTaskLookup;
  readonly #orphans: ClusterOrphanGrace;
  readonly #admission: SharedAdmission;
  readonly #claims: ClaimRunner;

  constructor(deps: ClusterTaskServiceDeps) {
    // Core's admission reads a session's standing read from Redis just before (see SharedAdmission);
    // the base class's own session calls are overridden (settleTurn) or never made (admit).
    const claimed = new ClaimedSlots({ moves: new RedisSlotMoves({ redis: deps.cluster.redis, keys: deps.cluster.keys }), queueOf: (id) => deps.cluster.queueOf(id), logger: deps.logger });
    super({ ...deps, idempotency: NOT_IN_MEMORY, sessions: NO_SESSIONS, sharedSlots: claimed });
    this.#claimed = claimed;
    this.#sessions = deps.sessions;
    this.#cluster = deps.cluster;
    const verdicts = new CommitVerdicts({ redis: deps.cluster.redis, subscriber: deps.cluster.subscriber, keys: deps.cluster.keys, clock: deps.clock, ttlMs: TASK_BACKSTOP_MS });
    const readers = new ReaderCount({ redis: deps.cluster.redis, keys: deps.cluster.keys, replicaId: this.replicaId, ttlMs: TASK_BACKSTOP_MS });
    const sweep = new QueueSweep({ redis: deps.cluster.redis, keys: deps.cluster.keys, retentionMs: deps.config.server.retention_ms });
    this.#lookup = new ClusterTaskLookup({ cluster: deps.cluster, clock: deps.clock, observer: deps.observer, sessions: deps.sessions, readers, sweep, local: { get: (id) => this.get(id), cancel: (id, reason) => this.cancel(id, reason) } });
    this.#orphans = new ClusterOrphanGrace({
      readers, subscriber: deps.cluster.subscriber, clock: deps.clock,
      graceMs: () => this.deps.config.server.orphan_grace_ms,
      running: (id) => (this.#claimed.has(id) ? this.tasks.get(id) : undefined),
      finish: (task, ending) => this.finish(task, ending),
      endQueuedOrphan: (id) => this.#lookup.endQueuedOrphan(id),
    });
    const admitting = () => this.#admitting;
    const track = (promise: Promise<unknown>) => this.#track(promise);
    this.#claims = new ClaimRunner({
      ...deps, claimed, verdicts, orphans: this.#orphans, admitting, track,
      admittedHere: (id) => this.#admission.inProgress(id),
      adopt: (task) => this.tasks.set(task.id, task),
      finish: (task, ending) => this.finish(task, ending),
      pump: (pool) => this.dispatcher.pump(pool),
      endUnplaceable: (id, pool) => this.#lookup.endUnplaceable(id, pool),
    });
    this.#admission = new SharedAdmission({
      ...deps, verdicts, lookup: this.#lookup, admitting, track,
      local: (id) => this.tasks.get(id),
      start: (pool, queue, task) => this.#claims.start(pool, queue, task),
      refused: (req, correlationId, owner, error) => this.refused(req, correlationId, owner, error),
    });
    deps.pools.subscribe({ capacity: (pool) => this.#claims.publishCapacity(pool) });
    // Back after an outage (maybe an empty Redis): capacity written again, failed releases retried.
    deps.cluster.redis.on('ready', () => this.#claims.reconnected());
  }

  get replicaId(): string {
    return this.#cluster.replicaId;
  }

  /** For the takeover: a lost replica's set-aside drop-lru victims, settled here. */
  get lostReplicaAside(): ReturnType<DropLruVictims['lostReplicaAside']> {
    return this.#lookup.victims.lostReplicaAside((id) => this.deps.pools.get(id));
  }

  /** The sessions shared by the replicas (the takeover gives a lost replica's holds back with it). */
  get sessions(): RedisSessionStore {
    return this.#sessions;
  }

  /** Whether this replica admits and claims (false after its lease was lost, until it rejoins). */
  get admitting(): boolean {
    return this.#admitting;
  }

  set admitting(value: boolean) {
    this.#admitting = value;
    if (value) this.claimAll();
  }

  /** Claims in every pool (after a rejoin or a takeover put work back in reach). */
  claimAll(): void {
    for (const pool of this.deps.pools.list()) void this.claim(pool);
  }

  /** Publishes every pool's engine capacity and subscribes to the pools' wake-ups. */
  async start(): Promise<void> {
    await this.#claims.listen();
    await this.#orphans.start();
    await Promise.all(this.deps.pools.list().map((pool) => this.#claims.publishCapacity(pool)));
  }

  /** The routes' view of this service: submissions go through the shared admission. */
  desk(): TaskDesk {
    return {
      submit: (req, correlationId, owner) => this.submitShared(req, correlationId, owner),
      get: (id) => this.get(id),
      cancel: (id, reason = 'client') => {
        const local = this.cancel(id, reason);
        // A dialect client gone from a task another replica runs: cancel it there.
        if (local === undefined && !this.tasks.has(id)) void this.cancelAnywhere(id, reason);
        return local;
      },
      chatCapabilities: (model) => this.chatCapabilities(model),
      remote: {
        locate: (id) => this.locate(id),
        cancel: (id, reason) => this.cancelAnywhere(id, reason),
      },
    };
  }

  /** The memory admission must not run on a cluster replica: everything goes through submitShared. */
  protected override async admit(): Promise<never> {
    throw new Error('ClusterTaskService: use submitShared (the desk), not submit');
  }

  /** Admits through Redis (one round trip; see SharedAdmission), claiming here too when a local slot is free. */
  submitShared(req: TaskSubmission, correlationId: string, owner: TaskOwner = ANONYMOUS_OWNER): Promise<Result<Served>> {
    return this.#admission.submit(req, correlationId, owner);
  }

  /**
   * Claims and starts tasks of `pool` while this replica has a free local slot and the shared
   * queue has work (see ClaimRunner.claim). Concurrent calls fold into one loop.
   */
  claim(pool: Pool<Task>): Promise<void> {
    return this.#claims.claim(pool);
  }

  /**
   * This replica lost its lease: a survivor takes over (or already took over) every task it runs
   * and ends it with WORKER_RESET in its stream. The local copies must not go on emitting tokens
   * for tasks a survivor ended, so each ends here now, engine call aborted, with the same
   * retriable WORKER_RESET (the stream keeps whichever terminal came first). Returns how many.
   */
  endClaimedOnLeaseLoss(): number {
    let ended = 0;
    for (const id of this.#claimed.ids()) {
      const task = this.tasks.get(id);
      if (task && this.finish(task, { state: 'failed', error: leaseLostError(this.replicaId), reason: 'lease_lost' })) ended++;
    }
    return ended;
  }

  /** As in memory, and at a drain deadline the pool's shared queue too (one replica takes it, ClusterTaskLookup). */
  override endPoolWork(pool: Pool<Task>, scope: 'queued' | 'all', error: OrchError): number {
    const ended = super.endPoolWork(pool, scope, error);
    // 'all' is the drain deadline; a pool removed from one replica's config may still serve on others.
    if (scope === 'all') {
      this.#track(this.#lookup.endDrainedQueue(pool, error).then(
        (queued) => {
          if (queued > 0) this.deps.logger.info({ pool_id: pool.id, ended: queued }, 'drain deadline: queued tasks ended');
        },
        (err: unknown) => this.deps.logger.warn({ err: String(err), pool_id: pool.id }, 'drain deadline: the shared queue was not emptied; its tasks stay queued'),
      ));
    }
    return ended;
  }

  /** A claimed task's session turn, settled in Redis (its usage, and the affinity where it ran). */
  protected override settleTurn(task: Task, ending: Ending, ended: Ended): void {
    const settled = settleSession(this.#sessions, task, ending, ended);
    if (settled === undefined) return;
    this.#track(settled.catch((error: unknown) => {
      this.deps.logger.warn({ err: String(error), task_id: task.id, session_id: task.request.session_id }, 'session turn not settled in Redis');
    }));
  }

  /** Ends a task as in memory, then gives its engine slot back and settles its quota cluster-wide. */
  override finish(task: Task, ending: Ending): boolean {
    if (!super.finish(task, ending)) return false;
    const queue = this.#claimed.take(task.id);
    if (queue === undefined) return true;
    const ran = task.tokensOut > 0 || task.startedMono !== undefined;
    const budgetTokens = ran ? task.promptTokens + task.tokensOut : 0;
    const budgetCost = ran ? (task.cost?.budget ?? (budgetTokens * task.pool.config.cost_per_1k_tokens) / 1000) : 0;
    // After a slot move in flight (a re-placement), from the queue it left the slot in.
    this.#track(queue.then((q) => this.#claims.release(q, task.id, { tokens: task.tokensOut, budgetTokens, budgetCost })));
    return true;
  }

  /** The task wherever it is, followed through its Redis stream. */
  locate(id: string): Promise<Result<RemoteTask | undefined>> {
    return this.#lookup.locate(id);
  }

  /** Cancels a task wherever it is (see ClusterTaskLookup). */
  cancelAnywhere(id: string, reason: string): Promise<Result<RemoteCancel | undefined>> {
    return this.#lookup.cancelAnywhere(id, reason);
  }

  /** The control bus handler for a cancel addressed here. */
  onCancel(id: string): Promise<RemoteCancel | undefined> {
    return this.#lookup.onCancel(id);
  }

  /** The control bus, once subscribed: cancels reach the owner through it. */
  set bus(bus: Pick<ControlBus, 'send'>) {
    this.#lookup.bus = bus;
  }

  /** Holds a background write until settle(); its failure is the caller's to log (never an unhandled rejection). */
  #track(promise: Promise<unknown>): void {
    this.#inFlight.add(promise);
    const done = () => this.#inFlight.delete(promise);
    void promise.then(done, done);
  }

  /** Waits for the Redis writes in flight (releases, terminal events) before the connections close; no queued orphan grace fires after. */
  async settle(): Promise<void> {
    this.#orphans.stop();
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }
}
