// A pool: replicas of one model on one engine kind, its fair queue, its service statistics and
// its drain state. Owns no timers itself; probers, the pool manager and the dispatcher act on it.

import type { PoolConfig } from '../config/schema.ts';
import type { components } from '../generated/api-types.ts';
import { backoffDispatches, backoffMs, expectedRemainingTokens, predictStartMs, ServiceStats, type ServicePriors, type SlotGroup } from '../core/admission/predict.ts';
import { orchError, type OrchError } from '../core/errors.ts';
import { everPlaceable, type PlacementJob, type ReplicaView } from '../core/placement/decide.ts';
import { FairQueue, type FairQueueOptions, type QueueEntry } from '../core/queue/fair-queue.ts';
import type { WeightOf } from '../core/queue/tenant-lanes.ts';
import type { TaskQueue } from '../core/state-ports.ts';
import type { ExpectedVersion, Replica, ReplicaStatus } from './replica.ts';

/** A pool's summary as the contract states it (GET /v1/pools): the generated type, not a copy. */
export type PoolStatus = components['schemas']['PoolSummary'];

export type Replacement = { kind: 'elsewhere' } | { kind: 'same' } | { kind: 'none'; retryAfterMs: number };

export interface DrainState {
  /** Wall-clock ms (for the API) and monotonic ms (for decisions) of the deadline. */
  deadlineAt: number;
  deadlineMono: number;
}

export interface PoolOptions<T extends QueueEntry> {
  /** The queue port (default: the in-memory FairQueue). */
  queue?: TaskQueue<T>;
  /** Speed expectations before the pool has measured itself (EngineCatalog.speedPriors). */
  priors?: Partial<ServicePriors>;
  /**
   * A queued entry's max_tokens, for start predictions; without it a queued task counts as the
   * measured average. Method syntax on purpose: a Pool<Task> must stay usable as a Pool.
   */
  maxTokensOf?(entry: T): number;
}

export class Pool<T extends QueueEntry = QueueEntry> {
  readonly id: string;
  config: PoolConfig;
  replicas: Replica[] = [];
  readonly queue: TaskQueue<T>;
  readonly stats: ServiceStats;
  /** Tasks that failed before their first token and wait to be re-placed ahead of the queue. */
  readonly retry: T[] = [];
  drain: DrainState | undefined;
  /** Removed from the configuration: takes no work, finishes what runs. */
  retired = false;

  private readonly options: PoolOptions<T>;

  constructor(config: PoolConfig, replicas: Replica[], opts: PoolOptions<T> = {}) {
    this.id = config.id;
    this.config = config;
    this.queue = opts.queue ?? new FairQueue<T>(queueOptions(config));
    this.stats = new ServiceStats({ priors: opts.priors ?? {} });
    this.options = opts;
    this.setReplicas(replicas);
  }

  /** Installs a replica set (construction, reload): the set judges its own engine versions. */
  setReplicas(replicas: Replica[]): void {
    this.replicas = replicas;
    bindVersionPolicy(this.config, replicas);
  }

  get draining(): boolean {
    return this.drain !== undefined || this.retired;
  }

  /** Some replica could take a task now (load aside) and its breaker is closed (half-open is not ready). */
  get ready(): boolean {
    return !this.draining && this.replicas.some((r) => r.ready);
  }

  /** Could work ever start here without operator action (some replica ready or coming up)? */
  get live(): boolean {
    return this.replicas.some((r) => r.state !== 'failed');
  }

  /** Slots of replicas that are up and run the expected engine version. */
  get slotsTotal(): number {
    let n = 0;
    for (const r of this.replicas) if (r.effectiveState === 'ready' && r.versionOk) n += r.slotsTotal;
    return n;
  }

  get slotsBusy(): number {
    let n = 0;
    for (const r of this.replicas) n += r.slotsBusy;
    return n;
  }

  replica(id: string): Replica | undefined {
    return this.replicas.find((r) => r.id === id);
  }

  views(): ReplicaView[] {
    return this.replicas.map((r) => r.view());
  }

  /**
   * Predicted wait until the task at `position` of the fair queue (0-based, dispatch order; the
   * re-placements waiting ahead of the queue count too) starts, from the running leases' remaining tokens, the queued tasks'
   * lengths and each replica's speed (issue 10 finding 9). Infinity when no slot is up.
   */
  predictStartMs(position: number): number {
    const at = this.retry.length + position;
    // Nothing ahead and a slot free: the model below answers 0 too, without being built (per admission).
    if (at === 0 && this.slotFree()) return 0;
    return predictStartMs({ groups: this.predictionGroups(at + 1), queued: this.queuedTokens(at), position: at });
  }

  /** Retry hint for work a full queue turned away: until a dispatch frees a place. */
  queueBackoffMs(): number {
    const waiting = this.retry.length + this.queue.size;
    const maxQueued = this.config.queue.max_queued;
    // Within capacity, one dispatch makes room; with a slot free it is now: the model's floor of 1 ms.
    if (waiting <= maxQueued && this.slotFree()) return 1;
    // Within capacity that one dispatch is the first lease to end, whatever waits: the queue is
    // walked only when it is over capacity (after a shrinking reload), where the waiting tasks'
    // lengths decide when enough dispatches have happened. Once per refusal (issue 14).
    const queued = waiting > maxQueued ? this.queuedTokens(Number.POSITIVE_INFINITY) : [];
    const ms = backoffMs({ groups: this.predictionGroups(backoffDispatches(waiting, maxQueued)), queued, maxQueued, fallbackMs: Number.POSITIVE_INFINITY });
    // With nothing to go on (no slot up, no usable speed) the honest wait is the replicas' recovery, read only then.
    return Number.isFinite(ms) ? ms : this.recoveryMs();
  }

  /** Slots free now on replicas that can take work. */
  freeSlots(): number {
    let free = 0;
    for (const r of this.replicas) if (r.effectiveState === 'ready' && r.versionOk) free += Math.max(0, r.slotsTotal - r.slotsBusy);
    return free;
  }

  /** A replica the predictions count (up, expected version) has a slot no lease holds. */
  private slotFree(): boolean {
    return this.replicas.some((r) => r.effectiveState === 'ready' && r.versionOk && r.slotsBusy < r.slotsTotal);
  }

  /**
   * What `dispatches` dispatches of the prediction model can reach, the same figures as
   * slotGroups() gives (issue 14). With one replica up, only its `dispatches` leases of each kind
   * with the least left can be reached (its slots are alike, so which of two equal times goes
   * first does not matter): they come from its tally, and its free slots stay as many. With
   * several replicas of different speeds the model's order among equal times decides which
   * replica serves which queued task, so every lease is read as before.
   */
  private predictionGroups(dispatches: number): SlotGroup[] {
    let up: Replica | undefined;
    for (const r of this.replicas) {
      if (r.effectiveState !== 'ready' || !r.versionOk) continue;
      if (up !== undefined) return this.slotGroups();
      up = r;
    }
    if (up === undefined) return [];
    const { fill, ttftMs } = this.stats;
    const running = up.tally.soonest(dispatches, fill);
    const free = Math.max(0, up.slotsTotal - up.tally.size);
    return [{ slotsTotal: running.length + free, running, tokensPerS: up.tokensPerS ?? this.stats.tokensPerS, ttftMs }];
  }

  /** What the predictions see of each replica that is up: its slots, running work and speed (every lease). */
  slotGroups(): SlotGroup[] {
    const { fill, ttftMs } = this.stats;
    return this.replicas
      .filter((r) => r.effectiveState === 'ready' && r.versionOk)
      .map((r) => ({
        slotsTotal: r.slotsTotal,
        running: r.running.map((w) => {
          const out = w.tokensOut();
          return { remainingTokens: expectedRemainingTokens(w.maxTokens, out, fill), firstTokenSeen: out > 0 };
        }),
        tokensPerS: r.tokensPerS ?? this.stats.tokensPerS,
        ttftMs,
      }));
  }

  /** Expected tokens of up to `limit` waiting tasks, in dispatch order. */
  private queuedTokens(limit: number): number[] {
    const { fill, tokensPerS, ttftMs, avgServiceMs } = this.stats;
    const unknownLength = Math.max(1, ((avgServiceMs - ttftMs) * tokensPerS) / 1000);
    const tokens: number[] = [];
    for (const list of [this.retry, this.queue]) {
      for (const entry of list) {
        if (tokens.length >= limit) return tokens;
        const maxTokens = this.options.maxTokensOf?.(entry);
        tokens.push(maxTokens === undefined ? unknownLength : expectedRemainingTokens(maxTokens, 0, fill));
      }
    }
    return tokens;
  }

  /** Why no new work can start here: overload (with the earliest retry) or no ready replica. */
  unreadyError(): OrchError {
    const up = this.replicas.filter((r) => r.effectiveState === 'ready' && r.versionOk);
    if (up.length > 0 && up.every((r) => r.exhausted)) {
      const waitMs = Math.min(...up.map((r) => r.exhaustedForMs));
      return orchError('REPLICA_EXHAUSTED', `every replica of pool ${this.id} reported overload`, {
        pool_id: this.id,
        engine: this.config.engine,
        retry_after_ms: Math.max(1, Math.ceil(waitMs)),
      });
    }
    return orchError('POOL_UNREADY', `pool ${this.id} has no ready replica`, { pool_id: this.id, retry_after_ms: this.recoveryMs(up) });
  }

  /**
   * When every replica that is up waits out its provider's spent rate-limit budget: the wait
   * until the first reset (issue 13 item 5). Undefined when any of them could serve or is held
   * back for another reason (overload, breaker, no replica up).
   */
  rateLimitedForMs(): number | undefined {
    const up = this.replicas.filter((r) => r.effectiveState === 'ready' && r.versionOk);
    if (up.length === 0 || !up.every((r) => r.rateLimited)) return undefined;
    return Math.max(1, Math.ceil(Math.min(...up.map((r) => r.exhaustedForMs))));
  }

  /**
   * The honest wait before one of `up` (engines that answer their probes) may serve again: an
   * open breaker's remaining time, or one probe interval (a half-open breaker's trial probe, or
   * an engine not answering yet). At least 1 ms.
   */
  recoveryMs(up: readonly Replica[] = this.replicas.filter((r) => r.effectiveState === 'ready' && r.versionOk)): number {
    const interval = this.config.health.interval_ms;
    const waits = up.map((r) => (r.breakerOpenForMs > 0 ? r.breakerOpenForMs : interval));
    return Math.max(1, Math.ceil(waits.length > 0 ? Math.min(...waits) : interval));
  }

  /**
   * Where a task that failed before its first token on `failed` may run again (finding 8 of
   * issue 10): `elsewhere` when another replica can take it now; `same` when none can but
   * `failed` (or any replica, once recovered) may: it serves now, or the task's deadline outlasts
   * its open breaker, so the task waits for recovery within its deadline; else `none`: the task
   * should end at once with the honest wait as its retry hint instead of waiting out an outage.
   */
  replacement(failed: Replica, job: PlacementJob, deadlineLeftMs: number | undefined): Replacement {
    if (everPlaceable(this.views(), { ...job, exclude: [...(job.exclude ?? []), failed.id] })) return { kind: 'elsewhere' };
    if (failed.serviceable) return { kind: 'same' };
    // An overloaded or rate-limited replica is back after its back-off, a faulty one after its breaker.
    const backMs = Math.max(failed.breakerOpenForMs, failed.exhaustedForMs);
    if (deadlineLeftMs !== undefined && deadlineLeftMs > backMs) return { kind: 'same' };
    return { kind: 'none', retryAfterMs: failed.exhausted ? Math.max(1, Math.ceil(backMs)) : this.recoveryMs([failed]) };
  }

  status(): PoolStatus {
    const expected = expectedVersion(this.config, this.replicas);
    const lastError = this.replicas.map((r) => r.status().last_error).find((e) => e !== undefined);
    return {
      id: this.id,
      engine: this.config.engine,
      model: this.config.model,
      aliases: this.config.aliases,
      live: this.live,
      ready: this.ready,
      draining: this.draining,
      ...(expected ? { engine_version: expected.version } : {}),
      slots: { total: this.slotsTotal, busy: this.slotsBusy },
      queue: {
        depth: this.queue.size,
        interactive: this.queue.sizeOf('interactive'),
        batch: this.queue.sizeOf('batch'),
        max_queued: this.config.queue.max_queued,
        policy: this.config.queue.policy,
      },
      ...(lastError ? { last_error: lastError } : {}),
    };
  }

  replicaStatuses(): ReplicaStatus[] {
    return this.replicas.map((r) => r.status());
  }
}

/**
 * The version replicas must run: the config pin; else, with `require_same_engine_version`, the
 * one most replicas report (a tie goes to the version reported first); else, for reporting, the
 * one version every reporting replica agrees on.
 */
export function expectedVersion(config: PoolConfig, replicas: readonly Replica[]): ExpectedVersion | undefined {
  if (config.engine_version !== undefined) return { version: config.engine_version, source: 'pinned' };
  const counts = new Map<string, { n: number; first: number }>();
  for (const r of replicas) {
    if (r.engineVersion === undefined) continue;
    const seen = counts.get(r.engineVersion) ?? { n: 0, first: Number.POSITIVE_INFINITY };
    counts.set(r.engineVersion, { n: seen.n + 1, first: Math.min(seen.first, r.versionSeq ?? Number.POSITIVE_INFINITY) });
  }
  let best: [string, { n: number; first: number }] | undefined;
  for (const entry of counts) {
    if (best === undefined || entry[1].n > best[1].n || (entry[1].n === best[1].n && entry[1].first < best[1].first)) best = entry;
  }
  if (best === undefined) return undefined;
  if (!config.require_same_engine_version && counts.size > 1) return undefined;
  return { version: best[0], source: 'peers' };
}

/** Makes each replica judge its engine version against this set (pin or peers). */
export function bindVersionPolicy(config: PoolConfig, replicas: readonly Replica[]): void {
  // Without a pin or require_same_engine_version, any version is acceptable.
  const enforced = config.engine_version !== undefined || config.require_same_engine_version;
  for (const r of replicas) r.expectedVersion = enforced ? () => expectedVersion(config, replicas) : () => undefined;
}

/** The queue options a pool's config gives; tenant weights come from the tenant directory. */
export function queueOptions(config: PoolConfig, weightOf?: WeightOf): FairQueueOptions {
  return {
    maxQueued: config.queue.max_queued,
    policy: config.queue.policy,
    interactiveWeight: config.queue.interactive_weight,
    batchWeight: config.queue.batch_weight,
    ...(weightOf ? { weightOf } : {}),
  };
}
