// Admission step 7, rate limits and tenant quotas (ORCH-1210..1214), as a pure check over the
// standing of each subject (the tenant, and the key when it has its own limits): the first
// limit the request would cross is refused with 429 RATE_LIMITED naming it and the exact time
// it resets; otherwise the reservation the shell applies in the same synchronous step.

import { fail, ok, orchError, type OrchError, type Result } from '../errors.ts';
import { WINDOW_MS, type BudgetPeriod, type LimitName, type QuotaLimits } from './limits.ts';

/** Where one subject's counters stand now (read from the QuotaCounters port). */
export interface QuotaUsage {
  /** The fixed one-minute window holding now. */
  window: { startMs: number; requests: number; tokens: number };
  inFlight: number;
  queued: number;
  /** Live sessions owned, and when the soonest of them expires (the session cap's reset). */
  sessions: { count: number; nextExpiryMs?: number };
  /** The budget period holding now (only when the limits have a budget). */
  period?: { startMs: number; endMs: number; tokens: number; cost: number };
}

export interface QuotaSubject {
  /** `tenant:<id>` or `key:<id>`: the counters' key. */
  subject: string;
  limits: QuotaLimits;
  usage: QuotaUsage;
}

export interface QuotaStanding {
  now: number;
  subjects: readonly QuotaSubject[];
}

export interface QuotaAsk {
  /** The request's max_tokens (reserved per minute). */
  maxTokens: number;
  /** Prompt estimate + max_tokens, and its cost at the pool's price: reserved from the budget. */
  budgetTokens: number;
  budgetCost: number;
  /** The request would open a new session. */
  newSession: boolean;
  /** Backoff hint for limits with no fixed reset (concurrency, queue): the pool's forecast. */
  backoffMs: number;
}

/** What admission reserves on each subject; settled at the end with the real counts. */
export interface QuotaReservation {
  subjects: readonly { subject: string; periodStartMs?: number }[];
  windowStartMs: number;
  tokens: number;
  budgetTokens: number;
  budgetCost: number;
}

function refuse(subject: string, limit: LimitName, max: number, resetInMs: number, period?: BudgetPeriod): Result<never> {
  return fail(limitRefusal(subject, limit, max, resetInMs, period));
}

/** What a limit counts, as the refusal's message says it after the number (`period`: a budget's). */
function unitOf(limit: LimitName, period: BudgetPeriod | undefined): string {
  switch (limit) {
    case 'requests_per_min':
    case 'tokens_per_min':
      return ' per minute';
    case 'max_concurrent_tasks':
      return ' tasks in flight';
    case 'max_queued_tasks':
      return ' tasks queued';
    case 'max_sessions':
      return ' live sessions';
    case 'budget.tokens':
      return ` tokens per ${period ?? 'period'}`;
    case 'budget.cost':
      return ` cost units per ${period ?? 'period'}`;
  }
}

/**
 * The refusal of `subject` past `limit`, worded as this module's own checks word it: for a
 * store that checks the limits itself (the cluster's admit script) and reports which one.
 */
export function limitRefusal(subject: string, limit: LimitName, max: number, resetInMs: number, period?: BudgetPeriod): OrchError {
  const who = subject.replace(':', ' ');
  return orchError('RATE_LIMITED', `${who} reached its ${limit} limit (${max}${unitOf(limit, period)})`, { limit, retry_after_ms: Math.max(1, Math.ceil(resetInMs)) });
}

function tooLarge(subject: string, limit: LimitName, max: number, asked: number): OrchError {
  return orchError('INVALID_PARAMS', `max_tokens ${asked} can never fit ${subject.replace(':', ' ')}'s ${limit} of ${max}`, { field: 'max_tokens', limit });
}

/** The first of the subject's limits the request would cross; its usage is read only for the limits it has. */
function subjectRefusal(s: QuotaSubject, ask: QuotaAsk, now: number): OrchError | undefined {
  const { limits: l, subject } = s;
  if (l.requests_per_min !== undefined && s.usage.window.requests + 1 > l.requests_per_min) {
    return limitRefusal(subject, 'requests_per_min', l.requests_per_min, windowResetMs(s, now));
  }
  if (l.tokens_per_min !== undefined) {
    if (ask.maxTokens > l.tokens_per_min) return tooLarge(subject, 'tokens_per_min', l.tokens_per_min, ask.maxTokens);
    if (s.usage.window.tokens + ask.maxTokens > l.tokens_per_min) return limitRefusal(subject, 'tokens_per_min', l.tokens_per_min, windowResetMs(s, now));
  }
  if (l.max_concurrent_tasks !== undefined && s.usage.inFlight + 1 > l.max_concurrent_tasks) {
    return limitRefusal(subject, 'max_concurrent_tasks', l.max_concurrent_tasks, ask.backoffMs);
  }
  if (l.max_queued_tasks !== undefined && s.usage.queued + 1 > l.max_queued_tasks) {
    return limitRefusal(subject, 'max_queued_tasks', l.max_queued_tasks, ask.backoffMs);
  }
  if (ask.newSession && l.max_sessions !== undefined && s.usage.sessions.count + 1 > l.max_sessions) {
    return limitRefusal(subject, 'max_sessions', l.max_sessions, (s.usage.sessions.nextExpiryMs ?? now + ask.backoffMs) - now);
  }
  const b = l.budget;
  const period = b === undefined ? undefined : s.usage.period;
  if (b !== undefined && period !== undefined) {
    const periodReset = period.endMs - now;
    if (b.tokens !== undefined) {
      if (ask.budgetTokens > b.tokens) return tooLarge(subject, 'budget.tokens', b.tokens, ask.budgetTokens);
      if (period.tokens + ask.budgetTokens > b.tokens) return limitRefusal(subject, 'budget.tokens', b.tokens, periodReset, b.period);
    }
    if (b.cost !== undefined && period.cost + ask.budgetCost > b.cost) return limitRefusal(subject, 'budget.cost', b.cost, periodReset, b.period);
  }
  return undefined;
}

const windowResetMs = (s: QuotaSubject, now: number): number => s.usage.window.startMs + WINDOW_MS - now;

/**
 * Every subject's limits in order (tenant first, then key): the first crossed limit's refusal,
 * or undefined. Reads no usage of a subject without limits and allocates nothing then (a
 * refusal further on, from a full queue, needs no reservation: issue 14).
 */
export function quotaRefusal(standing: QuotaStanding, ask: QuotaAsk): OrchError | undefined {
  for (const s of standing.subjects) {
    const refused = subjectRefusal(s, ask, standing.now);
    if (refused !== undefined) return refused;
  }
  return undefined;
}

/** What admission reserves on every subject of a standing that quotaRefusal let through. */
export function quotaReservation(standing: QuotaStanding, ask: QuotaAsk): QuotaReservation {
  const first = standing.subjects[0];
  return {
    subjects: standing.subjects.map((s) => (s.usage.period ? { subject: s.subject, periodStartMs: s.usage.period.startMs } : { subject: s.subject })),
    windowStartMs: first?.usage.window.startMs ?? 0,
    tokens: ask.maxTokens,
    budgetTokens: ask.budgetTokens,
    budgetCost: ask.budgetCost,
  };
}

/** quotaRefusal, else quotaReservation. */
export function checkQuota(standing: QuotaStanding, ask: QuotaAsk): Result<QuotaReservation> {
  const refused = quotaRefusal(standing, ask);
  return refused === undefined ? ok(quotaReservation(standing, ask)) : fail(refused);
}

/** One subject's session cap: what a store that counts sessions itself checks atomically at create. */
export interface SessionCap {
  subject: string;
  max: number;
}

/** The session caps of a standing's subjects, in order (POST /v1/sessions on a shared store). */
export function sessionCapsOf(standing: QuotaStanding): SessionCap[] {
  return standing.subjects.flatMap((s) => (s.limits.max_sessions === undefined ? [] : [{ subject: s.subject, max: s.limits.max_sessions }]));
}

/** The refusal of a session past `subject`'s max_sessions; `resetInMs`: until its owner's soonest session expires. */
export function sessionCapRefusal(cap: SessionCap, resetInMs: number): Result<never> {
  return refuse(cap.subject, 'max_sessions', cap.max, resetInMs);
}

/** The session step of a session created directly (POST /v1/sessions): count and TTL caps. */
export function checkSessionQuota(standing: QuotaStanding, ttlMs: number | undefined, backoffMs: number): Result<void> {
  for (const s of standing.subjects) {
    const max = s.limits.max_session_ttl_ms;
    if (max !== undefined && ttlMs !== undefined && ttlMs > max) {
      return fail(orchError('INVALID_PARAMS', `ttl_ms ${ttlMs} exceeds ${s.subject.replace(':', ' ')}'s max_session_ttl_ms of ${max}`, { field: 'ttl_ms', limit: 'max_session_ttl_ms' }));
    }
    const { count, nextExpiryMs } = s.usage.sessions;
    if (s.limits.max_sessions !== undefined && count + 1 > s.limits.max_sessions) {
      return sessionCapRefusal({ subject: s.subject, max: s.limits.max_sessions }, (nextExpiryMs ?? standing.now + backoffMs) - standing.now);
    }
  }
  return ok(undefined);
}
