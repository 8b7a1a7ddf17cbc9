// Quota limits of a tenant or a key (ORCH-1210): what they are, their names on the wire (the
// `limit` field of a RATE_LIMITED refusal), and the calendar periods budgets run over. Pure.

export type BudgetPeriod = 'day' | 'month';

export interface QuotaLimits {
  requests_per_min?: number;
  /** Reserved at admission as the request's max_tokens, settled to the real count at the end. */
  tokens_per_min?: number;
  /** Admitted and unfinished tasks (queued or running). */
  max_concurrent_tasks?: number;
  /** Tasks waiting in a queue. */
  max_queued_tasks?: number;
  /** Live sessions owned. */
  max_sessions?: number;
  /** Longest TTL a session may ask for (a longer ttl_ms is refused, never shortened). */
  max_session_ttl_ms?: number;
  /** Tokens (prompt estimate + output) and cost units per calendar period (UTC). */
  budget?: { period: BudgetPeriod; tokens?: number; cost?: number };
}

export type LimitName =
  | 'requests_per_min'
  | 'tokens_per_min'
  | 'max_concurrent_tasks'
  | 'max_queued_tasks'
  | 'max_sessions'
  | 'budget.tokens'
  | 'budget.cost';

export const WINDOW_MS = 60_000;

/** Start of the fixed one-minute window holding `now` (windows are aligned to the epoch). */
export const windowStart = (now: number): number => Math.floor(now / WINDOW_MS) * WINDOW_MS;

/** [start, end) of the UTC calendar period holding `now`. */
export function periodBounds(period: BudgetPeriod, now: number): { startMs: number; endMs: number } {
  const d = new Date(now);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  if (period === 'day') {
    const startMs = Date.UTC(y, m, d.getUTCDate());
    return { startMs, endMs: Date.UTC(y, m, d.getUTCDate() + 1) };
  }
  return { startMs: Date.UTC(y, m, 1), endMs: Date.UTC(y, m + 1, 1) };
}

export const hasLimits = (l: QuotaLimits | undefined): l is QuotaLimits => l !== undefined && Object.keys(l).length > 0;
