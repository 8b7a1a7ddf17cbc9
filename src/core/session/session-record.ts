// What one session is: its limits, what it has used, its affinity and KV warmth, and the
// pure projections over it (client view, exhausted budget, create validation). No storage here.

import { fail, ok, orchError, type Result } from '../errors.ts';

export type KvWarmth = 'cold' | 'warm' | 'hot';
export type BudgetName = 'turns' | 'tokens' | 'time_ms' | 'cost';

export interface SessionBudgets {
  tokens?: number;
  time_ms?: number;
  cost?: number;
}

export interface SessionCreate {
  session_id: string;
  /** The tenant that owns the session (ORCH-1205); absent: the default tenant. */
  owner?: string;
  ttl_ms?: number;
  max_turns?: number;
  budgets?: SessionBudgets;
}

export interface Affinity {
  pool_id: string;
  replica_id: string;
  slot_id?: number;
}

interface BudgetView {
  limit?: number;
  used: number;
}

export interface SessionView {
  session_id: string;
  ttl_ms_remaining: number;
  turns: number;
  max_turns: number;
  kv_warmth: KvWarmth;
  pool_id?: string;
  replica_id?: string;
  budgets: { tokens: BudgetView; time_ms: BudgetView; cost: BudgetView };
  created_at: string;
  expires_at: string;
}

export interface TurnUsage {
  tokens: number;
  time_ms: number;
  cost: number;
  pool_id: string;
  replica_id: string;
  slot_id?: number;
  cached_tokens?: number;
}

/** Where a new turn of a session stands, counting turns held by uncommitted admissions. */
export type SessionStanding =
  | { kind: 'new'; room: true }
  | { kind: 'new'; room: false; retryAfterMs?: number; limit: number }
  | { kind: 'expired' }
  | {
      kind: 'live';
      affinity?: Affinity;
      exhausted?: { budget: BudgetName; used: number; limit: number };
      tokens: { limit?: number; used: number };
    };

export interface SessionRecord {
  readonly id: string;
  readonly owner: string | undefined;
  readonly createdAt: number;
  readonly ttlMs: number;
  readonly maxTurns: number;
  readonly limits: Readonly<SessionBudgets>;
  expiresAt: number;
  turns: number;
  used: { tokens: number; time_ms: number; cost: number };
  affinity?: Affinity;
  warmth: KvWarmth;
}

export function newRecord(req: SessionCreate, defaults: { ttlMs: number; maxTurns: number }, now: number): SessionRecord {
  const ttlMs = req.ttl_ms ?? defaults.ttlMs;
  return {
    id: req.session_id,
    owner: req.owner,
    createdAt: now,
    ttlMs,
    maxTurns: req.max_turns ?? defaults.maxTurns,
    limits: { ...req.budgets },
    expiresAt: now + ttlMs,
    turns: 0,
    used: { tokens: 0, time_ms: 0, cost: 0 },
    warmth: 'cold',
  };
}

/** Rejects (never clamps) a malformed create request, naming the field. */
export function validateCreate(req: SessionCreate): Result<void> {
  if (typeof req.session_id !== 'string' || req.session_id.length === 0) {
    return fail(orchError('INVALID_PARAMS', 'session_id must be a non-empty string', { field: 'session_id' }));
  }
  const integers: [string, number | undefined][] = [['ttl_ms', req.ttl_ms], ['max_turns', req.max_turns]];
  for (const [field, value] of integers) {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 1)) {
      return fail(orchError('INVALID_PARAMS', `${field} must be an integer >= 1`, { field }));
    }
  }
  for (const name of ['tokens', 'time_ms', 'cost'] as const) {
    const value = req.budgets?.[name];
    // A zero budget would create a session that can never run a turn.
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      return fail(orchError('INVALID_PARAMS', `budgets.${name} must be a number > 0`, { field: `budgets.${name}` }));
    }
  }
  return ok(undefined);
}

/** The first limit a new turn would break, or undefined. Limits are checked before a turn. */
export function exhaustedBudget(rec: SessionRecord): { budget: BudgetName; used: number; limit: number } | undefined {
  if (rec.turns >= rec.maxTurns) return { budget: 'turns', used: rec.turns, limit: rec.maxTurns };
  for (const budget of ['tokens', 'time_ms', 'cost'] as const) {
    const limit = rec.limits[budget];
    if (limit !== undefined && rec.used[budget] >= limit) return { budget, used: rec.used[budget], limit };
  }
  return undefined;
}

export function toView(rec: SessionRecord, now: number): SessionView {
  const budget = (name: 'tokens' | 'time_ms' | 'cost'): BudgetView => {
    const limit = rec.limits[name];
    return limit === undefined ? { used: rec.used[name] } : { limit, used: rec.used[name] };
  };
  const view: SessionView = {
    session_id: rec.id,
    ttl_ms_remaining: Math.max(0, rec.expiresAt - now),
    turns: rec.turns,
    max_turns: rec.maxTurns,
    kv_warmth: rec.warmth,
    budgets: { tokens: budget('tokens'), time_ms: budget('time_ms'), cost: budget('cost') },
    created_at: new Date(rec.createdAt).toISOString(),
    expires_at: new Date(rec.expiresAt).toISOString(),
  };
  if (rec.affinity) {
    view.pool_id = rec.affinity.pool_id;
    view.replica_id = rec.affinity.replica_id;
  }
  return view;
}
