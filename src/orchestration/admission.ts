// The shell side of admission: builds the plain-data snapshot that core's pure `admit` reads
// (pools, queue, forecasts, session standing, idempotency, audit gate). Reading only: nothing
// here changes state; the task service applies the plan. A snapshot is read by `admit` in the
// same synchronous step that takes it; its forecasts are computed on first read (see lazyForecast).

import type { Config } from '../config/schema.ts';
import type { AdmissionRequest, AdmissionSnapshot, PoolSnapshot } from '../core/admission/admit.ts';
import type { IdempotencyStore, SessionStore } from '../core/state-ports.ts';
import type { QuotaStanding } from '../core/tenancy/quota.ts';
import type { Pool } from '../pool/pool.ts';
import type { PoolManager } from '../pool/pool-manager.ts';
import type { Task } from './task.ts';

export function poolSnapshot(pool: Pool<Task>): PoolSnapshot {
  // Loops and assignments, not filter/map/spread: one snapshot per candidate pool per admission (issue 14).
  let ctxMax = 0;
  let deterministic = true;
  for (const r of pool.replicas) {
    if (r.state === 'ready' && r.ctxMax > ctxMax) ctxMax = r.ctxMax;
    if (!r.adapter.capabilities.deterministic) deterministic = false;
  }
  const { queue, config } = pool;
  const snapshot: PoolSnapshot = {
    id: pool.id,
    engine: config.engine,
    model: config.model,
    aliases: config.aliases,
    draining: pool.draining,
    fallbacks: config.fallbacks,
    fallbackOnNoCapacity: config.fallback_on_no_capacity,
    ctxMax,
    deterministic,
    replicas: pool.views(),
    healthIntervalMs: config.health.interval_ms,
    queue: {
      size: queue.size,
      interactive: queue.sizeOf('interactive'),
      batch: queue.sizeOf('batch'),
      maxQueued: config.queue.max_queued,
      policy: config.queue.policy,
      freeSlots: pool.freeSlots(),
    },
    forecast: lazyForecast(pool),
    costPer1kTokens: config.cost_per_1k_tokens,
  };
  if (!pool.ready) snapshot.unready = pool.unreadyError();
  const rateLimitedForMs = pool.rateLimitedForMs();
  if (rateLimitedForMs !== undefined) snapshot.rateLimitedForMs = rateLimitedForMs;
  return snapshot;
}

/**
 * The pool's predictions, each computed on first read and kept: both walk the running leases and
 * the queue, and an admission needs its start while a refusal from a full queue needs only the
 * backoff (issue 14: the 429 path). Like the rest of the snapshot they are meant to be read in
 * the synchronous step that took it, when first read and taken are the same pool state. A class,
 * not an object literal with getters: the literal built two closures and a fresh map per snapshot.
 */
class LazyForecast implements ForecastView {
  readonly #pool: Pool<Task>;
  #startMs: number | undefined;
  #backoffMs: number | undefined;
  readonly tokensPerS: number;
  readonly ttftMs: number;

  constructor(pool: Pool<Task>) {
    this.#pool = pool;
    this.tokensPerS = pool.stats.tokensPerS;
    this.ttftMs = pool.stats.ttftMs;
  }

  get startMs(): number {
    return (this.#startMs ??= this.#pool.predictStartMs(this.#pool.queue.size));
  }

  get backoffMs(): number {
    return (this.#backoffMs ??= this.#pool.queueBackoffMs());
  }
}

type ForecastView = PoolSnapshot['forecast'];

function lazyForecast(pool: Pool<Task>): ForecastView {
  return new LazyForecast(pool);
}

export interface SnapshotSources {
  config: Config;
  pools: PoolManager<Task>;
  sessions: SessionStore;
  idempotency: IdempotencyStore;
  /** Whether a task with this id is still held (retained or running). */
  holds: (taskId: string) => boolean;
  auditAccepting: () => boolean;
  /** The caller's quota standing (src/tenancy/quota-gate.ts); absent when no tenancy is wired. */
  quota?: () => QuotaStanding;
}

/**
 * Everything `admit` reads, taken in one synchronous pass. Only pools serving the requested
 * model (by name or alias) are snapshotted, and the fallbacks of those that fall back at
 * admission: resolution among them (engine, fallback order) stays in core.
 */
export function admissionSnapshot(req: AdmissionRequest & { chat?: unknown }, digest: string, src: SnapshotSources): AdmissionSnapshot {
  const { server, audit } = src.config;
  const snapshot: AdmissionSnapshot = {
    idempotency: req.task_id === undefined ? { kind: 'new' } : src.idempotency.check(req.task_id, digest),
    taskIdInUse: req.task_id !== undefined && src.holds(req.task_id),
    auditAccepting: !audit.fail_closed || src.auditAccepting(),
    pools: candidatePools(src.pools, req.model, req.chat !== undefined).map(poolSnapshot),
    limits: { maxTokensLimit: server.max_tokens_limit, maxPromptChars: server.max_prompt_chars },
  };
  if (req.session_id !== undefined) snapshot.session = src.sessions.standing(req.session_id);
  if (src.quota) snapshot.quota = src.quota();
  return snapshot;
}

/** A conversation only falls back to pools whose every replica speaks chat. */
function candidatePools(pools: PoolManager<Task>, model: string, chat: boolean): Pool<Task>[] {
  const live = pools.list().filter((p) => !p.retired);
  const serving = live.filter((p) => p.config.model === model || p.config.aliases.includes(model));
  // The usual case, no pool that falls back at admission: the serving pools are all (issue 14).
  if (!serving.some((p) => p.config.fallback_on_no_capacity && p.config.fallbacks.length > 0)) return serving;
  const fallbackIds = new Set(serving.filter((p) => p.config.fallback_on_no_capacity).flatMap((p) => p.config.fallbacks));
  const speaks = (p: Pool<Task>) => !chat || p.replicas.every((r) => r.adapter.capabilities.chat !== undefined);
  return [...serving, ...live.filter((p) => fallbackIds.has(p.id) && !serving.includes(p) && speaks(p))];
}
