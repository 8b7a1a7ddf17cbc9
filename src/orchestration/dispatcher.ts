// Event-driven dispatch (never polled): `pump` runs when work arrives or capacity appears,
// places the next committed task with the pure `decide`, and streams it from the engine into
// the task's event log. A task whose admission commit is in flight may be placed early: its
// engine call starts, and nothing of it (no fact, no event) is emitted until the commit lands.
// A failure before the first token re-places the task once on another replica, or hops to the
// pool's next fallback pool; after the first token it is a terminal WORKER_RESET, never a
// silent retry.

import type { Logger } from 'pino';
import { EngineError, type CanonicalEvent, type CanonicalRequest, type EventSink } from '../adapters/contract.ts';
import type { Config } from '../config/schema.ts';
import { FREE_SHAPE, handOff } from '../core/chat/handoff.ts';
import type { ChatWarning } from '../core/chat/warning.ts';
import { orchError, type ErrorCode, type OrchError } from '../core/errors.ts';
import type { LifecycleObserver } from '../core/observer.ts';
import { choices, decide, everPlaceable, type Decision } from '../core/placement/decide.ts';
import type { Timer, TimerClock } from '../core/ports.ts';
import type { Pool } from '../pool/pool.ts';
import type { Lease, Replica } from '../pool/replica.ts';
import { startEarly } from './early-call.ts';
import type { Ending, Task } from './task.ts';

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

/**
 * The engine replicas a moving task may take now, best first (read again at each try); undefined
 * once none of them could ever serve it (the move stops waiting).
 */
export type MoveCandidates = () => readonly string[] | undefined;

/**
 * Slots counted outside this process: a task holding one runs only on the engine replica its
 * slot is counted on, and moves (re-placement, fallback hop) only onto a slot taken there first.
 */
export interface SharedSlots {
  /** The engine replica `task`'s shared slot is counted on; undefined for a task without one. */
  engineOf(task: Task): string | undefined;
  /**
   * Gives back `task`'s slot on `failed` and takes one on the first candidate (an engine replica
   * of `to`) free everywhere, in one atomic step; with none free, keeps its slot and waits for
   * one, as a re-placed task waits in the retry list. The replica taken, or undefined: the
   * candidates cannot serve, the task ended, or the shared state failed (the slot stays where it was).
   */
  move(task: Task, failed: Replica, to: Pool<Task>, candidates: MoveCandidates): Promise<string | undefined>;
}

/** Failures before the first token that another replica may not share. */
const REPLACEABLE = new Set<ErrorCode>(['WORKER_RESET', 'POOL_UNREADY', 'REPLICA_EXHAUSTED', 'DECODE_TIMEOUT']);
/** Failures that say something about the replica's health (not the request, not load). */
const REPLICA_FAULTS = new Set<ErrorCode>(['WORKER_RESET', 'POOL_UNREADY', 'DECODE_TIMEOUT', 'ENGINE_ERROR']);
/** Retry hint when an overloaded engine gave none. */
const OVERLOAD_BACKOFF_MS = 1_000;
/** The abort reason an engine call started early gets when its admission is withdrawn. */
const WITHDRAWN = new Error('admission withdrawn: its audit row was not committed');

type Placement = 'placed' | 'ended' | 'wait';

export class Dispatcher {
  private readonly deps: DispatcherDeps;
  private readonly pumping = new Set<string>();
  /** The last failure of a task that waits to be re-placed: its terminal error if it cannot be. */
  private readonly failures = new WeakMap<Task, OrchError>();
  /** Re-placed tasks that may return to the replica they failed on: nothing else can serve them (Pool.replacement). */
  private readonly mayReturn = new WeakSet<Task>();
  /** Why a task is in its pool's retry list after a fallback hop: the head of its next placement's decision. */
  private readonly hops = new WeakMap<Task, string>();
  /** Uncommitted tasks that may be placed early: true once their admission row is committed, false if withdrawn. */
  private readonly verdicts = new WeakMap<Task, Promise<boolean>>();

  constructor(deps: DispatcherDeps) {
    this.deps = deps;
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
    if (closed) return this.end(pool, task, retryAt, closed);
    const shared = this.deps.sharedSlots?.engineOf(task);
    const pinned = shared === undefined ? task.job : { ...task.job, pin: shared, allowFallback: false };
    const job = { ...pinned, exclude: this.mayReturn.has(task) ? [] : task.tried };
    const decision = decide(pool.views(), job);
    if (decision.kind === 'assigned') {
      this.take(pool, task, retryAt);
      void this.run(pool, task, pool.replica(decision.replicaId) as Replica, decision.log.at(-1) ?? '');
      return 'placed';
    }
    // Busy, or nothing can serve now but may soon (prober, breaker and backoff timers pump).
    if (decision.reason === 'busy' || !pool.ready) return 'wait';
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
    const earlier = this.failures.get(task);
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
    const hop = this.hops.get(task);
    this.hops.delete(task);
    const { request, warnings } = this.canonical(task, replica);
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
    const idle = clock.setTimer(pool.config.timeouts.idle_ms, () => this.timeout(task, 'idle'));
    const wall = clock.setTimer(pool.config.timeouts.wall_ms, () => this.timeout(task, 'wall'));
    try {
      // This call is the task's last: nothing will build another from its prompt.
      if (!mayReplace(task)) task.releasePrompt();
      const sink = this.sinkFor(pool, task, replica, { idle, lease });
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
   * The task's one sink for its engine call: each engine read's events go to its log in one
   * synchronous call (no promise per token); false once the task has ended.
   */
  private sinkFor(pool: Pool<Task>, task: Task, replica: Replica, held: { idle: Timer; lease: Lease }): EventSink {
    const { clock } = this.deps;
    const engine = pool.config.engine;
    const { idle, lease } = held;
    return (events) => {
      try {
        for (const event of events) {
          if (task.finished) return false;
          if (event.type === 'token') {
            if (task.token(event.text, clock)) this.firstToken(task, replica, engine);
          } else if (event.type === 'tool_call_delta') {
            if (task.toolCall(event, clock)) this.firstToken(task, replica, engine);
          } else {
            replica.breaker.success();
            this.deps.finish(task, {
              state: 'completed',
              finishReason: event.finishReason,
              ...(event.promptTokens !== undefined ? { promptTokens: event.promptTokens } : {}),
              ...(event.cachedTokens !== undefined ? { cachedTokens: event.cachedTokens } : {}),
              ...(event.slotId !== undefined ? { slotId: event.slotId } : {}),
              ...(event.costUsd !== undefined ? { costUsd: event.costUsd } : {}),
              ...(event.stopSequence !== undefined ? { stopSequence: event.stopSequence } : {}),
            });
            this.observeSpeed(pool, replica, task);
          }
        }
        // The events of one read arrived together: the idle watchdog restarts once for them.
        idle.refresh();
        return !task.finished;
      } finally {
        // Once per read, before anything else runs: the predictions' tally sees every token of it.
        lease.progressed();
      }
    };
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

  private firstToken(task: Task, replica: Replica, engine: string): void {
    const firstMono = task.firstTokenMono ?? 0;
    this.deps.observer.firstToken?.({
      ...task.facts(),
      replica_id: replica.id,
      engine,
      ttft_ms: Math.round(firstMono - (task.startedMono ?? firstMono)),
    });
  }

  /** Feeds the completed task's figures (computed once, by the task) to replica and pool stats. */
  private observeSpeed(pool: Pool<Task>, replica: Replica, task: Task): void {
    const f = task.figures;
    if (!f) return;
    if (f.tokensPerS > 0) replica.observeSpeed(f.tokensPerS);
    pool.stats.observe({ serviceMs: f.serviceMs, tokens: task.tokensOut, ttftMs: f.ttftMs, tokensPerS: f.tokensPerS, maxTokens: task.request.max_tokens });
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

  /**
   * Before the first token: re-place once in the pool when a replica can take the task now (or
   * the failed one still serves); else hop to the pool's next fallback; else wait for the
   * failed replica within the deadline; else end with the honest wait. After: terminal, never a retry.
   */
  private fail(pool: Pool<Task>, task: Task, replica: Replica, err: unknown): void {
    const error = toOrchError(err, pool.config.engine);
    this.judgeReplica(pool, replica, error);
    if (task.tokensOut === 0 && REPLACEABLE.has(error.code) && this.deps.sharedSlots?.engineOf(task) !== undefined) {
      void this.failShared(pool, task, replica, error, this.deps.sharedSlots);
      return;
    }
    if (task.tokensOut === 0 && REPLACEABLE.has(error.code)) {
      const deadline = task.request.deadline_ms;
      const deadlineLeftMs = deadline === undefined ? undefined : deadline - (this.deps.clock.monotonic() - task.createdMono);
      const where = task.tried.length === 0 ? pool.replacement(replica, task.job, deadlineLeftMs) : undefined;
      if (where?.kind === 'elsewhere' || (where?.kind === 'same' && replica.serviceable)) return this.replace(pool, task, replica, error, where.kind);
      const fallback = this.fallbackFor(pool, task);
      if (fallback) return this.hop(pool, fallback, task, error);
      if (where?.kind === 'same') return this.replace(pool, task, replica, error, 'same');
      // Nowhere to go within the deadline: end now with the honest wait, not after the outage.
      if (where?.kind === 'none') {
        this.deps.finish(task, { state: 'failed', error: { ...error, retry_after_ms: where.retryAfterMs } });
        return;
      }
    }
    this.endFailed(pool, task, error);
  }

  private endFailed(pool: Pool<Task>, task: Task, error: OrchError): void {
    const code = task.tokensOut > 0 && error.code !== 'DECODE_TIMEOUT' ? 'WORKER_RESET' : error.code;
    this.deps.finish(task, {
      state: 'failed',
      error: code === error.code ? error : orchError(code, `the engine connection failed after the first token: ${error.message}`, { engine: pool.config.engine, retry_after_ms: 1_000 }),
    });
  }

  /**
   * `fail` for a task on a shared slot, with the same choices in the same order: re-placed in
   * its pool, else back on the failed replica while it serves (its slot is still counted there),
   * else hopped to a fallback, else ended. A move to another replica or pool takes a slot free
   * everywhere first, giving back the failed one in the same step; until one frees it waits
   * (on the failed replica's slot), as the memory backend's retry list waits.
   */
  private async failShared(pool: Pool<Task>, task: Task, replica: Replica, error: OrchError, slots: SharedSlots): Promise<void> {
    const deadline = task.request.deadline_ms;
    const deadlineLeftMs = deadline === undefined ? undefined : deadline - (this.deps.clock.monotonic() - task.createdMono);
    const where = task.tried.length === 0 ? pool.replacement(replica, task.job, deadlineLeftMs) : undefined;
    if (where?.kind === 'elsewhere') {
      const others = { ...task.job, exclude: [...task.tried, replica.id] };
      const moved = await slots.move(task, replica, pool, () => (everPlaceable(pool.views(), others) ? choices(pool.views(), others) : undefined));
      if (task.finished) return;
      if (moved !== undefined) return this.replaceShared(pool, task, replica, error, 'elsewhere');
    }
    if (where !== undefined && where.kind !== 'none' && replica.serviceable) return this.replaceShared(pool, task, replica, error, 'same');
    const fallback = this.fallbackFor(pool, task);
    if (fallback) {
      const moved = await slots.move(task, replica, fallback, () => choices(fallback.views(), task.job));
      if (task.finished) return;
      if (moved !== undefined) return this.hop(pool, fallback, task, error);
    }
    if (where?.kind === 'same') return this.replaceShared(pool, task, replica, error, 'same');
    this.endFailed(pool, task, where?.kind === 'none' ? { ...error, retry_after_ms: where.retryAfterMs } : error);
  }

  /** `replace`, then a pump: the engine call's own pump ran while the slot was being moved. */
  private replaceShared(pool: Pool<Task>, task: Task, replica: Replica, error: OrchError, where: 'elsewhere' | 'same'): void {
    this.replace(pool, task, replica, error, where);
    this.pump(pool);
  }

  private replace(pool: Pool<Task>, task: Task, replica: Replica, error: OrchError, where: 'elsewhere' | 'same'): void {
    if (where === 'same') this.mayReturn.add(task);
    task.requeue();
    this.failures.set(task, error);
    this.deps.logger.warn({ task_id: task.id, replica_id: replica.id, code: error.code }, 're-placing task after a failure before its first token');
    pool.retry.push(task);
  }

  /**
   * The first of the pool's fallbacks the task has not been in that can serve it now: ready,
   * and speaking chat when the task is a conversation.
   */
  private fallbackFor(pool: Pool<Task>, task: Task): Pool<Task> | undefined {
    for (const id of pool.config.fallbacks) {
      if (task.pools.includes(id)) continue;
      const next = this.deps.pools?.get(id);
      if (!next?.ready) continue;
      if (task.chat !== undefined && !next.replicas.every((r) => r.adapter.capabilities.chat !== undefined)) continue;
      return next;
    }
    return undefined;
  }

  /** Moves the task into the fallback pool's retry list (ahead of its queue) and pumps it. */
  private hop(from: Pool<Task>, to: Pool<Task>, task: Task, error: OrchError): void {
    this.mayReturn.delete(task);
    task.moveTo(to);
    this.failures.set(task, error);
    this.hops.set(task, `fallback ${task.pools.length - 1}: pool ${from.id} → ${to.id} after ${error.code}`);
    this.deps.logger.warn({ task_id: task.id, pool_id: from.id, fallback_pool_id: to.id, code: error.code }, 'task moved to a fallback pool after a failure before its first token');
    to.retry.push(task);
    this.pump(to);
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

  /** The engine request; a conversation is first rewritten into the shape this replica's adapter takes (handoff). */
  private canonical(task: Task, replica: Replica): { request: CanonicalRequest; warnings: ChatWarning[] } {
    const r = task.request;
    const prompt = task.prompt;
    // The prompt is released only once no placement can follow (mayReplace): a bug otherwise.
    if (prompt === undefined) throw new Error(`task ${task.id}: placed after its prompt was released`);
    const caps = replica.adapter.capabilities;
    const held = task.chat;
    const chat = held !== undefined && caps.chat !== undefined ? handOff(held, { caps: caps.chat, shape: caps.chatShape ?? FREE_SHAPE }) : undefined;
    const slot = task.affinity?.replica_id === replica.id ? task.affinity.slot_id : undefined;
    const request: CanonicalRequest = {
      taskId: task.id,
      model: task.pool.config.engine_model ?? task.pool.config.model,
      prompt,
      maxTokens: r.max_tokens,
      ...(r.seed !== undefined ? { seed: r.seed } : {}),
      ...(r.temperature !== undefined ? { temperature: r.temperature } : {}),
      ...(r.top_p !== undefined ? { topP: r.top_p } : {}),
      ...(r.stop !== undefined ? { stop: r.stop } : {}),
      ...(slot !== undefined && replica.adapter.capabilities.slotAffinity ? { slotId: slot } : {}),
      ...(r.session_id !== undefined ? { cachePrompt: true } : {}),
      ...(held !== undefined ? { chat: chat?.conversation ?? held } : {}),
    };
    return { request, warnings: chat?.warnings ?? [] };
  }
}

/** Feeds an adapter that only iterates (stream()) to a sink, one event at a time. */
/** The engine call in push form: the adapter's own `streamTo`, else its pull stream fed to the sink. */
function streamTo(replica: Replica, call: CanonicalRequest, signal: AbortSignal, sink: EventSink): Promise<void> {
  const { adapter } = replica;
  return adapter.streamTo ? adapter.streamTo(call, signal, sink) : pushEach(adapter.stream(call, signal), sink);
}

async function pushEach(events: AsyncIterable<CanonicalEvent>, sink: EventSink): Promise<void> {
  const one: CanonicalEvent[] = [];
  for await (const event of events) {
    one[0] = event;
    if (!sink(one)) return;
  }
}

/**
 * Another engine call may still be built for this task: a re-placement in its pool (none tried
 * yet) or a hop to a fallback pool it has not been in. Until then it keeps its prompt.
 */
const mayReplace = (task: Task): boolean => task.tried.length === 0 || task.pool.config.fallbacks.some((id) => !task.pools.includes(id));

export function toOrchError(err: unknown, engine: string): OrchError {
  if (err instanceof EngineError) {
    return orchError(err.code, err.message, {
      engine,
      ...(err.retryAfterMs !== undefined ? { retry_after_ms: err.retryAfterMs } : {}),
    });
  }
  return orchError('WORKER_RESET', 'the engine connection failed', { engine, retry_after_ms: 1_000 });
}
