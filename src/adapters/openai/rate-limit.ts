// OpenAI-style rate-limit headers → ProviderRateLimit (OpenAI "Rate limits" guide; Groq and
// Together send the same family). `x-ratelimit-remaining-{requests,tokens}` are counts;
// `x-ratelimit-reset-{requests,tokens}` are durations until the budget is full again, written
// Go-style ("1s", "6m0s", "20ms", "1h2m3.5s"); a bare number is read as seconds. Pure.

import type { ProviderRateLimit } from '../contract.ts';
import { count, header, snapshot, type Budget } from '../http/provider-rate-limit.ts';
import type { ResponseHeaders } from '../http/provider-errors.ts';

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 0.001, µs: 0.001, ns: 0.000_001 };

/** A Go duration string (or bare seconds) in milliseconds; undefined when it is not one. */
export function parseDurationMs(text: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(text)) return Number(text) * 1000;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  return parts.reduce((sum, p) => sum + Number(p[1]) * (UNIT_MS[p[2] ?? ''] ?? 0), 0);
}

function budget(headers: ResponseHeaders, kind: 'requests' | 'tokens', nowMs: number): Budget {
  const out: Budget = {};
  const remaining = count(headers, `x-ratelimit-remaining-${kind}`);
  if (remaining !== undefined) out.remaining = remaining;
  const reset = header(headers, `x-ratelimit-reset-${kind}`);
  const ms = reset === undefined ? undefined : parseDurationMs(reset);
  if (ms !== undefined) out.resetAtMs = nowMs + Math.ceil(ms);
  return out;
}

export function parseOpenAiRateLimit(headers: ResponseHeaders, nowMs: number): ProviderRateLimit | undefined {
  return snapshot(budget(headers, 'requests', nowMs), budget(headers, 'tokens', nowMs), nowMs);
}
