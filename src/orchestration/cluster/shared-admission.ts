// The shared admission of a cluster replica: core's pure `admit` for validation, routing and
// prediction, then ONE Redis round trip (the task's spec + the admit script: task_id, quotas, queue
// room, enqueue, registry, position; a claim too), then the audit commit point and its verdict.

import type { Pool } from '../../pool/pool.ts';
import { admit, type AdmissionPlan } from '../../core/admission/admit.ts';
import { fingerprint } from '../../core/admission/idempotency.ts';
import { fail, ok, orchError, type OrchError, type Result } from '../../core/errors.ts';
import type { AdmittedFact } from '../../core/observer.ts';
import type { IdempotencyStore, SessionStore } from '../../core/state-ports.ts';
import type { SessionStanding } from '../../core/session/session-record.ts';
import type { AdmitSubject, ClaimedTask, RedisPoolQueue } from '../../state/redis/pool-queue.ts';
import type { RedisSessionStore } from '../../state/redis/session-store.ts';
import { claimPreference } from '../../core/placement/claim-preference.ts';
import { StateError, toOrchError } from '../../state/state-errors.ts';
import { admissionSnapshot } from '../admission.ts';
import type { Served } from '../streamed-task.ts';
import type { Task, TaskAccepted, TaskOwner, TaskSubmission } from '../task.ts';
import { finiteMs, idempotencyKey, type TaskServiceDeps } from '../task-service.ts';
import { TASK_BACKSTOP_MS, type ClusterState } from './cluster-state.ts';
import { policyOf, refusalOf } from './admit-refusals.ts';
import { AdmissionCommit, type AdmissionCommitDeps } from './admission-commit.ts';
import { claimCandidates, type AdmittedHere } from './claim-runner.ts';
import type { ClusterTaskLookup } from './cluster-task-lookup.ts';
import { specFacts, type TaskSpec } from './task-spec.ts';

export interface SharedAdmissionDeps extends AdmissionCommitDeps, Pick<TaskServiceDeps, 'pools' | 'ids'> {
  /** The quota subjects of a caller with their limits and, with a budget, the period holding `now`. */
  subjectsOf(owner: TaskOwner, now: number): AdmitSubject[];
  /** A tenant's fairness weight (integer >= 1). */
  weightOf(tenant: string): number;
  lookup: Pick<ClusterTaskLookup, 'victims' | 'remoteView' | 'locate'>;
  /** Whether this replica admits and claims (false after its lease was lost, until it rejoins). */
  admitting(): boolean;
  /** A task this replica holds locally. */
  local(taskId: string): Task | undefined;
  /** Starts a task claimed in the admission's own round trip (ClaimRunner.start). */
  start(pool: Pool<Task>, queue: RedisPoolQueue, claimed: ClaimedTask): Promise<void>;
  /** A refused admission is recorded (audit row, metric, log line). */
  refused(req: TaskSubmission, correlationId: string, owner: TaskOwner, error: OrchError): void;
}

/** The in-memory index is never consulted: the admit script checks task_ids cluster-wide. */
export const NOT_IN_MEMORY: IdempotencyStore = { check: () => ({ kind: 'new' }), remember: () => undefined, forget: () => undefined };

/** The base class must not touch sessions on a cluster replica: they are in Redis (#sessions). */
export const NO_SESSIONS: SessionStore = new Proxy({} as SessionStore, {
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

export class SharedAdmission {
  readonly #deps: SharedAdmissionDeps;
  readonly #cluster: ClusterState;
  readonly #sessions: RedisSessionStore;
  /** Admissions in progress here: claiming one locally needs no read of its spec, only its commit's verdict. */
  readonly #admittedHere = new Map<string, AdmittedHere>();
  readonly #commitPoint: AdmissionCommit;

  constructor(deps: SharedAdmissionDeps) {
    this.#deps = deps;
    this.#commitPoint = new AdmissionCommit(deps);
    this.#cluster = deps.cluster;
    this.#sessions = deps.sessions;
  }

  get #replicaId(): string {
    return this.#cluster.replicaId;
  }

  /** An admission in progress here (its spec, and its commit's verdict once given). */
  inProgress(taskId: string): AdmittedHere | undefined {
    return this.#admittedHere.get(taskId);
  }

  /** Admits through Redis; a refusal (a Redis failure rendered as STATE_UNAVAILABLE too) is recorded. */
  async submit(req: TaskSubmission, correlationId: string, owner: TaskOwner): Promise<Result<Served>> {
    let outcome: Result<Served>;
    try {
      outcome = await this.#admitShared(req, correlationId, owner);
    } catch (error) {
      if (!(error instanceof StateError)) throw error;
      outcome = fail(toOrchError(error));
    }
    if (!outcome.ok) this.#deps.refused(req, correlationId, owner, outcome.error);
    return outcome;
  }

  async #admitShared(req: TaskSubmission, correlationId: string, owner: TaskOwner): Promise<Result<Served>> {
    const deps = this.#deps;
    if (!deps.admitting()) throw new StateError('STATE_UNAVAILABLE', 'this replica lost its lease and is rejoining', { retryAfterMs: 1_000 });
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
      admittedBy: this.#replicaId,
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
    const deps = this.#deps;
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
    const subjects = deps.subjectsOf(owner, now);
    const { admit: result, claim } = await queue.admitAndClaim(
      {
        taskId: spec.id,
        priority: req.priority ?? 'interactive',
        tenant: owner.tenant,
        tenantWeight: deps.weightOf(owner.tenant),
        ...(req.task_id !== undefined ? { idempotency: { key: idempotencyKey(owner.tenant, req.task_id), digest, ttlMs: this.#cluster.idempotency.ttlMs } } : {}),
        admittedBy: this.#replicaId,
        maxTokens: req.max_tokens,
        budgetTokens,
        budgetCost: (budgetTokens * pool.config.cost_per_1k_tokens) / 1000,
        subjects,
        ...(preference ? { preference } : {}),
        ...(req.session_id !== undefined ? { session: { id: req.session_id, defaults: this.#sessions.defaults, trackHold: true, owner: deps.sessionCreate(owner).owner } } : {}),
      },
      policyOf(pool),
      { key: this.#cluster.keys.spec(spec.id), value: JSON.stringify(spec), ttlMs: TASK_BACKSTOP_MS },
      deps.admitting() ? { claimer: this.#replicaId, candidates } : undefined,
    );
    // It waits for this admission's verdict when it is this task (settled below).
    const started = claim?.kind === 'claimed' ? deps.start(pool, queue, claim.task) : undefined;
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
    const refusal = await this.#commitPoint.commit(spec, fact, { queue, settle, claimedHere: claim?.kind === 'claimed' && claim.task.taskId === spec.id });
    // The victim the admit script set aside: back after a refused commit, else evicted (unless the
    // queue has room again) with its terminal event before this answer.
    const victim = result.evicted;
    if (victim !== undefined) {
      await deps.lookup.victims.settle(victim, pool, refusal?.code === 'AUDIT_UNAVAILABLE' ? 'restore' : 'settle').catch((error: unknown) => {
        deps.logger.warn({ err: String(error), task_id: victim }, 'drop-lru victim not settled yet (Redis unreachable); retried when it is back');
      });
    }
    if (refusal) {
      await started;
      return fail(refusal);
    }
    deps.observer.admitted?.(fact);
    // After the `admitted` fact, so a local start's `placed` fact and events follow it.
    settle(true);
    await started;
    if (req.task_id !== undefined) {
      deps.track(this.#cluster.idempotency.remember(idempotencyKey(owner.tenant, req.task_id), digest, answer).catch((error: unknown) => {
        deps.logger.warn({ err: String(error), task_id: spec.id }, 'task_id answer not remembered; a retry gets 409 instead of the replay');
      }));
    }
    return ok({ task: deps.local(spec.id) ?? deps.lookup.remoteView(spec, 'queued'), answer, replay: false });
  }

  async #replay(answer: unknown, owner: TaskOwner): Promise<Result<Served>> {
    const accepted = answer as TaskAccepted;
    const local = this.#deps.local(accepted.task_id);
    if (local && local.tenant === owner.tenant) return ok({ task: local, answer: accepted, replay: true });
    const found = await this.#deps.lookup.locate(accepted.task_id);
    if (found.ok && found.value && found.value.tenant === owner.tenant) return ok({ task: found.value, answer: accepted, replay: true });
    return fail(orchError('CONFLICT', `task_id ${accepted.task_id} was already used`, { field: 'task_id' }));
  }
}
