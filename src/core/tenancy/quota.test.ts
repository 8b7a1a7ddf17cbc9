import { describe, expect, it } from 'vitest';
import { MemoryQuotaCounters } from './quota-counters.ts';
import { periodBounds, windowStart, type QuotaLimits } from './limits.ts';
import { checkQuota, checkSessionQuota, type QuotaAsk, type QuotaStanding } from './quota.ts';

const T0 = Date.UTC(2026, 0, 15, 10, 30, 12, 250); // 12.25 s into a minute
const ask: QuotaAsk = { maxTokens: 10, budgetTokens: 15, budgetCost: 0.015, newSession: false, backoffMs: 700 };

/** Admits through the counters until the first refusal; returns how many were admitted and the refusal. */
function admitUntilRefused(limits: QuotaLimits, a: QuotaAsk = ask, now = T0, sessions = { count: 0 }) {
  const counters = new MemoryQuotaCounters();
  const standing = (): QuotaStanding => ({ now, subjects: [{ subject: 'tenant:a', limits, usage: { ...counters.usage('tenant:a', now, limits.budget?.period), sessions } }] });
  for (let n = 0; n < 1_000; n++) {
    const checked = checkQuota(standing(), a);
    if (!checked.ok) return { admitted: n, error: checked.error, counters };
    counters.reserve(checked.value);
  }
  throw new Error('never refused');
}

describe('checkQuota (admission step 7)', () => {
  // ORCH-1210 ORCH-1212
  it.each([
    ['requests_per_min', { requests_per_min: 3 }, 3, 60_000 - 12_250],
    ['tokens_per_min', { tokens_per_min: 30 }, 3, 60_000 - 12_250],
    ['max_concurrent_tasks', { max_concurrent_tasks: 2 }, 2, 700],
    ['max_queued_tasks', { max_queued_tasks: 4 }, 4, 700],
    ['budget.tokens', { budget: { period: 'day', tokens: 45 } }, 3, periodBounds('day', T0).endMs - T0],
    ['budget.cost', { budget: { period: 'month', cost: 0.06 } }, 4, periodBounds('month', T0).endMs - T0],
  ] as const)('admits exactly N under %s and refuses N+1 with the limit and its exact reset', (name, limits, n, resetMs) => {
    const { admitted, error } = admitUntilRefused(limits);
    expect(admitted).toBe(n);
    expect(error).toMatchObject({ code: 'RATE_LIMITED', limit: name, retry_after_ms: resetMs, retriable: true });
  });

  // ORCH-1210 (sessions): only a request that opens a session counts against the cap
  it('refuses a new session at the tenant session cap until the soonest session expires', () => {
    const limits = { max_sessions: 2 };
    const standing: QuotaStanding = { now: T0, subjects: [{ subject: 'tenant:a', limits, usage: { window: { startMs: windowStart(T0), requests: 0, tokens: 0 }, inFlight: 0, queued: 0, sessions: { count: 2, nextExpiryMs: T0 + 5_000 } } }] };
    expect(checkQuota(standing, ask).ok).toBe(true);
    const refused = checkQuota(standing, { ...ask, newSession: true });
    expect(refused.ok || refused.error).toMatchObject({ code: 'RATE_LIMITED', limit: 'max_sessions', retry_after_ms: 5_000 });
  });

  // ORCH-1212: a request that can never fit is a 400, not a 429 a client would retry forever
  it('refuses max_tokens above tokens_per_min as INVALID_PARAMS naming max_tokens', () => {
    const { admitted, error } = admitUntilRefused({ tokens_per_min: 9 });
    expect(admitted).toBe(0);
    expect(error).toMatchObject({ code: 'INVALID_PARAMS', field: 'max_tokens', limit: 'tokens_per_min' });
  });

  it('checks the key after its tenant and names the first crossed limit', () => {
    const usage = { window: { startMs: windowStart(T0), requests: 1, tokens: 0 }, inFlight: 0, queued: 0, sessions: { count: 0 } };
    const standing: QuotaStanding = { now: T0, subjects: [{ subject: 'tenant:a', limits: { requests_per_min: 5 }, usage }, { subject: 'key:k1', limits: { requests_per_min: 1 }, usage }] };
    const refused = checkQuota(standing, ask);
    expect(refused.ok || refused.error.message).toContain('key k1');
  });

  // ORCH-1211
  it('gives every count back when a reservation is released, and settles tokens to the real count', () => {
    const counters = new MemoryQuotaCounters();
    const limits = { tokens_per_min: 30, budget: { period: 'day' as const, tokens: 100 } };
    const usage = () => counters.usage('tenant:a', T0, 'day');
    const checked = checkQuota({ now: T0, subjects: [{ subject: 'tenant:a', limits, usage: { ...usage(), sessions: { count: 0 } } }] }, ask);
    if (!checked.ok) throw new Error('refused');
    counters.reserve(checked.value);
    expect(usage()).toMatchObject({ window: { requests: 1, tokens: 10 }, inFlight: 1, queued: 1, period: { tokens: 15 } });
    counters.started(checked.value);
    counters.settle(checked.value, { tokens: 4, budgetTokens: 9, budgetCost: 0.009, wasQueued: false });
    expect(usage()).toMatchObject({ window: { requests: 1, tokens: 4 }, inFlight: 0, queued: 0, period: { tokens: 9 } });
    counters.reserve(checked.value);
    counters.release(checked.value);
    expect(usage()).toMatchObject({ window: { requests: 1, tokens: 4 }, inFlight: 0, queued: 0, period: { tokens: 9 } });
  });

  it('starts a new minute window and a new period on their boundaries', () => {
    const counters = new MemoryQuotaCounters();
    const checked = checkQuota({ now: T0, subjects: [{ subject: 'tenant:a', limits: { requests_per_min: 1 }, usage: { ...counters.usage('tenant:a', T0), sessions: { count: 0 } } }] }, ask);
    if (!checked.ok) throw new Error('refused');
    counters.reserve(checked.value);
    const nextMinute = windowStart(T0) + 60_000;
    expect(counters.usage('tenant:a', nextMinute - 1).window.requests).toBe(1);
    expect(counters.usage('tenant:a', nextMinute).window.requests).toBe(0);
    counters.restorePeriod('tenant:a', periodBounds('day', T0).startMs, { tokens: 40, cost: 1 });
    expect(counters.usage('tenant:a', T0, 'day').period?.tokens).toBe(40);
    expect(counters.usage('tenant:a', periodBounds('day', T0).endMs, 'day').period?.tokens).toBe(0);
  });
});

describe('checkSessionQuota (POST /v1/sessions)', () => {
  const usage = { window: { startMs: 0, requests: 0, tokens: 0 }, inFlight: 0, queued: 0, sessions: { count: 1, nextExpiryMs: T0 + 9_000 } };
  // ORCH-1213
  it('refuses a ttl_ms above the tenant maximum naming ttl_ms, never shortening it', () => {
    const refused = checkSessionQuota({ now: T0, subjects: [{ subject: 'tenant:a', limits: { max_session_ttl_ms: 60_000 }, usage }] }, 31_536_000_000, 1_000);
    expect(refused.ok || refused.error).toMatchObject({ code: 'INVALID_PARAMS', field: 'ttl_ms', limit: 'max_session_ttl_ms' });
    expect(checkSessionQuota({ now: T0, subjects: [{ subject: 'tenant:a', limits: { max_session_ttl_ms: 60_000 }, usage }] }, 60_000, 1_000).ok).toBe(true);
  });

  it('refuses the session past the cap with the soonest expiry as its reset', () => {
    const refused = checkSessionQuota({ now: T0, subjects: [{ subject: 'tenant:a', limits: { max_sessions: 1 }, usage }] }, undefined, 1_000);
    expect(refused.ok || refused.error).toMatchObject({ code: 'RATE_LIMITED', limit: 'max_sessions', retry_after_ms: 9_000 });
  });
});
