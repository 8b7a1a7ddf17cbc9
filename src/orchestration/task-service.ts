// The task service: admits tasks (ARCHITECTURE §3), owns the task table, cancels, and ends
// every task with exactly one terminal event. Dispatch and engine streaming live in
// dispatcher.ts; this file decides, that one executes.

import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.ts';
import { backoffMs } from '../core/admission/predict.ts';
import { IdempotencyIndex, fingerprint } from '../core/admission/idempotency.ts';
import { errorEventData, fail, ok, orchError, type OrchError, type Result } from '../core/errors.ts';
import type { AdmissionRecorder, LifecycleObserver } from '../core/observer.ts';
import type { Clock, IdSource } from '../core/ports.ts';
import type { SessionStore } from '../core/session/session-store.ts';
import type { FinishReason, TerminalState } from '../core/task/events.ts';
import type { Pool } from '../pool/pool.ts';
import type { PoolManager } from '../pool/pool-manager.ts';
import { planAdmission, type AdmissionPlan } from './admission.ts';
import { Dispatcher } from './dispatcher.ts';
import { ABORT_REASONS, appendMetrics, settleSession, type Ending } from './ending.ts';
import { FinishedTasks } from './retention.ts';
import { Task, taskFacts, type TaskAccepted, type TaskRequest } from './task.ts';

export interface TaskServiceDeps {
  config: Config;
  pools: PoolManager<Task>;
  sessions: SessionStore;
  clock: Clock;
  ids: IdSource;
  observer: LifecycleObserver;
  recorder: AdmissionRecorder;
  logger: Logger;
  /** W3C trace context for a task's engine call (telemetry), handed to the dispatcher. */
  traceparentFor?: (taskId: string) => string | undefined;
}

export type Submitted = { task: Task; answer: TaskAccepted; replay: boolean };

export class TaskService {
  readonly tasks = new Map<string, Task>();
  private readonly finished: FinishedTasks;
  readonly dispatcher: Dispatcher;
  private readonly idempotency: IdempotencyIndex;
  private readonly deps: TaskServiceDeps;

  constructor(deps: TaskServiceDeps) {
    this.deps = deps;
    // Entries are forgotten when their task leaves retention; the TTL is only a backstop.
    this.idempotency = new IdempotencyIndex({ maxEntries: 100_000, ttlMs: 24 * 3_600_000 }, deps.clock);
    this.dispatcher = new Dispatcher({ ...deps, finish: (task, ending) => this.finish(task, ending) });
    this.finished = new FinishedTasks({
      retentionMs: () => deps.config.server.retention_ms,
      max: () => deps.config.server.max_finished_tasks,
      onForget: (task) => {
        if (this.tasks.get(task.id) === task) this.tasks.delete(task.id);
        this.idempotency.forget(task.id);
      },
    });
  }

  /** A visible task (its admission is committed), or undefined. */
  get(id: string): Task | undefined {
    const task = this.tasks.get(id);
    return task?.committed ? task : undefined;
  }

  async submit(req: TaskRequest, correlationId: string): Promise<Result<Submitted>> {
    const outcome = await this.admit(req, correlationId);
    if (!outcome.ok) {
      this.deps.observer.rejected?.({
        correlation_id: correlationId,
        code: outcome.error.code,
        message: outcome.error.message,
        ...(outcome.error.pool_id !== undefined ? { pool_id: outcome.error.pool_id } : {}),
        ...(req.task_id !== undefined ? { task_id: req.task_id } : {}),
        ...(req.session_id !== undefined ? { session_id: req.session_id } : {}),
        priority: req.priority ?? 'interactive',
        ...(outcome.error.policy_label !== undefined ? { policy_label: outcome.error.policy_label } : {}),
      });
    }
    return outcome;
  }

  private async admit(req: TaskRequest, correlationId: string): Promise<Result<Submitted>> {
    const print = req.task_id !== undefined ? fingerprint(req) : '';
    if (req.task_id !== undefined) {
      const seen = this.idempotency.check(req.task_id, print);
      if (seen.kind === 'conflict' || (seen.kind === 'new' && this.tasks.has(req.task_id))) {
        return fail(orchError('CONFLICT', `task_id ${req.task_id} was already used with a different body`, { field: 'task_id' }));
      }
      if (seen.kind === 'replay') {
        const task = this.tasks.get(req.task_id);
        if (task) return ok({ task, answer: seen.answer as TaskAccepted, replay: true });
      }
    }
    if (this.deps.config.audit.fail_closed && !this.deps.recorder.accepting()) {
      return fail(orchError('AUDIT_UNAVAILABLE', 'the audit store cannot record admissions right now', { retry_after_ms: 1_000 }));
    }
    const planned = planAdmission(req, this.deps);
    if (!planned.ok) return planned;
    const plan = planned.value;
    const task = this.createTask(req, plan, correlationId);
    const offered = plan.pool.queue.offer(task);
    if (!offered.admitted) {
      if (plan.sessionId !== undefined) this.deps.sessions.cancelTurn(plan.sessionId);
      const retry = queueBackoffMs(plan.pool);
      return fail(orchError('ADMISSION_REJECT', `pool ${plan.pool.id} queue is full (${plan.pool.config.queue.max_queued} waiting)`, {
        pool_id: plan.pool.id,
        retry_after_ms: retry,
        policy_label: plan.pool.config.queue.policy,
      }));
    }
    if (offered.evicted) this.evict(offered.evicted, plan.pool);
    this.tasks.set(task.id, task);
    const answer = this.answerFor(task, plan);
    task.answer = answer;
    return this.commit(task, plan, answer, print);
  }

  private createTask(req: TaskRequest, plan: AdmissionPlan, correlationId: string): Task {
    const task = new Task({
      id: req.task_id ?? this.deps.ids.uuid(),
      request: req,
      pool: plan.pool,
      correlationId,
      now: this.deps.clock.now(),
      mono: this.deps.clock.monotonic(),
    });
    task.affinity = plan.affinity;
    if (this.deps.config.audit.hash_prompts) task.promptSha256 = createHash('sha256').update(req.prompt).digest('hex');
    return task;
  }

  /** The commit point: the task becomes visible and dispatchable once its admission is recorded. */
  private async commit(task: Task, plan: AdmissionPlan, answer: TaskAccepted, print: string): Promise<Result<Submitted>> {
    const fact = {
      ...taskFacts(task),
      queue_position: answer.queue_position,
      predicted_start_ms: answer.predicted_start_ms,
      policy_label: plan.pool.config.queue.policy,
      model: task.request.model,
    };
    try {
      await withTimeout(this.deps.recorder.commitAdmission(fact), ADMISSION_COMMIT_TIMEOUT_MS);
    } catch (err) {
      if (this.deps.config.audit.fail_closed) {
        plan.pool.queue.remove(task.id);
        this.tasks.delete(task.id);
        if (plan.sessionId !== undefined) this.deps.sessions.cancelTurn(plan.sessionId);
        this.deps.logger.error({ err, task_id: task.id }, 'admission not recorded; refused (audit.fail_closed)');
        return fail(orchError('AUDIT_UNAVAILABLE', 'the audit store could not record the admission', { retry_after_ms: 1_000 }));
      }
      this.deps.logger.error({ err, task_id: task.id }, 'admission not recorded; serving anyway (audit.fail_closed=false)');
    }
    task.committed = true;
    if (task.request.task_id !== undefined) this.idempotency.remember(task.id, print, answer);
    this.deps.observer.admitted?.(fact);
    this.armTimers(task);
    if (!task.finished) this.dispatcher.pump(plan.pool);
    return ok({ task, answer, replay: false });
  }

  private answerFor(task: Task, plan: AdmissionPlan): TaskAccepted {
    const position = plan.pool.queue.position(task.id) ?? 0;
    return {
      task_id: task.id,
      queue_position: position,
      predicted_start_ms: finiteMs(plan.predictedStartMs),
      backoff_ms: finiteMs(plan.predictedStartMs),
      streams: { sse: `/v1/tasks/${task.id}/stream`, status: `/v1/tasks/${task.id}` },
    };
  }

  private armTimers(task: Task): void {
    const { deadline_ms } = task.request;
    if (deadline_ms !== undefined) {
      const left = deadline_ms - (this.deps.clock.monotonic() - task.createdMono);
      task.timers.push(
        setTimeout(() => {
          this.finish(task, { state: 'expired', error: orchError('DEADLINE_EXCEEDED', `deadline of ${deadline_ms} ms passed`), reason: 'deadline' });
        }, Math.max(0, left)),
      );
    }
    const unclaimed = this.deps.config.server.unclaimed_stream_timeout_ms;
    if (unclaimed > 0) {
      task.timers.push(
        setTimeout(() => {
          if (!task.streamOpened) this.finish(task, { state: 'canceled', reason: 'unclaimed' });
        }, unclaimed),
      );
    }
  }

  private evict(victim: Task, pool: Pool<Task>): void {
    const retry = queueBackoffMs(pool);
    this.finish(victim, {
      state: 'evicted',
      reason: 'drop-lru',
      error: orchError('QUEUE_FULL_DROP_LRU', `evicted from the full queue of pool ${pool.id} by newer work (drop-lru)`, {
        pool_id: pool.id,
        retry_after_ms: retry,
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
   * Ends a task exactly once: leaves the queue, aborts the engine call, appends the terminal
   * event, settles the session turn, tells observers, hands it to retention.
   */
  finish(task: Task, ending: Ending): boolean {
    if (task.finished) return false;
    const { clock } = this.deps;
    for (const timer of task.timers) clearTimeout(timer);
    task.timers.length = 0;
    const wasQueued = task.state === 'queued';
    if (wasQueued) {
      task.pool.queue.remove(task.id);
      const at = task.pool.retry.indexOf(task);
      if (at >= 0) task.pool.retry.splice(at, 1);
    }
    task.finishedAt = clock.now();
    task.finishedMono = clock.monotonic();
    const decodeMs = task.firstTokenMono === undefined ? 0 : Math.round(task.finishedMono - task.firstTokenMono);
    task.state = ending.state;
    if (ending.state === 'completed' || (ending.state === 'canceled' && !('error' in ending))) {
      const finishReason: FinishReason = ending.state === 'completed' ? ending.finishReason : 'canceled';
      task.finishReason = finishReason;
      if (ending.state === 'canceled') task.cancelReason = ending.reason;
      if (task.tokensOut > 0) appendMetrics(task);
      task.log.append('end', { tokens_out: task.tokensOut, decode_time_ms: decodeMs, finish_reason: finishReason });
    } else {
      task.cancelReason = ending.reason;
      task.error = errorEventData(ending.error);
      task.log.append('error', task.error);
    }
    // A completed stream has nothing left to abort; the others share one reason per state
    // (building an Error per task showed up in profiles).
    if (ending.state !== 'completed') task.abort?.abort(ABORT_REASONS[ending.state]);
    settleSession(this.deps.sessions, task, ending, wasQueued);
    this.deps.observer.finished?.({
      ...taskFacts(task),
      state: task.state as TerminalState,
      ...(task.finishReason ? { finish_reason: task.finishReason } : {}),
      ...(task.error ? { error_code: task.error.code } : {}),
      ...(task.cancelReason ? { cancel_reason: task.cancelReason } : {}),
      ...(task.replica ? { replica_id: task.replica.id, engine: task.pool.config.engine } : {}),
      tokens_out: task.tokensOut,
      prompt_tokens: ending.state === 'completed' && ending.promptTokens !== undefined ? ending.promptTokens : task.promptTokens,
      queue_wait_ms: Math.round((task.startedMono ?? task.finishedMono) - task.createdMono),
      decode_time_ms: decodeMs,
      e2e_ms: Math.round(task.finishedMono - task.createdMono),
    });
    this.finished.add(task);
    return true;
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
    for (const task of this.tasks.values()) {
      if (!task.finished) {
        this.finish(task, { state: 'canceled', reason: 'shutdown', error: orchError('POOL_UNREADY', 'the gateway is shutting down', { retry_after_ms: 1_000 }) });
      }
    }
  }
}

/** The honest retry hint for work a full queue turned away (refused or evicted). */
function queueBackoffMs(pool: Pool<Task>): number {
  return backoffMs({
    queued: pool.queue.size,
    maxQueued: pool.config.queue.max_queued,
    slotsTotal: pool.slotsTotal,
    slotsBusy: pool.slotsBusy,
    avgServiceMs: pool.stats.avgServiceMs,
  });
}

/** Predictions can be unbounded when a pool has nothing to measure; the wire wants an integer. */
const finiteMs = (ms: number): number => (Number.isFinite(ms) ? Math.max(0, Math.round(ms)) : 0);

/** A store that hangs must not hold admissions forever: past this, the admission is refused. */
const ADMISSION_COMMIT_TIMEOUT_MS = 5_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no commit within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
