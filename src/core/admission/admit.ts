// Admission as one pure function (ARCHITECTURE §3): a validated request and a snapshot of the
// state it depends on → the plan to apply, or the first refusal in the documented order:
// idempotency → audit gate → model/pool → capability → placement → session → tenant quota →
// deadline → queue.
// It reads plain data only and changes nothing; the shell applies the plan (holds the session
// turn, offers the queue) in the same synchronous step, and confirms it after the audit commit.

import { fail, ok, orchError, type ErrorCode, type OrchError, type Result } from '../errors.ts';
import { everPlaceable, type PlacementJob, type ReplicaView } from '../placement/decide.ts';
import type { Priority } from '../task/events.ts';
import type { SessionStanding } from '../session/session-record.ts';
import { quotaRefusal, quotaReservation, type QuotaAsk, type QuotaReservation, type QuotaStanding } from '../tenancy/quota.ts';
import { checkCapability, checkDeadline, estimatePromptTokens } from './checks.ts';
import type { IdempotencyCheck } from './idempotency.ts';
import { predictFinishMs } from './predict.ts';

/** The part of a validated task request admission reads. */
export interface AdmissionRequest {
  model: string;
  prompt: string;
  max_tokens: number;
  task_id?: string;
  session_id?: string;
  priority?: Priority;
  deadline_ms?: number;
  seed?: number;
  engine?: string;
  placement?: {
    pin?: string;
    prefer?: string[];
    avoid?: string[];
    allow_fallback?: boolean;
    accelerator?: 'nvidia' | 'cpu';
  };
}

export interface PoolSnapshot {
  id: string;
  engine: string;
  model: string;
  aliases: readonly string[];
  draining: boolean;
  /** Why no work can start now (no ready replica, all overloaded); undefined when ready. */
  unready?: OrchError;
  /**
   * Every replica up waits out its provider's spent rate-limit budget: the wait until the first
   * reset (issue 13 item 5). Admission answers 429 with it instead of queueing a request bound to fail.
   */
  rateLimitedForMs?: number;
  /** Pools that take this pool's work it cannot place (issue 13 item 6), in order. */
  fallbacks: readonly string[];
  /** Also at admission, when this pool has no capacity (no ready replica, rate limit, full queue). */
  fallbackOnNoCapacity: boolean;
  /** Largest context among ready replicas. */
  ctxMax: number;
  deterministic: boolean;
  replicas: readonly ReplicaView[];
  healthIntervalMs: number;
  /**
   * `freeSlots`: slots free now. As many queued entries take them at once — entries still waiting
   * for their admission commit, which the dispatcher cannot place yet — so they do not fill the
   * queue's places (absent: 0).
   */
  queue: { size: number; interactive: number; batch: number; maxQueued: number; policy: 'reject' | 'drop-lru'; freeSlots?: number };
  /** Predictions for a newcomer, from the pool's measured state (src/core/admission/predict.ts). */
  forecast: { startMs: number; backoffMs: number; tokensPerS: number; ttftMs: number };
  /** Cost units per 1000 tokens, charged to cost budgets (absent: 0). */
  costPer1kTokens?: number;
}

export interface AdmissionSnapshot {
  /** The idempotency store's answer for the request's task_id ('new' without one). */
  idempotency: IdempotencyCheck;
  /** A task with this task_id is still held although its key is not remembered. */
  taskIdInUse: boolean;
  /** false with `audit.fail_closed` while the store cannot record admissions. */
  auditAccepting: boolean;
  pools: readonly PoolSnapshot[];
  limits: { maxTokensLimit: number; maxPromptChars: number };
  /** Where the named session stands (only when the request names one). */
  session?: SessionStanding;
  /** The caller's tenant and key quota standing (step 7; absent: no limits apply). */
  quota?: QuotaStanding;
}

export interface AdmissionPlan {
  poolId: string;
  job: PlacementJob;
  promptTokens: number;
  predictedStartMs: number;
  /** The session turn to hold now and confirm after the commit. */
  session?: { id: string; maxTokens: number };
  affinity?: { replica_id: string; slot_id?: number };
  /** drop-lru: admitting this task evicts the oldest entry of the lowest waiting class. */
  evicts: boolean;
  /** Quota counts to reserve now and settle when the task ends. */
  quota?: QuotaReservation;
  /** Admitted into a fallback because the requested pool had no capacity: that pool and its refusal. */
  fallbackFrom?: { poolId: string; code: ErrorCode };
}

export type AdmissionDecision = { kind: 'replay'; answer: unknown } | { kind: 'admit'; plan: AdmissionPlan };

export function placementJob(req: AdmissionRequest, affinityReplicaId?: string): PlacementJob {
  const p = req.placement;
  return {
    promptTokens: estimatePromptTokens(req.prompt.length),
    maxTokens: req.max_tokens,
    affinityReplicaId,
    pin: p?.pin,
    prefer: p?.prefer,
    avoid: p?.avoid,
    allowFallback: p?.allow_fallback ?? false,
    accelerator: p?.accelerator,
  };
}

export function admit(snapshot: AdmissionSnapshot, req: AdmissionRequest): Result<AdmissionDecision> {
  const idem = snapshot.idempotency;
  if (req.task_id !== undefined && idem.kind === 'conflict') {
    return fail(orchError('CONFLICT', `task_id ${req.task_id} was already used with a different body`, { field: 'task_id' }));
  }
  if (req.task_id !== undefined && idem.kind === 'new' && snapshot.taskIdInUse) {
    // Held by a task whose first answer is not remembered: one still being admitted (the same
    // body sent twice at once), or one whose remembered answer was forgotten while it is retained.
    return fail(orchError('CONFLICT', `task_id ${req.task_id} is in use by a task whose first answer is not known yet (still being admitted) or no longer remembered`, { field: 'task_id' }));
  }
  if (idem.kind === 'replay') return ok({ kind: 'replay', answer: idem.answer });
  if (!snapshot.auditAccepting) {
    return fail(orchError('AUDIT_UNAVAILABLE', 'the audit store cannot record admissions right now', { retry_after_ms: 1_000 }));
  }
  const resolved = resolvePool(snapshot.pools, req);
  if (!resolved.ok) return resolved;
  const primary = resolved.value;
  const planned = planFor(snapshot, req, primary);
  if (planned.ok || !fallsBack(primary, req, planned.error)) return planned.ok ? ok({ kind: 'admit', plan: planned.value }) : planned;
  for (const id of primary.fallbacks) {
    const pool = snapshot.pools.find((p) => p.id === id);
    if (pool === undefined || pool.draining) continue;
    const there = planFor(snapshot, req, pool);
    if (there.ok) return ok({ kind: 'admit', plan: { ...there.value, fallbackFrom: { poolId: primary.id, code: planned.error.code } } });
  }
  return planned;
}

/** A refusal for want of capacity, on a pool that hands such work to its fallbacks; replica names never carry over. */
function fallsBack(pool: PoolSnapshot, req: AdmissionRequest, error: OrchError): boolean {
  const p = req.placement;
  if (!pool.fallbackOnNoCapacity || p?.pin !== undefined || (p?.prefer?.length ?? 0) > 0 || (p?.avoid?.length ?? 0) > 0) return false;
  if (error.code === 'RATE_LIMITED') return error.policy_label === 'provider_rate_limit';
  return error.pool_id === pool.id && (error.code === 'POOL_UNREADY' || error.code === 'REPLICA_EXHAUSTED' || error.code === 'ADMISSION_REJECT');
}

/** Steps 4 (capacity) to 9 on one pool: the plan, or the first refusal. */
function planFor(snapshot: AdmissionSnapshot, req: AdmissionRequest, pool: PoolSnapshot): Result<AdmissionPlan> {
  const capacity = capacityOf(pool);
  if (!capacity.ok) return capacity;
  const capability = checkCapability(
    { max_tokens: req.max_tokens, prompt_chars: req.prompt.length, ...(req.seed !== undefined ? { seed: req.seed } : {}) },
    { ctxMax: pool.ctxMax, maxTokensLimit: snapshot.limits.maxTokensLimit, maxPromptChars: snapshot.limits.maxPromptChars, deterministic: pool.deterministic },
  );
  if (!capability.ok) return fail({ ...capability.error, pool_id: pool.id });
  const placement = checkPlacement(pool, req);
  if (!placement.ok) return placement;
  const session = checkSession(snapshot.session, req, pool.id);
  if (!session.ok) return session;
  const affinity = session.value;
  const job = affinity === undefined ? placement.value : placementJob(req, affinity.replica_id);
  const { forecast } = pool;
  const quota = snapshot.quota === undefined ? undefined : { standing: snapshot.quota, ask: askOf(snapshot, req, job, pool) };
  const overQuota = quota === undefined ? undefined : quotaRefusal(quota.standing, quota.ask);
  if (overQuota !== undefined) return fail(overQuota);
  if (req.deadline_ms !== undefined) {
    const finish = predictFinishMs({ startMs: forecast.startMs, maxTokens: req.max_tokens, tokensPerS: forecast.tokensPerS, ttftMs: forecast.ttftMs });
    const deadline = checkDeadline({ deadline_ms: req.deadline_ms, predictedStartMs: forecast.startMs, predictedFinishMs: finish });
    if (!deadline.ok) return fail({ ...deadline.error, pool_id: pool.id });
  }
  const room = queueRoom(pool, req.priority ?? 'interactive');
  if (room === 'full') {
    return fail(orchError('ADMISSION_REJECT', `pool ${pool.id} queue is full (${pool.queue.maxQueued} waiting)`, {
      pool_id: pool.id,
      retry_after_ms: forecast.backoffMs,
      policy_label: pool.queue.policy,
    }));
  }
  return ok({
    poolId: pool.id,
    job,
    promptTokens: job.promptTokens,
    predictedStartMs: forecast.startMs,
    ...(req.session_id !== undefined ? { session: { id: req.session_id, maxTokens: req.max_tokens } } : {}),
    ...(affinity ? { affinity } : {}),
    evicts: room === 'evict',
    // Built only now: a refusal further up, from a full queue above all, reserves nothing (issue 14).
    ...(quota ? { quota: quotaReservation(quota.standing, quota.ask) } : {}),
  });
}

/** What step 7 weighs against the caller's quotas; a limit with no fixed reset (concurrency, queue) backs off by the pool's forecast. */
function askOf(snapshot: AdmissionSnapshot, req: AdmissionRequest, job: PlacementJob, pool: PoolSnapshot): QuotaAsk {
  const budgetTokens = job.promptTokens + req.max_tokens;
  const { backoffMs } = pool.forecast;
  return {
    maxTokens: req.max_tokens,
    budgetTokens,
    budgetCost: (budgetTokens * (pool.costPer1kTokens ?? 0)) / 1000,
    newSession: snapshot.session?.kind === 'new',
    backoffMs: Number.isFinite(backoffMs) ? backoffMs : 1_000,
  };
}

function resolvePool(pools: readonly PoolSnapshot[], req: AdmissionRequest): Result<PoolSnapshot> {
  const serves = (p: PoolSnapshot) => p.model === req.model || p.aliases.includes(req.model);
  const pool = pools.find((p) => serves(p) && (req.engine === undefined || p.engine === req.engine));
  if (!pool) {
    return pools.some(serves)
      ? fail(orchError('INVALID_PARAMS', `model ${req.model} is not served by engine ${req.engine}`, { field: 'engine' }))
      : fail(orchError('INVALID_PARAMS', `unknown model ${req.model}`, { field: 'model' }));
  }
  if (pool.draining) return fail(orchError('DRAINING', `pool ${pool.id} is draining and takes no new work`, { pool_id: pool.id, retry_after_ms: 5_000 }));
  return ok(pool);
}

/** The pool can start work: its provider's budget is not spent and some replica is ready. */
function capacityOf(pool: PoolSnapshot): Result<void> {
  if (pool.rateLimitedForMs !== undefined) {
    return fail(orchError('RATE_LIMITED', `the provider behind pool ${pool.id} reports its rate-limit budget spent; retry after its reset`, {
      pool_id: pool.id,
      engine: pool.engine,
      retry_after_ms: pool.rateLimitedForMs,
      policy_label: 'provider_rate_limit',
    }));
  }
  if (pool.unready) return fail(pool.unready);
  return ok(undefined);
}

/** The request's placement job (no affinity), once its named replicas exist and some replica could ever take it. */
function checkPlacement(pool: PoolSnapshot, req: AdmissionRequest): Result<PlacementJob> {
  const p = req.placement;
  // Without placement constraints there are no names to check (the usual request, and every refusal of a burst: issue 14).
  if (p !== undefined) {
    const unknown = unknownReplica(pool, p);
    if (unknown !== undefined) return fail(orchError('INVALID_PARAMS', `unknown replica ${unknown.id} in pool ${pool.id}`, { field: unknown.field, pool_id: pool.id }));
  }
  const job = placementJob(req);
  if (everPlaceable(pool.replicas, job)) return ok(job);
  // ORCH-0505: a pin that cannot be honoured, without allow_fallback, is REPLICA_EXHAUSTED.
  const pinned = p?.pin !== undefined && p.allow_fallback !== true;
  const message = pinned ? `pinned replica ${p?.pin} of pool ${pool.id} cannot take the task` : `no ready replica of pool ${pool.id} satisfies the placement constraints`;
  return fail(orchError(pinned ? 'REPLICA_EXHAUSTED' : 'POOL_UNREADY', message, { pool_id: pool.id, retry_after_ms: pool.healthIntervalMs }));
}

/** The first replica named by pin, prefer or avoid (in that order) that the pool does not have. */
function unknownReplica(pool: PoolSnapshot, p: NonNullable<AdmissionRequest['placement']>): { field: string; id: string } | undefined {
  const ids = new Set(pool.replicas.map((r) => r.id));
  const lists = [['placement.pin', p.pin === undefined ? [] : [p.pin]], ['placement.prefer', p.prefer ?? []], ['placement.avoid', p.avoid ?? []]] as const;
  for (const [field, list] of lists) {
    const id = list.find((name) => !ids.has(name));
    if (id !== undefined) return { field, id };
  }
  return undefined;
}

/**
 * Session step: expiry, the session cap for a new id, then the token budget before the other
 * used-up limits (an expired or new session has no budget to check yet).
 */
function checkSession(standing: SessionStanding | undefined, req: AdmissionRequest, poolId: string): Result<{ replica_id: string; slot_id?: number } | undefined> {
  if (req.session_id === undefined || standing === undefined) return ok(undefined);
  const id = req.session_id;
  if (standing.kind === 'expired') return fail(orchError('SESSION_EXPIRED', `session ${id} has expired`));
  if (standing.kind === 'new') {
    if (standing.room) return ok(undefined);
    const message = `session limit reached (${standing.limit} live sessions); retry later or delete unused sessions`;
    return fail(orchError('RATE_LIMITED', message, standing.retryAfterMs !== undefined ? { retry_after_ms: standing.retryAfterMs } : {}));
  }
  const { limit, used } = standing.tokens;
  if (limit !== undefined && used + req.max_tokens > limit) {
    const message = `max_tokens ${req.max_tokens} exceeds the session's remaining token budget ${Math.max(0, limit - used)}`;
    return fail(orchError('BUDGET_EXCEEDED', message, { budget: 'tokens', field: 'max_tokens' }));
  }
  if (standing.exhausted) {
    const over = standing.exhausted;
    return fail(orchError('BUDGET_EXCEEDED', `session ${id} has used ${over.used} of its ${over.limit} ${over.budget}`, { budget: over.budget }));
  }
  // Affinity learned on another pool says nothing about this one's replicas.
  const a = standing.affinity?.pool_id === poolId ? standing.affinity : undefined;
  return ok(a ? { replica_id: a.replica_id, ...(a.slot_id !== undefined ? { slot_id: a.slot_id } : {}) } : undefined);
}

/** Step 9: room in the queue, room by evicting (drop-lru), or full. */
function queueRoom(pool: PoolSnapshot, priority: Priority): 'free' | 'evict' | 'full' {
  const q = pool.queue;
  const waiting = Math.max(0, q.size - (q.freeSlots ?? 0));
  if (q.maxQueued > 0 && waiting < q.maxQueued) return 'free';
  if (q.maxQueued === 0 || q.policy !== 'drop-lru') return 'full';
  // The victim is the oldest of the lowest waiting class; batch never evicts interactive work.
  if (q.batch > 0 || (priority === 'interactive' && q.interactive > 0)) return 'evict';
  return 'full';
}
