// What follows an engine call that failed: before the first token, a re-placement once in the
// pool or a hop to the pool's next fallback (through the shared slot count when the task holds
// one); after it, a terminal WORKER_RESET, never a silent retry.

import type { Logger } from 'pino';
import { EngineError } from '../adapters/contract.ts';
import { orchError, type ErrorCode, type OrchError } from '../core/errors.ts';
import { choices, everPlaceable } from '../core/placement/decide.ts';
import type { TimerClock } from '../core/ports.ts';
import type { Pool, Replacement } from '../pool/pool.ts';
import type { Replica } from '../pool/replica.ts';
import type { SharedSlots } from './shared-slots.ts';
import type { Ending, Task } from './task.ts';

export interface FailoverDeps {
  clock: TimerClock;
  logger: Logger;
  finish: (task: Task, ending: Ending) => boolean;
  /** The other pools, for fallback hops (issue 13 item 6); without it no task leaves its pool. */
  pools?: { get(id: string): Pool<Task> | undefined };
  sharedSlots?: SharedSlots;
  /** The dispatcher's pump: a task put back in a retry list is placed by it. */
  pump: (pool: Pool<Task>) => void;
}

/** Failures before the first token that another replica may not share. */
const REPLACEABLE = new Set<ErrorCode>(['WORKER_RESET', 'POOL_UNREADY', 'REPLICA_EXHAUSTED', 'DECODE_TIMEOUT']);

export class Failover {
  private readonly deps: FailoverDeps;
  /** The last failure of a task that waits to be re-placed: its terminal error if it cannot be. */
  private readonly failures = new WeakMap<Task, OrchError>();
  /** Re-placed tasks that may return to the replica they failed on: nothing else can serve them (Pool.replacement). */
  private readonly mayReturn = new WeakSet<Task>();
  /** Why a task is in its pool's retry list after a fallback hop: the head of its next placement's decision. */
  private readonly hops = new WeakMap<Task, string>();

  constructor(deps: FailoverDeps) {
    this.deps = deps;
  }

  /** The replicas the next placement of `task` must avoid: those it failed on, unless it may return. */
  exclusions(task: Task): readonly string[] {
    return this.mayReturn.has(task) ? [] : task.tried;
  }

  /** The failure a waiting re-placed task ends with when it cannot be placed. */
  lastFailure(task: Task): OrchError | undefined {
    return this.failures.get(task);
  }

  /** The hop that brought `task` to its pool, once: the head of its `placed` decision. */
  takeHop(task: Task): string | undefined {
    const hop = this.hops.get(task);
    this.hops.delete(task);
    return hop;
  }

  /**
   * Before the first token: re-place once in the pool when a replica can take the task now (or
   * the failed one still serves); else hop to the pool's next fallback; else wait for the
   * failed replica within the deadline; else end with the honest wait. After: terminal, never a retry.
   */
  fail(pool: Pool<Task>, task: Task, replica: Replica, error: OrchError): void {
    if (task.tokensOut === 0 && REPLACEABLE.has(error.code) && this.deps.sharedSlots?.engineOf(task) !== undefined) {
      void this.failShared(pool, task, replica, error, this.deps.sharedSlots);
      return;
    }
    if (task.tokensOut === 0 && REPLACEABLE.has(error.code)) {
      const where = this.replacement(pool, task, replica);
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

  /** Where the pool would re-place the task, within its deadline; undefined once it was re-placed. */
  private replacement(pool: Pool<Task>, task: Task, replica: Replica): Replacement | undefined {
    const deadline = task.request.deadline_ms;
    const deadlineLeftMs = deadline === undefined ? undefined : deadline - (this.deps.clock.monotonic() - task.createdMono);
    return task.tried.length === 0 ? pool.replacement(replica, task.job, deadlineLeftMs) : undefined;
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
    const where = this.replacement(pool, task, replica);
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
    this.deps.pump(pool);
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
    this.deps.pump(to);
  }
}

/**
 * Another engine call may still be built for this task: a re-placement in its pool (none tried
 * yet) or a hop to a fallback pool it has not been in. Until then it keeps its prompt.
 */
export const mayReplace = (task: Task): boolean => task.tried.length === 0 || task.pool.config.fallbacks.some((id) => !task.pools.includes(id));

export function toOrchError(err: unknown, engine: string): OrchError {
  if (err instanceof EngineError) {
    return orchError(err.code, err.message, {
      engine,
      ...(err.retryAfterMs !== undefined ? { retry_after_ms: err.retryAfterMs } : {}),
    });
  }
  return orchError('WORKER_RESET', 'the engine connection failed', { engine, retry_after_ms: 1_000 });
}
