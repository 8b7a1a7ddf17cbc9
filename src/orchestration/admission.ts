// Admission in the order of ARCHITECTURE §3, as one synchronous pass over pure checks: a
// request either becomes an AdmissionPlan (pool, affinity, predictions) or a typed refusal.
// Nothing is mutated here except the session turn, which the caller gives back on refusal.

import type { Config } from '../config/schema.ts';
import { checkCapability, checkDeadline } from '../core/admission/checks.ts';
import { predictFinishMs } from '../core/admission/predict.ts';
import { fail, ok, orchError, type Result } from '../core/errors.ts';
import { everPlaceable, type PlacementJob } from '../core/placement/decide.ts';
import type { SessionStore } from '../core/session/session-store.ts';
import type { Pool } from '../pool/pool.ts';
import type { PoolManager } from '../pool/pool-manager.ts';
import type { Task, TaskRequest } from './task.ts';

export interface AdmissionPlan {
  pool: Pool<Task>;
  job: PlacementJob;
  predictedStartMs: number;
  /** Set when a session turn was begun and must be ended or given back. */
  sessionId: string | undefined;
  affinity: { replica_id: string; slot_id?: number } | undefined;
}

export function jobFor(req: TaskRequest, affinityReplicaId?: string): PlacementJob {
  return {
    promptTokens: Math.ceil(req.prompt.length / 4),
    maxTokens: req.max_tokens,
    affinityReplicaId,
    pin: req.placement?.pin,
    prefer: req.placement?.prefer,
    avoid: req.placement?.avoid,
    allowFallback: req.placement?.allow_fallback ?? false,
    accelerator: req.placement?.accelerator,
  };
}

export function resolvePool(req: TaskRequest, pools: PoolManager<Task>): Result<Pool<Task>> {
  const pool = pools.resolve(req.model, req.engine);
  if (!pool) {
    const known = pools.resolve(req.model);
    return known
      ? fail(orchError('INVALID_PARAMS', `model ${req.model} is not served by engine ${req.engine}`, { field: 'engine' }))
      : fail(orchError('INVALID_PARAMS', `unknown model ${req.model}`, { field: 'model' }));
  }
  if (pool.draining) {
    return fail(orchError('DRAINING', `pool ${pool.id} is draining and takes no new work`, { pool_id: pool.id, retry_after_ms: 5_000 }));
  }
  if (!pool.ready) return fail(pool.unreadyError());
  return ok(pool);
}

/** Steps 4–8 of admission; step 9 (queue capacity) belongs to the caller, which owns the queue. */
export function planAdmission(req: TaskRequest, deps: { pools: PoolManager<Task>; sessions: SessionStore; config: Config }): Result<AdmissionPlan> {
  const resolved = resolvePool(req, deps.pools);
  if (!resolved.ok) return resolved;
  const pool = resolved.value;
  const { server } = deps.config;
  const ctxMax = Math.max(0, ...pool.replicas.filter((r) => r.state === 'ready').map((r) => r.ctxMax));
  const capability = checkCapability(
    { max_tokens: req.max_tokens, prompt_chars: req.prompt.length, seed: req.seed },
    {
      ctxMax,
      maxTokensLimit: server.max_tokens_limit,
      maxPromptChars: server.max_prompt_chars,
      deterministic: pool.replicas.every((r) => r.adapter.capabilities.deterministic),
    },
  );
  if (!capability.ok) return fail({ ...capability.error, pool_id: pool.id });
  const placementCheck = placementFeasible(req, pool);
  if (!placementCheck.ok) return placementCheck;

  let affinity: AdmissionPlan['affinity'];
  if (req.session_id !== undefined) {
    const budget = checkTokenBudget(req, deps.sessions);
    if (!budget.ok) return budget;
    const turn = deps.sessions.beginTurn(req.session_id);
    if (!turn.ok) return turn;
    const a = turn.value.affinity;
    if (a && a.pool_id === pool.id) affinity = { replica_id: a.replica_id, ...(a.slot_id !== undefined ? { slot_id: a.slot_id } : {}) };
  }
  const job = jobFor(req, affinity?.replica_id);
  const predictedStartMs = pool.predictStartMs(pool.queue.size);
  if (req.deadline_ms !== undefined) {
    const finish = predictFinishMs({
      startMs: predictedStartMs,
      maxTokens: req.max_tokens,
      tokensPerS: pool.stats.tokensPerS,
      ttftMs: pool.stats.ttftMs,
    });
    const deadline = checkDeadline({ deadline_ms: req.deadline_ms, predictedStartMs, predictedFinishMs: finish });
    if (!deadline.ok) {
      if (req.session_id !== undefined) deps.sessions.cancelTurn(req.session_id);
      return fail({ ...deadline.error, pool_id: pool.id });
    }
  }
  return ok({ pool, job, predictedStartMs, sessionId: req.session_id, affinity });
}

function placementFeasible(req: TaskRequest, pool: Pool<Task>): Result<void> {
  const p = req.placement;
  const ids = new Set(pool.replicas.map((r) => r.id));
  for (const [field, list] of [['placement.pin', p?.pin === undefined ? [] : [p.pin]], ['placement.prefer', p?.prefer ?? []], ['placement.avoid', p?.avoid ?? []]] as const) {
    const unknown = list.find((id) => !ids.has(id));
    if (unknown !== undefined) return fail(orchError('INVALID_PARAMS', `unknown replica ${unknown} in pool ${pool.id}`, { field, pool_id: pool.id }));
  }
  if (!everPlaceable(pool.views(), jobFor(req))) {
    // ORCH-0505: a pin that cannot be honoured, without allow_fallback, is REPLICA_EXHAUSTED.
    const pinned = p?.pin !== undefined && p.allow_fallback !== true;
    return fail(orchError(pinned ? 'REPLICA_EXHAUSTED' : 'POOL_UNREADY', pinned ? `pinned replica ${p.pin} of pool ${pool.id} cannot take the task` : `no ready replica of pool ${pool.id} satisfies the placement constraints`, {
      pool_id: pool.id,
      retry_after_ms: pool.config.health.interval_ms,
    }));
  }
  return ok(undefined);
}

function checkTokenBudget(req: TaskRequest, sessions: SessionStore): Result<void> {
  const view = sessions.view(req.session_id as string);
  if (!view.ok) return view.error.code === 'NOT_FOUND' ? ok(undefined) : view;
  const { limit, used } = view.value.budgets.tokens;
  if (limit !== undefined && used + req.max_tokens > limit) {
    return fail(orchError('BUDGET_EXCEEDED', `max_tokens ${req.max_tokens} exceeds the session's remaining token budget ${Math.max(0, limit - used)}`, { budget: 'tokens', field: 'max_tokens' }));
  }
  return ok(undefined);
}
