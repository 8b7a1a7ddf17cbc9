// The embedded QuotaCounters: one process's per-subject minute windows, in-flight and queued
// counts, and budget-period totals, in maps. Pure (time comes in as arguments). Windows older
// than the current one are dropped when next touched, so memory is bounded by subjects.

import type { QuotaCounters, QuotaUsageCounts } from '../state-ports.ts';
import { periodBounds, windowStart, type BudgetPeriod } from './limits.ts';
import type { QuotaReservation } from './quota.ts';

interface SubjectCounts {
  window: { startMs: number; requests: number; tokens: number };
  inFlight: number;
  queued: number;
  /** Totals by period start. */
  periods: Map<number, { tokens: number; cost: number }>;
}

export class MemoryQuotaCounters implements QuotaCounters {
  readonly #subjects = new Map<string, SubjectCounts>();

  #of(subject: string): SubjectCounts {
    let s = this.#subjects.get(subject);
    if (!s) {
      s = { window: { startMs: 0, requests: 0, tokens: 0 }, inFlight: 0, queued: 0, periods: new Map() };
      this.#subjects.set(subject, s);
    }
    return s;
  }

  usage(subject: string, now: number, period?: BudgetPeriod): QuotaUsageCounts {
    const s = this.#subjects.get(subject);
    const startMs = windowStart(now);
    const window = s && s.window.startMs === startMs ? { ...s.window } : { startMs, requests: 0, tokens: 0 };
    if (period === undefined) return { window, inFlight: s?.inFlight ?? 0, queued: s?.queued ?? 0 };
    const bounds = periodBounds(period, now);
    const totals = s?.periods.get(bounds.startMs) ?? { tokens: 0, cost: 0 };
    return { window, inFlight: s?.inFlight ?? 0, queued: s?.queued ?? 0, period: { ...bounds, ...totals } };
  }

  reserve(r: QuotaReservation): void {
    for (const { subject, periodStartMs } of r.subjects) {
      const s = this.#of(subject);
      if (s.window.startMs !== r.windowStartMs) s.window = { startMs: r.windowStartMs, requests: 0, tokens: 0 };
      s.window.requests++;
      s.window.tokens += r.tokens;
      s.inFlight++;
      s.queued++;
      if (periodStartMs !== undefined) this.#addPeriod(s, periodStartMs, r.budgetTokens, r.budgetCost);
      // Older periods are done with: a period is only read while it holds now.
      for (const start of s.periods.keys()) if (periodStartMs !== undefined && start < periodStartMs) s.periods.delete(start);
    }
  }

  release(r: QuotaReservation): void {
    for (const { subject, periodStartMs } of r.subjects) {
      const s = this.#of(subject);
      if (s.window.startMs === r.windowStartMs) {
        s.window.requests = Math.max(0, s.window.requests - 1);
        s.window.tokens = Math.max(0, s.window.tokens - r.tokens);
      }
      s.inFlight = Math.max(0, s.inFlight - 1);
      s.queued = Math.max(0, s.queued - 1);
      if (periodStartMs !== undefined) this.#addPeriod(s, periodStartMs, -r.budgetTokens, -r.budgetCost);
    }
  }

  started(r: QuotaReservation): void {
    for (const { subject } of r.subjects) {
      const s = this.#of(subject);
      s.queued = Math.max(0, s.queued - 1);
    }
  }

  settle(r: QuotaReservation, actual: { tokens: number; budgetTokens: number; budgetCost: number; wasQueued: boolean }): void {
    for (const { subject, periodStartMs } of r.subjects) {
      const s = this.#of(subject);
      // Tokens count in the window that reserved them; a window that has passed keeps its figure.
      if (s.window.startMs === r.windowStartMs) s.window.tokens = Math.max(0, s.window.tokens + actual.tokens - r.tokens);
      s.inFlight = Math.max(0, s.inFlight - 1);
      if (actual.wasQueued) s.queued = Math.max(0, s.queued - 1);
      if (periodStartMs !== undefined) this.#addPeriod(s, periodStartMs, actual.budgetTokens - r.budgetTokens, actual.budgetCost - r.budgetCost);
    }
  }

  restorePeriod(subject: string, startMs: number, totals: { tokens: number; cost: number }): void {
    this.#of(subject).periods.set(startMs, { ...totals });
  }

  #addPeriod(s: SubjectCounts, startMs: number, tokens: number, cost: number): void {
    const p = s.periods.get(startMs);
    if (!p) {
      s.periods.set(startMs, { tokens: Math.max(0, tokens), cost: Math.max(0, cost) });
      return;
    }
    p.tokens = Math.max(0, p.tokens + tokens);
    p.cost = Math.max(0, p.cost + cost);
  }
}
