// Anthropic `anthropic-ratelimit-*` headers → ProviderRateLimit (Anthropic "Rate limits" page;
// ENGINES.md §8). `-remaining` are counts, `-reset` RFC 3339 instants. The tokens budget is
// `anthropic-ratelimit-tokens-*` (the most restrictive one in force); without it, the tighter of
// the input-tokens and output-tokens budgets. Pure.

import type { ProviderRateLimit } from '../contract.ts';
import { count, header, snapshot, type Budget } from '../http/provider-rate-limit.ts';
import type { ResponseHeaders } from '../http/provider-errors.ts';

function budget(headers: ResponseHeaders, kind: string): Budget {
  const out: Budget = {};
  const remaining = count(headers, `anthropic-ratelimit-${kind}-remaining`);
  if (remaining !== undefined) out.remaining = remaining;
  const reset = header(headers, `anthropic-ratelimit-${kind}-reset`);
  const at = reset === undefined ? Number.NaN : Date.parse(reset);
  if (!Number.isNaN(at)) out.resetAtMs = at;
  return out;
}

function tighter(a: Budget, b: Budget): Budget {
  if (a.remaining === undefined) return b;
  if (b.remaining === undefined) return a;
  return a.remaining <= b.remaining ? a : b;
}

export function parseAnthropicRateLimit(headers: ResponseHeaders, nowMs: number): ProviderRateLimit | undefined {
  const tokens = budget(headers, 'tokens');
  const split = tighter(budget(headers, 'input-tokens'), budget(headers, 'output-tokens'));
  return snapshot(budget(headers, 'requests'), tokens.remaining === undefined && tokens.resetAtMs === undefined ? split : tokens, nowMs);
}
