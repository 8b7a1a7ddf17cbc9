// Builds pools and replicas from config, runs one health prober per replica, resolves a
// client's model (name or alias, optional engine constraint) to a pool, and carries out the
// control actions on pools: drain, atomic reload with rollback, and applying a new config.
// It never ends tasks itself: it publishes `endWork` to its subscriber (the task service), so
// every end is terminal. Engines come in through an EngineCatalog (the adapter registry).

import type { Logger } from 'pino';
import type { EngineCatalog } from '../adapters/contract.ts';
import type { PoolConfig } from '../config/schema.ts';
import { fail, ok, orchError, type OrchError, type Result } from '../core/errors.ts';
import type { Timer, TimerClock } from '../core/ports.ts';
import { FairQueue, type QueueEntry } from '../core/queue/fair-queue.ts';
import type { WeightOf } from '../core/queue/tenant-lanes.ts';
import type { TaskQueue } from '../core/state-ports.ts';
import { bindVersionPolicy, Pool, queueOptions } from './pool.ts';
import { startProber, type Prober } from './prober.ts';
import { Replica } from './replica.ts';

export interface PoolManagerDeps<T extends QueueEntry = QueueEntry> {
  clock: TimerClock;
  /** Schedules health probes (default: `clock`); a unit test of task timing keeps probes off its fake clock. */
  probeClock?: TimerClock;
  logger: Logger;
  /** Builds adapters and knows each engine kind's defaults (src/adapters/registry.ts). */
  engines: EngineCatalog;
  /** The queue port for a new pool (default: the in-memory FairQueue). */
  newQueue?: (config: PoolConfig) => TaskQueue<T>;
  /** A queued entry's max_tokens, for start predictions (Pool.predictStartMs). */
  maxTokensOf?: (entry: T) => number;
  /** Tenant weights for fairness within each queue class (the tenant directory); default: even. */
  weightOf?: WeightOf;
}

/** What pools publish; the task service subscribes. */
export interface PoolEvents<T extends QueueEntry = QueueEntry> {
  /** A pool may have gained capacity (replica became ready, slot freed, drain ended). */
  capacity(pool: Pool<T>): void;
  /** A pool's unfinished tasks must end with a terminal error: the queued ones, or all. */
  endWork(pool: Pool<T>, scope: 'queued' | 'all', error: OrchError): void;
}

export interface PoolChanges {
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: string[];
}

export class PoolManager<T extends QueueEntry = QueueEntry> {
  readonly pools = new Map<string, Pool<T>>();
  private readonly probers = new Map<Replica, Prober>();
  private readonly drainTimers = new Map<Pool<T>, Timer>();
  private readonly reloading = new Set<string>();
  private readonly deps: PoolManagerDeps<T>;
  private readonly listeners = new Set<Partial<PoolEvents<T>>>();

  constructor(configs: readonly PoolConfig[], deps: PoolManagerDeps<T>) {
    this.deps = deps;
    for (const config of configs) {
      const pool = this.newPool(config);
      this.pools.set(config.id, pool);
      this.startProbers(pool, pool.replicas);
    }
  }

  /** Subscribes to pool events; returns the unsubscribe. */
  subscribe(listener: Partial<PoolEvents<T>>): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private capacity(pool: Pool<T>): void {
    for (const l of this.listeners) l.capacity?.(pool);
  }

  private endWork(pool: Pool<T>, scope: 'queued' | 'all', error: OrchError): void {
    for (const l of this.listeners) l.endWork?.(pool, scope, error);
  }

  private newPool(config: PoolConfig): Pool<T> {
    const { engines, newQueue, maxTokensOf, weightOf } = this.deps;
    return new Pool<T>(config, this.buildReplicas(config), {
      queue: newQueue ? newQueue(config) : new FairQueue<T>(queueOptions(config, weightOf)),
      priors: engines.speedPriors(config),
      ...(maxTokensOf ? { maxTokensOf: (entry: T) => maxTokensOf(entry) } : {}),
    });
  }

  /** Resolves a client-facing model name or alias; `engine` narrows the match. */
  resolve(model: string, engine?: string): Pool<T> | undefined {
    for (const pool of this.pools.values()) {
      if (engine !== undefined && pool.config.engine !== engine) continue;
      if (pool.config.model === model || pool.config.aliases.includes(model)) return pool;
    }
    return undefined;
  }

  get(id: string): Pool<T> | undefined {
    return this.pools.get(id);
  }

  list(): Pool<T>[] {
    return [...this.pools.values()];
  }

  /** Probes every replica once, now (start-up, reload). */
  async probeAll(): Promise<void> {
    await Promise.all([...this.probers.values()].map((p) => p.probeNow()));
  }

  /**
   * Stops new leases on the pool at once and ends what is still queued or running when the
   * deadline passes (queued work waits, so a reload before the deadline can still serve it).
   * Draining again moves the deadline; a reload ends the drain.
   */
  drain(id: string, deadlineMs: number): Result<{ deadlineAt: number }> {
    const pool = this.pools.get(id);
    if (!pool) return fail(orchError('NOT_FOUND', `unknown pool ${id}`, { field: 'pool_id' }));
    const { clock } = this.deps;
    pool.drain = { deadlineAt: clock.now() + deadlineMs, deadlineMono: clock.monotonic() + deadlineMs };
    for (const r of pool.replicas) r.draining = true;
    this.drainTimers.get(pool)?.cancel();
    const timer = clock.setTimer(deadlineMs, () => this.drainDeadline(pool));
    this.drainTimers.set(pool, timer);
    this.deps.logger.info({ pool_id: id, deadline_ms: deadlineMs }, 'pool draining');
    return ok({ deadlineAt: pool.drain.deadlineAt });
  }

  private drainDeadline(pool: Pool<T>): void {
    this.drainTimers.delete(pool);
    this.endWork(pool, 'all', drainingError(pool.id, 'the drain deadline passed'));
  }

  private endDrain(pool: Pool<T>): void {
    this.drainTimers.get(pool)?.cancel();
    this.drainTimers.delete(pool);
    pool.drain = undefined;
    for (const r of pool.replicas) r.draining = false;
  }

  /**
   * Rebuilds the pool's replicas (new adapters), probes them once and swaps them in when at
   * least one is ready; otherwise the new set is discarded and the old one keeps serving.
   * Running tasks finish on the replicas they started on. Ends a drain.
   */
  async reload(id: string): Promise<Result<Pool<T>>> {
    const pool = this.pools.get(id);
    if (!pool) return fail(orchError('NOT_FOUND', `unknown pool ${id}`, { field: 'pool_id' }));
    if (this.reloading.has(id)) return fail(orchError('CONFLICT', `a reload of pool ${id} is already in progress`));
    this.reloading.add(id);
    try {
      const fresh = this.buildReplicas(pool.config);
      bindVersionPolicy(pool.config, fresh);
      this.startProbers(pool, fresh);
      await Promise.all(fresh.map((r) => this.probers.get(r)?.probeNow()));
      if (!fresh.some((r) => r.serviceable)) {
        const why = fresh.map((r) => `${r.id}: ${r.versionMismatch() ?? r.lastError ?? r.state}`).join('; ');
        await this.discard(fresh);
        this.deps.logger.warn({ pool_id: id, why }, 'pool reload rolled back');
        return fail(orchError('POOL_UNREADY', `reload of pool ${id} rolled back: no new replica became ready (${why})`, {
          pool_id: id,
          retry_after_ms: pool.config.health.interval_ms,
        }));
      }
      this.swap(pool, fresh);
      this.endDrain(pool);
      this.capacity(pool);
      return ok(pool);
    } finally {
      this.reloading.delete(id);
    }
  }

  /**
   * Applies a validated configuration's pools: adds new ones, rebuilds changed ones in place
   * (queued work keeps its place), removes the rest. A removed pool takes no new work, its
   * queued tasks end at once with DRAINING, its running tasks finish on their replicas.
   * Every pool in the new configuration leaves any drain.
   */
  async apply(configs: readonly PoolConfig[]): Promise<PoolChanges> {
    const changes: PoolChanges = { added: [], removed: [], changed: [], unchanged: [] };
    const previous = new Map(this.pools);
    const started: Replica[] = [];
    this.pools.clear();
    for (const config of configs) {
      const pool = previous.get(config.id);
      previous.delete(config.id);
      if (pool === undefined) {
        const created = this.newPool(config);
        this.pools.set(config.id, created);
        this.startProbers(created, created.replicas);
        started.push(...created.replicas);
        changes.added.push(config.id);
        continue;
      }
      this.pools.set(config.id, pool);
      this.endDrain(pool);
      if (JSON.stringify(pool.config) === JSON.stringify(config)) {
        changes.unchanged.push(config.id);
        continue;
      }
      pool.config = config;
      pool.queue.setOptions(queueOptions(config, this.deps.weightOf));
      const fresh = this.buildReplicas(config);
      this.startProbers(pool, fresh);
      this.swap(pool, fresh);
      started.push(...fresh);
      changes.changed.push(config.id);
    }
    for (const pool of previous.values()) {
      this.remove(pool);
      changes.removed.push(pool.id);
    }
    await Promise.all(started.map((r) => this.probers.get(r)?.probeNow()));
    for (const pool of this.pools.values()) this.capacity(pool);
    return changes;
  }

  private remove(pool: Pool<T>): void {
    this.endDrain(pool);
    pool.retired = true;
    this.endWork(pool, 'queued', drainingError(pool.id, 'the pool was removed from the configuration'));
    void this.discard(pool.replicas);
  }

  private swap(pool: Pool<T>, fresh: Replica[]): void {
    const old = pool.replicas;
    pool.setReplicas(fresh);
    void this.discard(old);
  }

  /** Stops probing the replicas and closes their adapters once their running work is done. */
  private async discard(replicas: readonly Replica[]): Promise<void> {
    for (const r of replicas) {
      this.probers.get(r)?.stop();
      this.probers.delete(r);
    }
    await Promise.all(replicas.map((r) => r.retire().catch((err: unknown) => this.deps.logger.warn({ err, replica_id: r.id }, 'adapter close failed'))));
  }

  async close(): Promise<void> {
    for (const timer of this.drainTimers.values()) timer.cancel();
    this.drainTimers.clear();
    const replicas = [...this.probers.keys()];
    for (const prober of this.probers.values()) prober.stop();
    this.probers.clear();
    await Promise.all(replicas.map((r) => r.adapter.close()));
  }

  private buildReplicas(config: PoolConfig): Replica[] {
    return config.replicas.map(
      (rc) =>
        new Replica({
          pool: config,
          config: rc,
          adapter: this.deps.engines.createAdapter(config, rc),
          clock: this.deps.clock,
          defaultSlots: this.deps.engines.defaultSlots(config.engine),
        }),
    );
  }

  private startProbers(pool: Pool<T>, replicas: readonly Replica[]): void {
    const config = pool.config;
    for (const replica of replicas) {
      const prober = startProber(replica, {
        intervalMs: config.health.interval_ms,
        maxBackoffMs: config.health.max_backoff_ms,
        timeoutMs: Math.max(config.timeouts.connect_ms, 1_000),
        logger: this.deps.logger.child({ pool_id: config.id }),
        clock: this.deps.probeClock ?? this.deps.clock,
        failuresToLeaveReady: config.health.breaker_failures,
        onChange: () => {
          if (pool.replicas.includes(replica)) this.capacity(pool);
        },
      });
      this.probers.set(replica, prober);
    }
  }
}

function drainingError(poolId: string, why: string): OrchError {
  return orchError('DRAINING', `pool ${poolId} is draining: ${why}`, { pool_id: poolId, retry_after_ms: 1_000 });
}
