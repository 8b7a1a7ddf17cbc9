// The task service of one replica in a cluster (state.backend redis). Admission keeps core's
// pure `admit` for validation, routing and prediction, then takes ONE Redis round trip for the
// shared part (the task's spec written + the admit script: task_id, quotas, queue room,
// enqueue, registry, position), then the audit commit point as in memory. Dispatch runs only
// what this replica claimed (the claim script counts engine slots once cluster-wide); a claimed
// task becomes a local Task pinned to the engine replica the script chose, its events written
// behind to the task's Redis Stream. Release settles the slot and the quota when it ends.
// The memory backend never builds this class: its path is TaskService alone.

import type { Pool } from '../../pool/pool.ts';
import { admit, type AdmissionPlan } from '../../core/admission/admit.ts';
import { fingerprint } from '../../core/admission/idempotency.ts';
import { errorEventData, fail, ok, orchError, type ErrorCode, type OrchError, type Result } from '../../core/errors.ts';
import type { AdmittedFact } from '../../core/observer.ts';
import type { IdempotencyStore, SessionStore } from '../../core/state-ports.ts';
import type { SessionStanding } from '../../core/session/session-record.ts';
import type { ControlBus } from '../../state/redis/control-bus.ts';
import { QueueSweep } from '../../state/redis/queue-sweep.ts';
import { ReaderCount } from '../../state/redis/reader-count.ts';
import type { AdmitSubject, ClaimedTask, RedisPoolQueue } from '../../state/redis/pool-queue.ts';
import type { RedisSessionStore } from '../../state/redis/session-store.ts';
import { RedisSlotMoves } from '../../state/redis/slot-move.ts';
import { claimPreference } from '../../core/placement/claim-preference.ts';
import { StateError, toOrchError, unavailable } from '../../state/state-errors.ts';
import { admissionSnapshot } from '../admission.ts';
import { settleSession } from '../ending.ts';
import type { RemoteCancel, Served, TaskDesk } from '../streamed-task.ts';
import { Task, type Ended, type Ending, type TaskAccepted, type TaskOwner, type TaskSubmission } from '../task.ts';
import { priceOf } from '../task-price.ts';
import { ADMISSION_COMMIT_TIMEOUT_MS, ANONYMOUS_OWNER, finiteMs, idempotencyKey, TaskService, withTimeout, type TaskServiceDeps } from '../task-service.ts';
import { TASK_BACKSTOP_MS, type ClusterState } from './cluster-state.ts';
import { policyOf, refusalOf } from './admit-refusals.ts';
import { ClusterOrphanGrace } from './cluster-orphan-grace.ts';
import type { DropLruVictims } from './drop-lru-victims.ts';
import { ClusterTaskLookup } from './cluster-task-lookup.ts';
import { ClaimedSlots } from './claimed-slots.ts';
import { armClaimedTaskTimers } from './claimed-task-timers.ts';
import { ClaimWakes } from './claim-wakes.ts';
import { CommitVerdicts } from './commit-verdicts.ts';
import { MirroredEventLog } from './mirrored-event-log.ts';
import { RemoteTask } from './remote-task.ts';
import { parseSpec, specFacts, type TaskSpec } from './task-spec.ts';

export interface ClusterTaskServiceDeps extends Omit<TaskServiceDeps, 'idempotency' | 'quotas' | 'sessions'> {
  cluster: ClusterState;
  /** The sessions shared by the replicas, built with `replicaId` = this replica (its holds are tagged so). */
  sessions: RedisSessionStore;
  /** How a session this owner's task creates is made: its owner, and the TTL the tenant allows. */
  sessionCreate(owner: TaskOwner): { owner: string; ttl_ms?: number };
  /** The quota subjects of a caller with their limits and, with a budget, the period holding `now`. */
  subjectsOf(owner: TaskOwner, now: number): AdmitSubject[];
  /** A tenant's fairness weight (integer >= 1). */
  weightOf(tenant: string): number;
}

/** The in-memory index is never consulted: the admit script checks task_ids cluster-wide. */
const NOT_IN_MEMORY: IdempotencyStore = { check: () => ({ kind: 'new' }), remember: () => undefined, forget: () => undefined };

/** The base class must not touch sessions on a cluster replica: they are in Redis (#sessions). */
const NO_SESSIONS: SessionStore = new Proxy({} as SessionStore, {
  get: (_target, name) => {
    throw new Error(`ClusterTaskService: sessions.${String(name)} of the in-memory store used; sessions are in Redis`);
  },
});

/** A session's standing, read from Redis before the admission, as the store core's admission reads. */
function standingOnly(standing: SessionStanding): SessionStore {
  return new Proxy({} as SessionStore, {
    get: (_target, name) => {
      if (name === 'standing') return () => standing;
      throw new Error(`ClusterTaskService: sessions.${String(name)} read during admission`);
    },
  });
}

type ClaimLoop = { running: Promise<void> | undefined; again: boolean };

/** Engine replicas this replica may claim work onto now: serviceable, with a local slot free. */
function claimCandidates(pool: Pool<Task>): string[] {
  return pool.replicas.filter((r) => r.serviceable && r.slotsBusy < r.slotsTotal).map((r) => r.id);
}

/** The terminal error of a task this replica ran when it lost its lease (the survivor writes the same code). */
function leaseLostError(replicaId: string): OrchError {
  return orchError('WORKER_RESET', `gateway replica ${replicaId} lost its lease while running this task; retry`);
}

export class ClusterTaskService extends TaskService {
  readonly #cluster: ClusterState;
  readonly #subjectsOf: ClusterTaskServiceDeps['subjectsOf'];
  readonly #weightOf: ClusterTaskServiceDeps['weightOf'];
  readonly #sessions: RedisSessionStore;
  readonly #sessionCreate: ClusterTaskServiceDeps['sessionCreate'];
  /** Tasks this replica claimed and has not released: their shared queue. */
  readonly #claimed: ClaimedSlots;
  readonly #claims = new Map<string, ClaimLoop>();
  /** Which wake-ups call for a claim; `#subscriptions` numbers the subscriber's (re)subscriptions. */
  readonly #wakes = new ClaimWakes();
  #subscriptions = 0;
  /** Slots published per `<pool>\n<engine replica>`, so only changes are written. */
  readonly #published = new Map<string, number>();
  /** Releases that failed (Redis gone): retried when the connection is back. */
  readonly #unreleased = new Map<string, () => Promise<unknown>>();
  readonly #inFlight = new Set<Promise<unknown>>();
  /** Admissions in progress here: claiming one locally needs no read of its spec, only its commit's verdict. */
  readonly #admittedHere = new Map<string, { spec: TaskSpec; verdict: Promise<boolean> }>();
  #admitting = true;
  readonly #lookup: ClusterTaskLookup;
  readonly #verdicts: CommitVerdicts;
  readonly #orphans: ClusterOrphanGrace;

  constructor(deps: ClusterTaskServiceDeps) {
    // Core's admission reads a session's standing read from Redis just before (see #admitShared);
    // the base class's own session calls are overridden (settleTurn) or never made (admit).
    const claimed = new ClaimedSlots({ moves: new RedisSlotMoves({ redis: deps.cluster.redis, keys: deps.cluster.keys }), queueOf: (id) => deps.cluster.queueOf(id), logger: deps.logger });
    super({ ...deps, idempotency: NOT_IN_MEMORY, sessions: NO_SESSIONS, sharedSlots: claimed });
    this.#claimed = claimed;
    this.#sessions = deps.sessions;
    this.#sessionCreate = deps.sessionCreate;
    this.#cluster = deps.cluster;
    this.#subjectsOf = deps.subjectsOf;
    this.#weightOf = deps.weightOf;
    this.#verdicts = new CommitVerdicts({ redis: deps.cluster.redis, subscriber: deps.cluster.subscriber, keys: deps.cluster.keys, clock: deps.clock, ttlMs: TASK_BACKSTOP_MS });
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
    deps.pools.subscribe({ capacity: (pool) => this.#publishCapacity(pool) });
    // Back after an outage (maybe an empty Redis): capacity written again, failed releases retried.
    deps.cluster.redis.on('ready', () => {
      this.#published.clear();
      for (const pool of deps.pools.list()) void this.#publishCapacity(pool);
      this.#retryReleases();
    });
  }

  get replicaId(): string {
    return this.#cluster.replicaId;
  }

  /** [drop-lru] For the takeover: a lost replica's set-aside drop-lru victims, settled here. */
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
    const { subscriber } = this.#cluster;
    const byChannel = new Map<string, string>();
    for (const [poolId, queue] of this.#cluster.queues) byChannel.set(queue.wakeChannel, poolId);
    subscriber.on('message', (channel: string, message: string) => {
      const poolId = byChannel.get(channel);
      const pool = poolId === undefined ? undefined : this.deps.pools.get(poolId);
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
        this.claimAll();
      }, () => undefined);
    });
    try {
      await subscriber.subscribe(...byChannel.keys());
    } catch (error) {
      throw unavailable('wake subscribe', error);
    }
    this.#wakes.subscribed(0);
    await this.#orphans.start();
    await Promise.all(this.deps.pools.list().map((pool) => this.#publishCapacity(pool)));
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

  async submitShared(req: TaskSubmission, correlationId: string, owner: TaskOwner = ANONYMOUS_OWNER): Promise<Result<Served>> {
    let outcome: Result<Served>;
    try {
      outcome = await this.#admitShared(req, correlationId, owner);
    } catch (error) {
      if (!(error instanceof StateError)) throw error;
      outcome = fail(toOrchError(error));
    }
    if (!outcome.ok) this.refused(req, correlationId, owner, outcome.error);
    return outcome;
  }

  async #admitShared(req: TaskSubmission, correlationId: string, owner: TaskOwner): Promise<Result<Served>> {
    const { deps } = this;
    if (!this.#admitting) throw new StateError('STATE_UNAVAILABLE', 'this replica lost its lease and is rejoining', { retryAfterMs: 1_000 });
    // The session's owner and standing (its affinity for placement; core refuses early what the
    // admit script would). The admit script checks and holds the turn again, atomically.
    let standing: SessionStanding | undefined;
    if (req.session_id !== undefined) {
      const [sessionOwner, read] = await Promise.all([this.#sessions.ownerOf(req.session_id), this.#sessions.standing(req.session_id)]);
      // Another tenant's live session is not this caller's to use (ORCH-1205).
      if (sessionOwner !== undefined && sessionOwner !== owner.tenant) {
        return fail(orchError('CONFLICT', `session_id ${req.session_id} is taken; choose another id`, { field: 'session_id' }));
      }
      standing = read;
    }
    const digest = req.task_id !== undefined ? fingerprint(req) : '';
    const snapshot = admissionSnapshot(req, digest, {
      config: deps.config,
      pools: deps.pools,
      sessions: standing === undefined ? NO_SESSIONS : standingOnly(standing),
      idempotency: NOT_IN_MEMORY,
      holds: () => false,
      auditAccepting: () => deps.recorder.accepting(),
    });
    const decided = admit(snapshot, req);
    if (!decided.ok) return decided;
    // The in-memory index never replays: the admit script does.
    if (decided.value.kind !== 'admit') throw new Error('replay from an index that holds nothing');
    const { plan } = decided.value;
    const pool = deps.pools.get(plan.poolId) as Pool<Task>;
    const now = deps.clock.now();
    const spec: TaskSpec = {
      id: req.task_id ?? deps.ids.uuid(),
      submission: req,
      owner,
      correlationId,
      poolId: pool.id,
      job: plan.job,
      promptTokens: plan.promptTokens,
      ...(plan.affinity ? { affinity: plan.affinity } : {}),
      createdAt: now,
      admittedBy: this.replicaId,
    };
    let settle: (committed: boolean) => void = () => undefined;
    const verdict = new Promise<boolean>((resolve) => {
      settle = resolve;
    });
    this.#admittedHere.set(spec.id, { spec, verdict });
    try {
      return await this.#admitSpec(spec, plan, pool, digest, settle);
    } finally {
      // Refused before its commit (or by it): a claim of it here runs nothing. (A settled verdict stays.)
      settle(false);
      this.#admittedHere.delete(spec.id);
    }
  }

  async #admitSpec(spec: TaskSpec, plan: AdmissionPlan, pool: Pool<Task>, digest: string, settle: (committed: boolean) => void): Promise<Result<Served>> {
    const { deps } = this;
    const req = spec.submission;
    const owner = spec.owner;
    const now = spec.createdAt;
    const queue = this.#cluster.queueOf(pool.id);
    const budgetTokens = plan.promptTokens + req.max_tokens;
    // A local engine slot free: claim in the same round trip, ahead of other replicas' wake-ups.
    // The task's preference (pin, prefer, session affinity) travels in its queue entry, so
    // whichever replica claims it runs it on the engine replica it prefers when that one has a slot.
    const candidates = claimCandidates(pool);
    const preference = claimPreference(plan.job);
    const subjects = this.#subjectsOf(owner, now);
    const { admit: result, claim } = await queue.admitAndClaim(
      {
        taskId: spec.id,
        priority: req.priority ?? 'interactive',
        tenant: owner.tenant,
        tenantWeight: this.#weightOf(owner.tenant),
        ...(req.task_id !== undefined ? { idempotency: { key: idempotencyKey(owner.tenant, req.task_id), digest, ttlMs: this.#cluster.idempotency.ttlMs } } : {}),
        admittedBy: this.replicaId,
        maxTokens: req.max_tokens,
        budgetTokens,
        budgetCost: (budgetTokens * pool.config.cost_per_1k_tokens) / 1000,
        subjects,
        ...(preference ? { preference } : {}),
        ...(req.session_id !== undefined ? { session: { id: req.session_id, defaults: this.#sessions.defaults, trackHold: true, owner: this.#sessionCreate(owner).owner } } : {}),
      },
      policyOf(pool),
      { key: this.#cluster.keys.spec(spec.id), value: JSON.stringify(spec), ttlMs: TASK_BACKSTOP_MS },
      this.#admitting ? { claimer: this.replicaId, candidates } : undefined,
    );
    // It waits for this admission's verdict when it is this task (settled below).
    const started = claim?.kind === 'claimed' ? this.#start(pool, queue, claim.task) : undefined;
    if (result.kind !== 'queued') {
      settle(false);
      await started;
      return result.kind === 'replay' ? this.#replay(result.answer, owner) : fail(refusalOf(result, req, pool, subjects));
    }
    const answer: TaskAccepted = {
      task_id: spec.id,
      queue_position: result.position,
      predicted_start_ms: finiteMs(plan.predictedStartMs),
      backoff_ms: finiteMs(plan.predictedStartMs),
      streams: { sse: `/v1/tasks/${spec.id}/stream`, status: `/v1/tasks/${spec.id}` },
    };
    const fact: AdmittedFact = {
      ...specFacts(spec),
      queue_position: answer.queue_position,
      predicted_start_ms: answer.predicted_start_ms,
      policy_label: pool.config.queue.policy,
      model: req.model,
      ...(plan.fallbackFrom ? { fallback_from_pool_id: plan.fallbackFrom.poolId, fallback_code: plan.fallbackFrom.code } : {}),
    };
    const refusal = await this.#commit(spec, fact, { queue, settle, claimedHere: claim?.kind === 'claimed' && claim.task.taskId === spec.id });
    // [drop-lru call site] The victim the admit script set aside: back after a refused commit,
    // else evicted (unless the queue has room again) with its terminal event before this answer.
    if (result.evicted !== undefined) await this.#lookup.victims.settle(result.evicted, pool, refusal?.code === 'AUDIT_UNAVAILABLE' ? 'restore' : 'settle').catch((error: unknown) => deps.logger.warn({ err: String(error), task_id: result.evicted }, 'drop-lru victim not settled yet (Redis unreachable); retried when it is back'));
    if (refusal) {
      await started;
      return fail(refusal);
    }
    deps.observer.admitted?.(fact);
    // After the `admitted` fact, so a local start's `placed` fact and events follow it.
    settle(true);
    await started;
    if (req.task_id !== undefined) {
      this.#track(this.#cluster.idempotency.remember(idempotencyKey(owner.tenant, req.task_id), digest, answer).catch((error: unknown) => {
        deps.logger.warn({ err: String(error), task_id: spec.id }, 'task_id answer not remembered; a retry gets 409 instead of the replay');
      }));
    }
    return ok({ task: this.tasks.get(spec.id) ?? this.#lookup.remoteView(spec, 'queued'), answer, replay: false });
  }

  /**
   * The commit point, as in memory: the row is committed before anything of the task reaches a
   * client; then its session turn is counted (confirmTurn), before the verdict, so the task's end
   * on whichever replica claims it settles a counted turn. A refused commit (audit.fail_closed)
   * withdraws the task from the shared queue, or cancels it where it already runs, and gives its
   * session hold back. A turn refused in the commit window (the session expired, was deleted, or
   * a concurrent turn used its budget) refuses the admission with the session's error; its
   * admission row gets a `failed` row with that code. (In memory the admission answers and the
   * task ends at once with that error.)
   */
  async #commit(spec: TaskSpec, fact: AdmittedFact, admission: { queue: RedisPoolQueue; settle: (committed: boolean) => void; claimedHere: boolean }): Promise<OrchError | undefined> {
    const { deps } = this;
    const { queue, settle, claimedHere } = admission;
    const committed = deps.recorder.commitAdmission(fact);
    // The verdict for a replica that claimed the task before the commit landed (it waits for it).
    // (This replica's own claim waits on `settle`, which the caller gives after the `admitted` fact.)
    const marker = (ok: boolean): Promise<unknown> => this.#verdicts.publish(spec.id, ok).catch((error: unknown) => {
        deps.logger.warn({ err: String(error), task_id: spec.id }, 'admission verdict not written; a replica that claimed the task drops it after the commit timeout');
      });
    const closeRow = (code: ErrorCode) => deps.observer.finished?.({ ...specFacts(spec), state: 'failed', error_code: code, tokens_out: 0, queue_wait_ms: 0, decode_time_ms: 0, e2e_ms: Math.max(0, deps.clock.now() - spec.createdAt) });
    try {
      await withTimeout(committed, ADMISSION_COMMIT_TIMEOUT_MS, deps.clock);
    } catch (err) {
      if (deps.config.audit.fail_closed) {
        settle(false);
        await marker(false);
        committed.then(() => closeRow('AUDIT_UNAVAILABLE'), () => {});
        // Claimed meanwhile (here or elsewhere), it is not withdrawn: its claimer drops it on the verdict.
        await queue.withdraw(spec.id, this.replicaId).catch(() => false);
        await this.#releaseHold(spec);
        deps.logger.error({ err, task_id: spec.id }, 'admission not recorded; refused (audit.fail_closed)');
        return orchError('AUDIT_UNAVAILABLE', 'the audit store could not record the admission', { retry_after_ms: 1_000 });
      }
      deps.logger.error({ err, task_id: spec.id }, 'admission not recorded; serving anyway (audit.fail_closed=false)');
    }
    const turn = await this.#confirmTurn(spec);
    if (!turn.ok) {
      settle(false);
      await marker(false);
      await queue.withdraw(spec.id, this.replicaId).catch(() => false);
      closeRow(turn.error.code);
      deps.logger.warn({ task_id: spec.id, code: turn.error.code }, 'session turn refused in the commit window; admission refused');
      return turn.error;
    }
    // '1' also says the turn is counted: a task that leaves the queue unrun gives it back then
    // (ClusterTaskLookup). A tracked hold its eviction or withdrawal gave back counts no turn: '0'
    // (nobody can claim it any more). A task this admission's own claim took is in no queue: no
    // other replica claims it or ends it unrun, so no one reads its verdict (the claim here
    // waits on `settle`), and the write would only load the first-token path.
    if (!claimedHere) this.#track(marker(turn.value));
    return undefined;
  }

  /**
   * Counts the session turn held by the admission (its tracked hold). True when counted or
   * without a session; false when the task left the queue before (its hold went back then).
   */
  async #confirmTurn(spec: TaskSpec): Promise<Result<boolean>> {
    const sessionId = spec.submission.session_id;
    if (sessionId === undefined) return ok(true);
    try {
      const turn = await this.#sessions.confirmTurn(sessionId, spec.submission.max_tokens, this.#sessionCreate(spec.owner), spec.id);
      if (!turn.ok) return turn;
      return ok(turn.value.removed !== true);
    } catch (error) {
      if (!(error instanceof StateError)) throw error;
      // Not knowing whether it counted, the admission is refused; its hold goes back if still held.
      await this.#releaseHold(spec);
      return fail(toOrchError(error));
    }
  }

  /** A refused admission's session hold goes back (once: its tracked hold may be gone already). */
  async #releaseHold(spec: TaskSpec): Promise<void> {
    const sessionId = spec.submission.session_id;
    if (sessionId === undefined) return;
    await this.#sessions.release(sessionId, spec.submission.max_tokens, spec.id).catch((error: unknown) => {
      this.deps.logger.warn({ err: String(error), task_id: spec.id, session_id: sessionId }, 'session hold not given back; it lapses with the hold backstop or a takeover');
    });
  }

  async #replay(answer: unknown, owner: TaskOwner): Promise<Result<Served>> {
    const accepted = answer as TaskAccepted;
    const local = this.tasks.get(accepted.task_id);
    if (local && local.tenant === owner.tenant) return ok({ task: local, answer: accepted, replay: true });
    const found = await this.locate(accepted.task_id);
    if (found.ok && found.value && found.value.tenant === owner.tenant) return ok({ task: found.value, answer: accepted, replay: true });
    return fail(orchError('CONFLICT', `task_id ${accepted.task_id} was already used`, { field: 'task_id' }));
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
        if (!this.#admitting || pool.retired) return;
        const candidates = claimCandidates(pool);
        if (candidates.length === 0) return;
        let claimed;
        const ticket = this.#wakes.sending(pool.id);
        try {
          claimed = await queue.claim(this.replicaId, candidates, policyOf(pool));
        } catch (error) {
          this.deps.logger.warn({ err: String(error), pool_id: pool.id }, 'claim failed; waiting for the next wake-up');
          return;
        }
        if (claimed.kind === 'empty') this.#wakes.foundEmpty(pool.id, ticket);
        // [unplaceable call site] A hard pin on a replica with no capacity: ended here, then claim on.
        if (claimed.kind === 'unplaceable') {
          const id = claimed.taskId;
          if (await this.#lookup.endUnplaceable(id, pool).then(() => true, (error: unknown) => void this.deps.logger.warn({ err: String(error), task_id: id }, 'unplaceable pinned task not ended; the next claim hands it out again'))) continue;
        }
        if (claimed.kind !== 'claimed') break;
        await this.#start(pool, queue, claimed.task);
      }
    } while (state.again);
  }

  /** A claimed task becomes a local Task pinned to the engine replica the claim counted. */
  async #start(pool: Pool<Task>, queue: RedisPoolQueue, claimed: ClaimedTask): Promise<void> {
    const { deps } = this;
    const here = this.#admittedHere.get(claimed.taskId);
    let spec: TaskSpec | undefined;
    let committed = false;
    try {
      ({ spec, committed } = here ? { spec: here.spec, committed: await here.verdict } : await this.#committedSpec(claimed.taskId));
    } catch (error) {
      deps.logger.warn({ err: String(error), task_id: claimed.taskId }, 'claimed task spec unreadable');
    }
    if (spec !== undefined && !committed) {
      // Its admission was refused, or never committed (its admitter is gone): nothing of it may
      // run or reach a client. The slot goes back; nothing was used.
      this.#release(queue, claimed.taskId, { tokens: 0, budgetTokens: 0, budgetCost: 0 });
      return;
    }
    if (spec === undefined) {
      // Nothing to run it from: end it for its readers and give the slot back.
      await this.#cluster.logs.of(claimed.taskId).append('error', { code: 'INTERNAL', message: 'the task could not be started', retriable: true }).catch(() => 0);
      this.#release(queue, claimed.taskId, 'reserved');
      return;
    }
    if (!this.#admitting) {
      // The lease went while the verdict was awaited: a survivor takes over this claim, so it
      // must not start here. Ended in its stream now (the survivor's terminal is then refused).
      await this.#cluster.logs.of(claimed.taskId).append('error', errorEventData(leaseLostError(this.replicaId))).catch(() => 0);
      this.#release(queue, claimed.taskId, { tokens: 0, budgetTokens: 0, budgetCost: 0 });
      return;
    }
    const ageMs = Math.max(0, deps.clock.now() - spec.createdAt);
    const task = new Task({
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
      orphanTimer: (t) => this.#orphans.timer(t),
    });
    task.commit({ task_id: spec.id, queue_position: 0, predicted_start_ms: 0, backoff_ms: 0, streams: { sse: `/v1/tasks/${spec.id}/stream`, status: `/v1/tasks/${spec.id}` } });
    this.tasks.set(task.id, task);
    this.#claimed.add(task.id, queue, claimed.engineReplica);
    armClaimedTaskTimers(task, {
      clock: deps.clock,
      unclaimedMs: deps.config.server.unclaimed_stream_timeout_ms,
      finish: (ending) => this.finish(task, ending),
      openedElsewhere: () => this.#cluster.redis.get(this.#cluster.keys.streamOpened(task.id)).then((v) => v !== null),
    });
    if (task.finished) return;
    if (here === undefined) this.#orphans.claimed(task);
    pool.retry.push(task);
    this.dispatcher.pump(pool);
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
    return { spec, committed: await this.#verdicts.wait(taskId, ADMISSION_COMMIT_TIMEOUT_MS + 1_000) };
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
    this.#track(queue.then((q) => this.#release(q, task.id, { tokens: task.tokensOut, budgetTokens, budgetCost })));
    return true;
  }

  #release(queue: RedisPoolQueue, taskId: string, actual: Parameters<RedisPoolQueue['release']>[1]): void {
    const attempt = () => queue.release(taskId, actual, this.replicaId);
    this.#track(attempt().then(
      () => this.#unreleased.delete(taskId),
      (error: unknown) => {
        this.#unreleased.set(taskId, attempt);
        this.deps.logger.warn({ err: String(error), task_id: taskId }, 'engine slot not released in Redis; retried when it is back');
      },
    ));
  }

  #retryReleases(): void {
    for (const [taskId, attempt] of this.#unreleased) {
      this.#track(attempt().then(() => this.#unreleased.delete(taskId), () => undefined));
    }
  }

  /** Engine replicas' slots (0 while not serviceable) reach the shared capacity hash; only changes are written. */
  async #publishCapacity(pool: Pool<Task>): Promise<void> {
    const queue = this.#cluster.queues.get(pool.id);
    if (queue === undefined) return;
    let grew = false;
    const writes: Array<Promise<void>> = [];
    for (const replica of pool.replicas) {
      const slots = replica.effectiveState === 'ready' && replica.versionOk ? replica.slotsTotal : 0;
      const key = `${pool.id}\n${replica.id}`;
      const before = this.#published.get(key);
      if (before === slots) continue;
      this.#published.set(key, slots);
      // [unplaceable call site] Gone to 0 too: a claim hands out the tasks hard-pinned to it to end.
      grew ||= slots > (before ?? 0) || (slots === 0 && (before ?? 0) > 0);
      writes.push(queue.setCapacity(replica.id, slots).catch((error: unknown) => {
        this.#published.delete(key);
        this.deps.logger.warn({ err: String(error), pool_id: pool.id, replica_id: replica.id }, 'engine capacity not published');
      }));
    }
    await Promise.all(writes);
    if (grew) void this.claim(pool);
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
