// Event-driven dispatch (never polled): `pump` runs when work arrives or capacity appears,
// places the next committed task with the pure `decide`, and streams it from the engine into
// the task's event log. A failure before the first token re-places the task once on another
// replica; after the first token it is a terminal WORKER_RESET, never a silent retry.

import type { Logger } from 'pino';
import { EngineError, type CanonicalRequest } from '../adapters/contract.ts';
import type { Config } from '../config/schema.ts';
import { orchError, type OrchError } from '../core/errors.ts';
import type { LifecycleObserver } from '../core/observer.ts';
import { decide } from '../core/placement/decide.ts';
import type { Clock } from '../core/ports.ts';
import type { Pool } from '../pool/pool.ts';
import type { Replica } from '../pool/replica.ts';
import { jobFor } from './admission.ts';
import type { Task } from './task.ts';
import type { Ending } from './task-service.ts';

export interface DispatcherDeps {
  config: Config;
  clock: Clock;
  observer: LifecycleObserver;
  logger: Logger;
  finish: (task: Task, ending: Ending) => boolean;
}

/** Failures before the first token that another replica may not share. */
const REPLACEABLE = new Set(['WORKER_RESET', 'POOL_UNREADY', 'REPLICA_EXHAUSTED', 'DECODE_TIMEOUT']);

export class Dispatcher {
  private readonly deps: DispatcherDeps;
  private readonly pumping = new Set<string>();

  constructor(deps: DispatcherDeps) {
    this.deps = deps;
  }

  /** Places as much committed work as there are free slots. Re-entrant calls are folded. */
  pump(pool: Pool<Task>): void {
    if (this.pumping.has(pool.id)) return;
    this.pumping.add(pool.id);
    try {
      for (;;) {
        const fromRetry = pool.retry.length > 0;
        const next = fromRetry ? pool.retry[0] : pool.queue.peek();
        if (!next || !next.committed) return;
        const job = { ...jobFor(next.request, next.affinity?.replica_id), exclude: next.tried };
        const decision = decide(pool.views(), job);
        if (decision.kind === 'no_capacity') {
          if (decision.reason === 'busy' || !pool.ready) return;
          this.take(pool, next, fromRetry);
          this.deps.finish(next, {
            state: 'failed',
            error: orchError('POOL_UNREADY', `no eligible replica of pool ${pool.id} for this task`, {
              pool_id: pool.id,
              retry_after_ms: pool.config.health.interval_ms,
            }),
          });
          continue;
        }
        this.take(pool, next, fromRetry);
        const replica = pool.replica(decision.replicaId) as Replica;
        void this.run(pool, next, replica, decision.log.at(-1) ?? '');
      }
    } finally {
      this.pumping.delete(pool.id);
    }
  }

  private take(pool: Pool<Task>, task: Task, fromRetry: boolean): void {
    if (fromRetry) pool.retry.shift();
    else pool.queue.take();
  }

  private async run(pool: Pool<Task>, task: Task, replica: Replica, decision: string): Promise<void> {
    const { clock, config } = this.deps;
    replica.slotsBusy++;
    task.replica = replica;
    task.state = 'running';
    task.startedAt ??= clock.now();
    const startedMono = clock.monotonic();
    task.startedMono ??= startedMono;
    const abort = new AbortController();
    task.abort = abort;
    const queueWaitMs = Math.round(startedMono - task.createdMono);
    const engine = pool.config.engine;
    this.deps.observer.placed?.({ ...this.facts(task), replica_id: replica.id, engine, queue_wait_ms: queueWaitMs, decision, attempt: task.tried.length + 1 });
    task.log.append('started', { pool_id: pool.id, replica_id: replica.id, engine, queue_wait_ms: queueWaitMs });
    const idle = setTimeout(() => this.timeout(task, 'idle'), pool.config.timeouts.idle_ms);
    const wall = setTimeout(() => this.timeout(task, 'wall'), pool.config.timeouts.wall_ms);
    try {
      for await (const event of replica.adapter.stream(this.canonical(task, pool), abort.signal)) {
        if (task.finished) break;
        if (event.type === 'token') {
          if (task.tokensOut === 0) this.firstToken(task, replica, engine);
          task.log.append('token', { t: event.text, i: task.tokensOut });
          task.tokensOut++;
          idle.refresh();
        } else {
          replica.breaker.success();
          this.observeSpeed(pool, replica, task);
          this.deps.finish(task, {
            state: 'completed',
            finishReason: event.finishReason,
            ...(event.promptTokens !== undefined ? { promptTokens: event.promptTokens } : {}),
            ...(event.cachedTokens !== undefined ? { cachedTokens: event.cachedTokens } : {}),
          });
        }
      }
      if (!task.finished) this.fail(task, replica, new EngineError('WORKER_RESET', 'the engine ended the stream without a final event'));
    } catch (err) {
      // An abort we caused (idle watchdog) carries its own typed reason.
      if (!task.finished) this.fail(task, replica, abort.signal.aborted ? abort.signal.reason : err);
    } finally {
      clearTimeout(idle);
      clearTimeout(wall);
      replica.slotsBusy--;
      this.pump(pool);
    }
  }

  private firstToken(task: Task, replica: Replica, engine: string): void {
    task.firstTokenAt = this.deps.clock.now();
    task.firstTokenMono = this.deps.clock.monotonic();
    this.deps.observer.firstToken?.({
      ...this.facts(task),
      replica_id: replica.id,
      engine,
      ttft_ms: Math.round(task.firstTokenMono - (task.startedMono ?? task.firstTokenMono)),
    });
  }

  private observeSpeed(pool: Pool<Task>, replica: Replica, task: Task): void {
    const now = this.deps.clock.monotonic();
    const decodeMs = task.firstTokenMono === undefined ? 0 : now - task.firstTokenMono;
    if (decodeMs > 0 && task.tokensOut > 1) replica.observeSpeed(((task.tokensOut - 1) * 1000) / decodeMs);
    pool.stats.observe({
      serviceMs: now - (task.startedMono ?? now),
      tokens: task.tokensOut,
      decodeMs,
      ttftMs: task.firstTokenMono === undefined ? 0 : task.firstTokenMono - (task.startedMono ?? task.firstTokenMono),
    });
  }

  private timeout(task: Task, which: 'idle' | 'wall'): void {
    const ms = which === 'idle' ? task.pool.config.timeouts.idle_ms : task.pool.config.timeouts.wall_ms;
    const error = orchError('DECODE_TIMEOUT', which === 'idle' ? `the engine sent nothing for ${ms} ms` : `decode exceeded ${ms} ms`, {
      engine: task.pool.config.engine,
      retry_after_ms: 1_000,
    });
    if (task.tokensOut === 0 && which === 'idle') {
      task.abort?.abort(new EngineError('DECODE_TIMEOUT', error.message));
      return;
    }
    this.deps.finish(task, { state: 'failed', error });
  }

  /** Before the first token: re-place once elsewhere. After: terminal error, never a retry. */
  private fail(task: Task, replica: Replica, err: unknown): void {
    const pool = task.pool;
    const error = toOrchError(err, pool.config.engine);
    replica.breaker.failure(this.deps.clock.monotonic());
    if (task.tokensOut === 0 && task.tried.length === 0 && REPLACEABLE.has(error.code)) {
      task.tried.push(replica.id);
      task.state = 'queued';
      task.replica = undefined;
      task.abort = undefined;
      this.deps.logger.warn({ task_id: task.id, replica_id: replica.id, code: error.code }, 're-placing task after a failure before its first token');
      pool.retry.push(task);
      return;
    }
    const code = task.tokensOut > 0 && error.code !== 'DECODE_TIMEOUT' ? 'WORKER_RESET' : error.code;
    this.deps.finish(task, { state: 'failed', error: code === error.code ? error : orchError(code, error.message, { engine: pool.config.engine, retry_after_ms: 1_000 }) });
  }

  private canonical(task: Task, pool: Pool<Task>): CanonicalRequest {
    const r = task.request;
    return {
      taskId: task.id,
      model: pool.config.engine_model ?? pool.config.model,
      prompt: r.prompt,
      maxTokens: r.max_tokens,
      ...(r.seed !== undefined ? { seed: r.seed } : {}),
      ...(r.temperature !== undefined ? { temperature: r.temperature } : {}),
      ...(r.top_p !== undefined ? { topP: r.top_p } : {}),
      ...(r.stop !== undefined ? { stop: r.stop } : {}),
      ...(task.affinity?.slot_id !== undefined && task.affinity.replica_id === task.replica?.id ? { slotId: task.affinity.slot_id } : {}),
      ...(r.session_id !== undefined ? { cachePrompt: true } : {}),
    };
  }

  private facts(task: Task) {
    return {
      task_id: task.id,
      pool_id: task.pool.id,
      priority: task.priority,
      ...(task.request.session_id !== undefined ? { session_id: task.request.session_id } : {}),
      correlation_id: task.correlationId,
      max_tokens: task.request.max_tokens,
    };
  }
}

export function toOrchError(err: unknown, engine: string): OrchError {
  if (err instanceof EngineError) {
    return orchError(err.code, err.message, {
      engine,
      ...(err.retryAfterMs !== undefined ? { retry_after_ms: err.retryAfterMs } : {}),
    });
  }
  return orchError('WORKER_RESET', 'the engine connection failed', { engine, retry_after_ms: 1_000 });
}
