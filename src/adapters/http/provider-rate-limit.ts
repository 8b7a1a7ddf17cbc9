// The rate-limit budget a hosted provider reports, as one pure snapshot (issue 13 item 5). Each
// provider folder reads its own header family into two budgets; this derives the shared shape.

import type { ProviderRateLimit } from '../contract.ts';
import type { ResponseHeaders } from './provider-errors.ts';

export interface Budget {
  remaining?: number;
  resetAtMs?: number;
}

export function header(headers: ResponseHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first.trim() === '' ? undefined : first.trim();
}

export function count(headers: ResponseHeaders, name: string): number | undefined {
  const raw = header(headers, name);
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : undefined;
}

/** Undefined when the answer carried no budget at all. */
export function snapshot(requests: Budget, tokens: Budget, observedAtMs: number): ProviderRateLimit | undefined {
  const out: ProviderRateLimit = { observedAtMs };
  if (requests.remaining !== undefined) out.remainingRequests = requests.remaining;
  if (tokens.remaining !== undefined) out.remainingTokens = tokens.remaining;
  if (requests.resetAtMs !== undefined) out.requestsResetAtMs = requests.resetAtMs;
  if (tokens.resetAtMs !== undefined) out.tokensResetAtMs = tokens.resetAtMs;
  if (Object.keys(out).length === 1) return undefined;
  const spent = [requests, tokens].filter((b) => b.remaining === 0 && b.resetAtMs !== undefined).map((b) => b.resetAtMs as number);
  if (spent.length > 0) out.resetAtMs = Math.max(...spent);
  return out;
}

/** Milliseconds until a spent budget is full again (undefined when none is spent), for an answer without Retry-After. */
export function resetHintOf(limit: ProviderRateLimit | undefined, nowMs: number): number | undefined {
  return limit?.resetAtMs === undefined ? undefined : Math.max(0, Math.ceil(limit.resetAtMs - nowMs));
}
