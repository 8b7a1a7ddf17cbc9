// The task service: admits tasks (core's pure `admit` over a snapshot, then the commit point),
// owns the task table, cancels, and ends every task with exactly one terminal event. Dispatch
// and engine streaming live in dispatcher.ts; this file decides, that one executes.

import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import type { ChatCapabilities } from '../core/chat/conversation.ts';
import { admit, type AdmissionPlan } from '../core/admission/admit.ts';
import { fingerprint } from '../core/admission/idempotency.ts';
import { fail, ok, orchError, type OrchError, type Result } from '../core/errors.ts';
import type { AdmissionRecorder, LifecycleObserver, RejectedFact } from '../core/observer.ts';
import type { IdSource, Timer, TimerClock } from '../core/ports.ts';
import type { EventLog, IdempotencyStore, SessionStore } from '../core/state-ports.ts';
import type { TerminalState } from '../core/task/events.ts';
import type { Pool } from '../pool/pool.ts';
import type { PoolManager } from '../pool/pool-manager.ts';
import { admissionSnapshot } from './admission.ts';
import { Dispatcher, type SharedSlots } from './dispatcher.ts';
import { settleSession } from './ending.ts';
import { FinishedTasks } from './retention.ts';
import { Task, type Ended, type Ending, type TaskAccepted, type TaskOwner, type TaskSubmission } from './task.ts';
import type { QuotaReservation, QuotaStanding } from '../core/tenancy/quota.ts';
import { priceOf } from './task-price.ts';

export interface TaskServiceDeps {
  config: Config;
  pools: PoolManager<Task>;
  sessions: SessionStore;
  idempotency: IdempotencyStore;
  /** A new, empty event log for a task (the event-log port). */
  newEventLog: () => EventLog;
  clock: TimerClock;
  ids: IdSource;
  observer: LifecycleObserver;
  recorder: AdmissionRecorder;
  logger: Logger;
  /** W3C trace context for a task's engine call (telemetry), handed to the dispatcher. */
  traceparentFor?: (taskId: string) => string | undefined;
  /**
   * Whether the request with this correlation id is traced: its engine call then carries a
   * trace context, which exists only once the task is admitted and placed, so that call waits
   * for the commit instead of starting early. Absent: nothing is traced.
   */
  traced?: (correlationId: string) => boolean;
  /** Tenant quotas (src/tenancy/quota-gate.ts); absent: no limits apply. */
  quotas?: TaskQuotas;
  /** Engine slots counted across gateway replicas (state.backend redis), handed to the dispatcher. */
  sharedSlots?: SharedSlots;
}

/**
 * Admission step 7's shell side, per task: the standing admit reads, the reservation applied in
 * the same step, given back on a withdrawn admission, settled when the task ends.
 */
export interface TaskQuotas {
  standing(owner: TaskOwner): QuotaStanding;
  reserve(taskId: string, reservation: QuotaReservation): void;
  release(taskId: string): void;
  settle(taskId: string, actual: { tokens: number; budgetTokens: number; budgetCost: number; wasQueued: boolean }): void;
  /** How a session this owner's task creates is made: its owner, and the TTL the tenant allows. */
  sessionCreate(owner: TaskOwner): { owner: string; ttl_ms?: number };
}

export const ANONYMOUS_OWNER: TaskOwner = { tenant: 'default', keyId: 'anonymous' };

/** Idempotency keys are per tenant (ORCH-1205): the same client task_id of two tenants never meets. */
export const idempotencyKey = (tenant: string, taskId: string): string => `${tenant}\u0000${taskId}`;

export type Submitted = { task: Task; answer: TaskAccepted; replay: boolean };

/** A store that hangs must not hold admissions forever: past this, the admission is refused. */
export const ADMISSION_COMMIT_TIMEOUT_MS = 5_000;

export class TaskService {
  protected readonly tasks = new Map<string, Task>();
  private readonly finished: FinishedTasks;
  readonly dispatcher: Dispatcher;
  protected readonly deps: TaskServiceDeps;

  constructor(deps: TaskServiceDeps) {
    this.deps = deps;
    this.dispatcher = new Dispatcher({ ...deps, finish: (task, ending) => this.finish(task, ending) });
    this.finished = new FinishedTasks({
      clock: deps.clock,
      retentionMs: () => deps.config.server.retention_ms,
      max: () => deps.config.server.max_finished_tasks,
      maxBytes: () => deps.config.server.retention_max_bytes,
      onForget: (task) => {
        if (this.tasks.get(task.id) === task) this.tasks.delete(task.id);
        deps.idempotency.forget(idempotencyKey(task.tenant, task.id));
      },
    });
    // Pools publish capacity and pool-wide endings; the service and its dispatcher subscribe.
    deps.pools.subscribe({
      capacity: (pool) => this.dispatcher.pump(pool),
      endWork: (pool, scope, error) => this.endPoolWork(pool, scope, error),
    });
  }

  /** Tasks held: unfinished, or finished and still retained. */
  get size(): number {
    return this.tasks.size;
  }

  /**
   * What the pool serving `model` can do with a chat request: every replica's adapter must speak
   * chat, and the flags are what all of them can do. Refusals name the model or the pool.
   */
  chatCapabilities(model: string): Result<ChatCapabilities> {
    const pool = this.deps.pools.resolve(model);
    if (!pool) return fail(orchError('INVALID_PARAMS', `unknown model ${model}`, { field: 'model' }));
    const caps = pool.replicas.map((r) => r.adapter.capabilities.chat);
    if (caps.length === 0 || caps.some((c) => c === undefined)) {
      return fail(orchError('INVALID_PARAMS', `model ${model} (pool ${pool.id}, engine ${pool.config.engine}) has no chat endpoint; use /v1/completions or /v1/tasks`, { field: 'model', pool_id: pool.id }));
    }
    const all = caps as ChatCapabilities[];
    return ok({
      vision: all.every((c) => c.vision),
      tools: all.every((c) => c.tools),
      responseFormat: all.every((c) => c.responseFormat),
      logprobs: all.every((c) => c.logprobs),
    });
  }

  /** Estimated heap bytes held by finished tasks kept for retention (bounded by config). */
  get retainedBytes(): number {
    return this.finished.bytes;
  }

  /** A visible task (its admission is committed), or undefined. */
  get(id: string): Task | undefined {
    const task = this.tasks.get(id);
    return task?.committed ? task : undefined;
  }

  async submit(req: TaskSubmission, correlationId: string, owner: TaskOwner = ANONYMOUS_OWNER): Promise<Result<Submitted>> {
    const outcome = await this.admit(req, correlationId, owner);
    if (!outcome.ok) this.refused(req, correlationId, owner, outcome.error);
    return outcome;
  }

  /** A refused admission is recorded (audit row, metric, log line). */
  protected refused(req: TaskSubmission, correlationId: string, owner: TaskOwner, error: OrchError): void {
    // Assigned one by one, in this key order, rather than spread: this runs on every refusal.
    const fact: RejectedFact = { correlation_id: correlationId, code: error.code, message: error.message };
    if (error.pool_id !== undefined) fact.pool_id = error.pool_id;
    if (req.task_id !== undefined) fact.task_id = req.task_id;
    if (req.session_id !== undefined) fact.session_id = req.session_id;
    fact.priority = req.priority ?? 'interactive';
    if (error.policy_label !== undefined) fact.policy_label = error.policy_label;
    if (error.limit !== undefined) fact.limit = error.limit;
    fact.tenant = owner.tenant;
    fact.key_id = owner.keyId;
    this.deps.observer.rejected?.(fact);
  }

  /** Snapshot → admit → apply, in one synchronous step; then the commit point. */
  protected async admit(req: TaskSubmission, correlationId: string, owner: TaskOwner): Promise<Result<Submitted>> {
    const { deps } = this;
    const digest = req.task_id !== undefined ? fingerprint(req) : '';
    // Another tenant's live session is not this caller's to use (ORCH-1205).
    const sessionOwner = req.session_id !== undefined ? deps.sessions.ownerOf(req.session_id) : undefined;
    if (sessionOwner !== undefined && sessionOwner !== owner.tenant) {
      return fail(orchError('CONFLICT', `session_id ${req.session_id} is taken; choose another id`, { field: 'session_id' }));
    }
    const { quotas } = deps;
    const scoped = req.task_id === undefined ? req : { ...req, task_id: idempotencyKey(owner.tenant, req.task_id) };
    const snapshot = admissionSnapshot(scoped, digest, {
      config: deps.config,
      pools: deps.pools,
      sessions: deps.sessions,
      idempotency: deps.idempotency,
      holds: () => req.task_id !== undefined && this.tasks.has(req.task_id),
      auditAccepting: () => deps.recorder.accepting(),
      ...(quotas ? { quota: () => quotas.standing(owner) } : {}),
    });
    const decided = admit(snapshot, req);
    if (!decided.ok) return decided;
    if (decided.value.kind === 'replay') {
      const task = req.task_id !== undefined ? this.tasks.get(req.task_id) : undefined;
      // A remembered key always has its task (keys are forgotten with their task).
      if (task && task.tenant === owner.tenant) return ok({ task, answer: decided.value.answer as TaskAccepted, replay: true });
      return fail(orchError('CONFLICT', `task_id ${req.task_id} was already used`, { field: 'task_id' }));
    }
    const { plan } = decided.value;
    const pool = deps.pools.get(plan.poolId) as Pool<Task>;
    const task = this.createTask(req, plan, pool, correlationId, owner);
    const offered = pool.queue.offer(task);
    if (!offered.admitted) {
      return fail(orchError('ADMISSION_REJECT', `pool ${pool.id} queue is full (${pool.config.queue.max_queued} waiting)`, {
        pool_id: pool.id,
        retry_after_ms: pool.queueBackoffMs(),
        policy_label: pool.config.queue.policy,
      }));
    }
    if (plan.session) deps.sessions.hold(plan.session.id, plan.session.maxTokens);
    if (plan.quota) quotas?.reserve(task.id, plan.quota);
    this.tasks.set(task.id, task);
    const answer: TaskAccepted = {
      task_id: task.id,
      queue_position: pool.queue.position(task.id) ?? 0,
      predicted_start_ms: finiteMs(plan.predictedStartMs),
      backoff_ms: finiteMs(plan.predictedStartMs),
      streams: { sse: `/v1/tasks/${task.id}/stream`, status: `/v1/tasks/${task.id}` },
    };
    return this.commit(task, plan, answer, digest, offered.evicted);
  }

  protected createTask(req: TaskSubmission, plan: AdmissionPlan, pool: Pool<Task>, correlationId: string, owner: TaskOwner): Task {
    const { clock, config } = this.deps;
    return new Task({
      id: req.task_id ?? this.deps.ids.uuid(),
      request: req,
      job: plan.job,
      pool,
      correlationId,
      log: this.deps.newEventLog(),
      now: clock.now(),
      mono: clock.monotonic(),
      promptTokens: plan.promptTokens,
      owner,
      ...(plan.affinity ? { affinity: plan.affinity } : {}),
      ...(config.audit.hash_prompts ? { promptSha256: createHash('sha256').update(req.prompt).digest('hex') } : {}),
      ...priceOf(config, pool),
      orphanTimer: this.orphanTimerOf,
    });
  }

  /** One function for every task (not a closure per task: issue 14, memory per open stream). */
  private readonly orphanTimerOf = (task: Task): Timer | undefined => this.orphanTimer(task);

  /** Every reader of an undetached task gone for `server.orphan_grace_ms`: nobody will read it (ORCH-0206). */
  private orphanTimer(task: Task): Timer | undefined {
    const { clock, config } = this.deps;
    const graceMs = config.server.orphan_grace_ms;
    if (graceMs === 0 || task.request.detach === true) return undefined;
    return clock.setTimer(graceMs, () => {
      if (task.readers === 0) this.finish(task, { state: 'canceled', reason: 'orphaned' });
    });
  }

  /**
   * The commit point: the task becomes visible once its admission is recorded; only then is the
   * plan confirmed (the session turn counted, the key remembered) and may anything of it reach
   * a client. Its engine call may start while the commit is in flight (Dispatcher.speculate),
   * but every fact and event of it waits for the commit. A refused commit withdraws everything
   * the apply step did and aborts that call.
   */
  private async commit(task: Task, plan: AdmissionPlan, answer: TaskAccepted, digest: string, victim: Task | undefined): Promise<Result<Submitted>> {
    const { deps } = this;
    const fact = {
      ...task.facts(),
      queue_position: answer.queue_position,
      predicted_start_ms: answer.predicted_start_ms,
      policy_label: task.pool.config.queue.policy,
      model: task.request.model,
      ...(plan.fallbackFrom ? { fallback_from_pool_id: plan.fallbackFrom.poolId, fallback_code: plan.fallbackFrom.code } : {}),
    };
    // The engine call starts first, then the row is asked for: the commit overlaps the engine's
    // work, and the engine request (written by undici on the next check phase) leaves before the
    // audit store is woken, which on a busy machine may take the CPU for its whole commit (issue
    // 14). Nothing of the early call is emitted before the commit, so the row still comes first.
    const settle = deps.traced?.(task.correlationId) === true ? undefined : this.dispatcher.speculate(task);
    if (settle) this.dispatcher.pump(task.pool);
    const committed = deps.recorder.commitAdmission(fact);
    try {
      await withTimeout(committed, ADMISSION_COMMIT_TIMEOUT_MS, deps.clock);
    } catch (err) {
      if (deps.config.audit.fail_closed) {
        // A commit that timed out may still land later: its admission row then gets the
        // terminal row that closes it, so the record never shows a refused task as open.
        committed.then(() => this.closeWithdrawn(task), () => {});
        // Placed early: the dispatcher aborts the call and frees the slot.
        settle?.(false);
        task.pool.queue.remove(task.id);
        // Its drop-lru victim was only set aside: back where it was, as if never offered.
        if (victim !== undefined && !victim.finished) task.pool.queue.restore(victim);
        this.tasks.delete(task.id);
        if (plan.session && !task.finished) deps.sessions.release(plan.session.id, plan.session.maxTokens);
        if (!task.finished) deps.quotas?.release(task.id);
        // The withdrawn task may have been the uncommitted head the dispatcher stopped at.
        this.dispatcher.pump(task.pool);
        deps.logger.error({ err, task_id: task.id }, 'admission not recorded; refused (audit.fail_closed)');
        return fail(orchError('AUDIT_UNAVAILABLE', 'the audit store could not record the admission', { retry_after_ms: 1_000 }));
      }
      deps.logger.error({ err, task_id: task.id }, 'admission not recorded; serving anyway (audit.fail_closed=false)');
    }
    task.commit(answer);
    if (task.request.task_id !== undefined) deps.idempotency.remember(idempotencyKey(task.tenant, task.id), digest, answer);
    deps.observer.admitted?.(fact);
    if (plan.session && !task.finished) {
      const create = deps.quotas?.sessionCreate({ tenant: task.tenant, keyId: task.keyId }) ?? { owner: task.tenant };
      const turn = deps.sessions.confirmTurn(plan.session.id, plan.session.maxTokens, create);
      // Only a race in the commit window gets here (the session expired or was deleted, or a
      // concurrent turn used the budget): the task is recorded, so it ends with the refusal.
      if (!turn.ok) this.finish(task, { state: 'failed', error: turn.error });
    }
    this.armTimers(task);
    // After the `admitted` fact, so an early-placed task's `placed` fact and events follow it.
    settle?.(true);
    if (!task.finished) this.dispatcher.pump(task.pool);
    // The victim set aside at the offer is evicted by the commit that needed its room, unless
    // the queue has room again once the newcomer could start (a slot freed in the commit window).
    if (victim !== undefined && !victim.finished && this.settleVictim(victim, task.pool)) this.dispatcher.pump(task.pool);
    return ok({ task, answer, replay: false });
  }

  /** The terminal fact of an admission refused after its row was (late) committed. */
  private closeWithdrawn(task: Task): void {
    this.deps.observer.finished?.({
      ...task.facts(),
      state: 'failed',
      error_code: 'AUDIT_UNAVAILABLE',
      tokens_out: 0,
      queue_wait_ms: 0,
      decode_time_ms: 0,
      e2e_ms: Math.round(this.deps.clock.monotonic() - task.createdMono),
    });
  }

  protected armTimers(task: Task): void {
    const { clock, config } = this.deps;
    const { deadline_ms } = task.request;
    if (deadline_ms !== undefined) {
      const left = deadline_ms - (clock.monotonic() - task.createdMono);
      task.own(clock.setTimer(Math.max(0, left), () => {
        this.finish(task, { state: 'expired', error: orchError('DEADLINE_EXCEEDED', `deadline of ${deadline_ms} ms passed`), reason: 'deadline' });
      }));
    }
    const unclaimed = config.server.unclaimed_stream_timeout_ms;
    if (unclaimed > 0) {
      task.own(clock.setTimer(unclaimed, () => {
        if (!task.streamOpened) this.finish(task, { state: 'canceled', reason: 'unclaimed' });
      }));
    }
  }

  /** Evicts the drop-lru victim, or puts it back when the queue has room again; true if put back. */
  private settleVictim(victim: Task, pool: Pool<Task>): boolean {
    if (pool.queue.size < pool.config.queue.max_queued) {
      pool.queue.restore(victim);
      return true;
    }
    this.evict(victim, pool);
    return false;
  }

  private evict(victim: Task, pool: Pool<Task>): void {
    this.finish(victim, {
      state: 'evicted',
      reason: 'drop-lru',
      error: orchError('QUEUE_FULL_DROP_LRU', `evicted from the full queue of pool ${pool.id} by newer work (drop-lru)`, {
        pool_id: pool.id,
        retry_after_ms: pool.queueBackoffMs(),
        policy_label: 'drop-lru',
      }),
    });
  }

  /** Cancels a queued or running task; idempotent. Undefined for unknown ids. */
  cancel(id: string, reason = 'client'): { task: Task; canceled: boolean } | undefined {
    const task = this.get(id);
    if (!task) return undefined;
    if (!task.finished) this.finish(task, { state: 'canceled', reason });
    return { task, canceled: task.state === 'canceled' };
  }

  /**
   * Ends a task exactly once: leaves the queue, the task's own `end` (terminal event, abort),
   * the session turn settled, observers told, retention from now.
   */
  finish(task: Task, ending: Ending): boolean {
    const { clock } = this.deps;
    if (task.finished) return false;
    if (task.state === 'queued') {
      task.pool.queue.remove(task.id);
      const at = task.pool.retry.indexOf(task);
      if (at >= 0) task.pool.retry.splice(at, 1);
    }
    const ended = task.end(ending, { now: clock.now(), mono: clock.monotonic() });
    if (!ended) return false;
    this.settleTurn(task, ending, ended);
    this.settleQuota(task, ended.wasQueued);
    const f = ended.figures;
    this.deps.observer.finished?.({
      ...task.facts(),
      state: ended.state as TerminalState,
      ...task.endingFacts(),
      tokens_out: task.tokensOut,
      prompt_tokens: ending.state === 'completed' && ending.promptTokens !== undefined ? ending.promptTokens : task.promptTokens,
      queue_wait_ms: Math.round(f.queueWaitMs),
      decode_time_ms: Math.round(f.decodeMs),
      e2e_ms: Math.round(f.e2eMs),
    });
    this.finished.add(task);
    return true;
  }

  /** Before its commit a task holds its session turn; after, the turn is counted and settled. */
  protected settleTurn(task: Task, ending: Ending, ended: Ended): void {
    if (task.committed) void settleSession(this.deps.sessions, task, ending, ended);
    else if (task.request.session_id !== undefined) this.deps.sessions.release(task.request.session_id, task.request.max_tokens);
  }

  /** Tokens per minute count output tokens; budgets count prompt + output, priced by the pool. */
  private settleQuota(task: Task, wasQueued: boolean): void {
    const { quotas } = this.deps;
    if (!quotas) return;
    if (!task.committed) {
      quotas.release(task.id);
      return;
    }
    const ran = task.tokensOut > 0 || !wasQueued;
    const budgetTokens = ran ? task.promptTokens + task.tokensOut : 0;
    // The same cost the session is charged: the reported or priced USD, else the fallback rate.
    const budgetCost = ran ? (task.cost?.budget ?? (budgetTokens * task.pool.config.cost_per_1k_tokens) / 1000) : 0;
    quotas.settle(task.id, { tokens: task.tokensOut, budgetTokens, budgetCost, wasQueued });
  }

  /** Ends a pool's unfinished tasks (drain deadline, pool removal) with a terminal `error`. */
  endPoolWork(pool: Pool<Task>, scope: 'queued' | 'all', error: OrchError): number {
    let ended = 0;
    for (const task of [...this.tasks.values()]) {
      if (task.pool !== pool || task.finished || !task.committed) continue;
      if (scope === 'queued' && task.state !== 'queued') continue;
      if (this.finish(task, { state: 'canceled', reason: 'drain', error })) ended++;
    }
    return ended;
  }

  /** Ends every unfinished task (shutdown): queued and running work gets a terminal event. */
  shutdown(): void {
    for (const task of [...this.tasks.values()]) {
      if (!task.finished) {
        this.finish(task, { state: 'canceled', reason: 'shutdown', error: orchError('POOL_UNREADY', 'the gateway is shutting down', { retry_after_ms: 1_000 }) });
      }
    }
    this.finished.clear();
  }
}

/** Predictions can be unbounded when a pool has nothing to measure; the wire wants an integer. */
export const finiteMs = (ms: number): number => (Number.isFinite(ms) ? Math.max(0, Math.round(ms)) : 0);

export function withTimeout<T>(promise: Promise<T>, ms: number, clock: TimerClock): Promise<T> {
  // One promise and one reaction, not a race of two promises plus a `finally`: once per admission (issue 14).
  return new Promise<T>((resolve, reject) => {
    const timer = clock.setTimer(ms, () => reject(new Error(`no commit within ${ms} ms`)));
    promise.then(
      (value) => {
        timer.cancel();
        resolve(value);
      },
      (error: unknown) => {
        timer.cancel();
        reject(error);
      },
    );
  });
}
