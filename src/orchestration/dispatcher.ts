// Event-driven dispatch (never polled): `pump` runs when work arrives or capacity appears,
// places the next committed task with the pure `decide`, and streams it from the engine into
// the task's event log. A task whose admission commit is in flight may be placed early: its
// engine call starts, and nothing of it (no fact, no event) is emitted until the commit lands.
// A failed call is handed to the failover (re-placement, fallback hop, or a terminal error).

import type { Logger } from 'pino';
import { EngineError } from '../adapters/contract.ts';
import type { Config } from '../config/schema.ts';
import { orchError, type ErrorCode, type OrchError } from '../core/errors.ts';
import type { LifecycleObserver } from '../core/observer.ts';
import { decide, type Decision } from '../core/placement/decide.ts';
import type { Timer, TimerClock } from '../core/ports.ts';
import type { Pool } from '../pool/pool.ts';
import type { Replica } from '../pool/replica.ts';
import { startEarly } from './early-call.ts';
import { canonical, sinkFor, streamTo } from './engine-call.ts';
import { Failover, mayReplace, toOrchError } from './failover.ts';
import type { SharedSlots } from './shared-slots.ts';
import type { Ending, Task } from './task.ts';

export type { SharedSlots } from './shared-slots.ts';

export interface DispatcherDeps {
  config: Config;
  clock: TimerClock;
  observer: LifecycleObserver;
  logger: Logger;
  finish: (task: Task, ending: Ending) => boolean;
  /** W3C trace context for the engine call of a task, when it is traced (telemetry). */
  traceparentFor?: (taskId: string) => string | undefined;
  /** The other pools, for fallback hops (issue 13 item 6); without it no task leaves its pool. */
  pools?: { get(id: string): Pool<Task> | undefined };
  /** Engine slots counted across gateway replicas (state.backend redis), for the tasks that hold one. */
  sharedSlots?: SharedSlots;
}

/** Failures that say something about the replica's health (not the request, not load). */
const REPLICA_FAULTS = new Set<ErrorCode>(['WORKER_RESET', 'POOL_UNREADY', 'DECODE_TIMEOUT', 'ENGINE_ERROR']);
/** Retry hint when an overloaded engine gave none. */
const OVERLOAD_BACKOFF_MS = 1_000;
/** The abort reason an engine call started early gets when its admission is withdrawn. */
const WITHDRAWN = new Error('admission withdrawn: its audit row was not committed');

type Placement = 'placed' | 'ended' | 'wait';

export class Dispatcher {
  private readonly deps: DispatcherDeps;
  private readonly failover: Failover;
  private readonly pumping = new Set<string>();
  /** Uncommitted tasks that may be placed early: true once their admission row is committed, false if withdrawn. */
  private readonly verdicts = new WeakMap<Task, Promise<boolean>>();

  constructor(deps: DispatcherDeps) {
    this.deps = deps;
    this.failover = new Failover({ ...deps, pump: (pool) => this.pump(pool) });
  }

  /**
   * Lets the uncommitted `task` be placed before its admission commit lands: its engine call
   * starts, and everything it would emit waits for the verdict. `settle(true)` once the
   * admission row is committed (after the `admitted` fact); `settle(false)` when the admission
   * is withdrawn, which aborts the call. Queue order is kept: placement still takes the head.
   */
  speculate(task: Task): (committed: boolean) => void {
    let resolve: (committed: boolean) => void = () => undefined;
    this.verdicts.set(task, new Promise<boolean>((settle) => { resolve = settle; }));
    return (committed) => {
      this.verdicts.delete(task);
      resolve(committed);
    };
  }

  /**
   * Places as much admitted work as there are free slots: tasks waiting to be re-placed first,
   * then the fair queue, stopping at a head whose commit is in flight unless it may go early.
   * Re-entrant calls are folded.
   */
  pump(pool: Pool<Task>): void {
    if (this.pumping.has(pool.id)) return;
    this.pumping.add(pool.id);
    try {
      for (let i = 0; i < pool.retry.length; ) {
        // A placed or ended task left pool.retry, so the same index now holds the next one.
        if (this.place(pool, pool.retry[i] as Task, i) === 'wait') i++;
      }
      for (;;) {
        const next = pool.queue.peek();
        if (!next || (!next.committed && !this.verdicts.has(next)) || this.place(pool, next, -1) === 'wait') return;
      }
    } finally {
      this.pumping.delete(pool.id);
    }
  }

  /** Tries one task; `retryAt` is its index in pool.retry, or -1 for the head of the queue. */
  private place(pool: Pool<Task>, task: Task, retryAt: number): Placement {
    const closed = this.closedFor(pool);
    // A task placed early is only ever started here: its end would be recorded before its
    // admission. The pump after its commit ends it.
    if (closed) return task.committed ? this.end(pool, task, retryAt, closed) : 'wait';
    const shared = this.deps.sharedSlots?.engineOf(task);
    const pinned = shared === undefined ? task.job : { ...task.job, pin: shared, allowFallback: false };
    const job = { ...pinned, exclude: this.failover.exclusions(task) };
    const decision = decide(pool.views(), job);
    if (decision.kind === 'assigned') {
      this.take(pool, task, retryAt);
      void this.run(pool, task, pool.replica(decision.replicaId) as Replica, decision.log.at(-1) ?? '');
      return 'placed';
    }
    // Busy, or nothing can serve now but may soon (prober, breaker and backoff timers pump).
    if (decision.reason === 'busy' || !pool.ready || !task.committed) return 'wait';
    return this.end(pool, task, retryAt, this.unplaceable(pool, task, decision));
  }

  /** A drained pool past its deadline, or a removed one, ends work that reaches the pump. */
  private closedFor(pool: Pool<Task>): OrchError | undefined {
    const expired = pool.drain !== undefined && this.deps.clock.monotonic() >= pool.drain.deadlineMono;
    if (!expired && !pool.retired) return undefined;
    return orchError('DRAINING', `pool ${pool.id} is draining and takes no new work`, { pool_id: pool.id, retry_after_ms: 1_000 });
  }

  private end(pool: Pool<Task>, task: Task, retryAt: number, error: OrchError): Placement {
    this.take(pool, task, retryAt);
    const draining = error.code === 'DRAINING';
    this.deps.finish(task, draining ? { state: 'canceled', reason: 'drain', error } : { state: 'failed', error });
    return 'ended';
  }

  /** The pool serves, but never this task: a pin that cannot be honoured, or nowhere left to re-place. */
  private unplaceable(pool: Pool<Task>, task: Task, decision: Decision): OrchError {
    const earlier = this.failover.lastFailure(task);
    if (earlier) return earlier;
    const pin = task.request.placement?.pin;
    if (pin !== undefined && task.request.placement?.allow_fallback !== true) {
      return orchError('REPLICA_EXHAUSTED', `pinned replica ${pin} of pool ${pool.id} cannot take the task`, {
        pool_id: pool.id,
        retry_after_ms: pool.config.health.interval_ms,
      });
    }
    this.deps.logger.info({ task_id: task.id, pool_id: pool.id, decision: decision.log }, 'no eligible replica for task');
    return orchError('POOL_UNREADY', `no eligible replica of pool ${pool.id} for this task`, {
      pool_id: pool.id,
      retry_after_ms: pool.config.health.interval_ms,
    });
  }

  private take(pool: Pool<Task>, task: Task, retryAt: number): void {
    if (retryAt >= 0) pool.retry.splice(retryAt, 1);
    else pool.queue.take();
  }

  private async run(pool: Pool<Task>, task: Task, replica: Replica, decision: string): Promise<void> {
    const { clock } = this.deps;
    const lease = replica.lease({ maxTokens: task.request.max_tokens, tokensOut: () => task.tokensOut });
    const { signal, queueWaitMs } = task.place(replica, { now: clock.now(), mono: clock.monotonic() });
    const engine = pool.config.engine;
    const hop = this.failover.takeHop(task);
    const { request, warnings } = canonical(task, replica);
    const verdict = this.verdicts.get(task);
    // Placed before its commit landed: the request goes out now, its first event waits for the verdict.
    const early = verdict === undefined ? undefined : startEarly((sink) => streamTo(replica, request, signal, sink));
    if (early !== undefined && !(await this.admitted(task, verdict as Promise<boolean>))) {
      early.discard();
      lease.release();
      this.pump(pool);
      return;
    }
    const handoff = warnings.length === 0 ? [] : [`handoff: ${warnings.map((w) => (w.field === undefined ? w.code : `${w.code} ${w.field}`)).join(', ')}`];
    if (warnings.length > 0) this.deps.logger.info({ task_id: task.id, pool_id: pool.id, replica_id: replica.id, warnings }, 'conversation rewritten for its target');
    this.deps.observer.placed?.({
      ...task.facts(),
      replica_id: replica.id,
      engine,
      queue_wait_ms: Math.round(queueWaitMs),
      decision: [...(hop === undefined ? [] : [hop]), decision, ...handoff].join('; '),
      attempt: task.attempt,
    });
    // A re-placed task gets a second `started` naming the replica that now serves it.
    task.log.append('started', { pool_id: pool.id, replica_id: replica.id, engine, queue_wait_ms: Math.round(queueWaitMs) });
    // The engine-call span exists only once `placed` has been observed: its trace context is
    // read now, after that fact, never while the request is being built.
    // (An early call has none: the task service lets only untraced tasks go early.)
    const traceparent = early === undefined ? this.deps.traceparentFor?.(task.id) : undefined;
    const call = traceparent === undefined ? request : { ...request, traceparent };
    const idle = watchdog(clock, pool.config.timeouts.idle_ms, () => this.timeout(task, 'idle'));
    const wall = watchdog(clock, pool.config.timeouts.wall_ms, () => this.timeout(task, 'wall'));
    try {
      // This call is the task's last: nothing will build another from its prompt.
      if (!mayReplace(task)) task.releasePrompt();
      const sink = sinkFor(this.deps, pool, task, replica, { idle, lease });
      await (early ? early.run(sink) : streamTo(replica, call, signal, sink));
      if (!task.finished) this.fail(pool, task, replica, new EngineError('WORKER_RESET', 'the engine ended the stream without a final event'));
    } catch (err) {
      // An abort we caused (idle watchdog) carries its own typed reason.
      if (!task.finished) this.fail(pool, task, replica, signal.aborted ? signal.reason : err);
    } finally {
      idle.cancel();
      wall.cancel();
      lease.release();
      this.heedRateLimit(pool, replica);
      this.pump(pool);
    }
  }

  /**
   * Waits for the verdict on an early-placed task: true when its admission is committed and it
   * still runs; on a withdrawn admission its engine call is aborted (the engine sees it go).
   */
  private async admitted(task: Task, verdict: Promise<boolean>): Promise<boolean> {
    const committed = await verdict;
    if (!committed) task.abortCall(WITHDRAWN);
    // Ended meanwhile (shutdown, a session turn refused at confirmation): its end aborted the call.
    return committed && !task.finished;
  }

  private timeout(task: Task, which: 'idle' | 'wall'): void {
    const ms = which === 'idle' ? task.pool.config.timeouts.idle_ms : task.pool.config.timeouts.wall_ms;
    const error = orchError('DECODE_TIMEOUT', which === 'idle' ? `the engine sent nothing for ${ms} ms` : `decode exceeded ${ms} ms`, {
      engine: task.pool.config.engine,
      retry_after_ms: 1_000,
    });
    if (task.tokensOut === 0 && which === 'idle') {
      task.abortCall(new EngineError('DECODE_TIMEOUT', error.message));
      return;
    }
    this.deps.finish(task, { state: 'failed', error });
  }

  /** The replica is judged by the failure first; then the failover decides where the task goes. */
  private fail(pool: Pool<Task>, task: Task, replica: Replica, err: unknown): void {
    const error = toOrchError(err, pool.config.engine);
    this.judgeReplica(pool, replica, error);
    this.failover.fail(pool, task, replica, error);
  }

  /**
   * Overload backs the replica off for the engine's retry hint; faults count toward its breaker.
   * Either way a timer pumps the pool when the replica may serve again, so waiting work moves.
   */
  private judgeReplica(pool: Pool<Task>, replica: Replica, error: OrchError): void {
    let waitMs: number | undefined;
    if (error.code === 'REPLICA_EXHAUSTED') {
      waitMs = error.retry_after_ms ?? OVERLOAD_BACKOFF_MS;
      replica.backOff(waitMs);
    } else if (REPLICA_FAULTS.has(error.code) && replica.breaker.failure(this.deps.clock.monotonic())) {
      waitMs = replica.breaker.waitMs;
      this.deps.logger.warn({ pool_id: pool.id, replica_id: replica.id, code: error.code }, 'replica circuit breaker open');
    }
    if (waitMs === undefined) return;
    this.deps.clock.setTimer(waitMs + 1, () => this.pump(pool));
  }

  /** A provider that reported its budget spent keeps the replica out until its reset; then the pool is pumped. */
  private heedRateLimit(pool: Pool<Task>, replica: Replica): void {
    const waitMs = replica.heedRateLimit();
    if (waitMs !== undefined) this.deps.clock.setTimer(waitMs + 1, () => this.pump(pool));
  }
}

/** A running task's idle or wall watchdog: coarse where the clock has it (up to 0.5 s late, never early), as every running task holds both for its whole call. */
function watchdog(clock: TimerClock, ms: number, fn: () => void): Timer {
  return clock.setCoarseTimer ? clock.setCoarseTimer(ms, fn) : clock.setTimer(ms, fn);
}
