// Backoff headers for the SDK-facing dialects (issue 11): `Retry-After` (seconds, RFC 9110
// §10.2.3) and `retry-after-ms`, which the official OpenAI and Anthropic SDKs read first, plus
// `x-should-retry`, which both SDKs obey over their status-based default — so an SDK retries
// exactly what the error table calls retriable (not a 500 INTERNAL, not a 504 DEADLINE_EXCEEDED).
// The SDKs ignore hints above 60 s and fall back to their own backoff.

import { httpStatusOf, type OrchError } from '../core/errors.ts';

export function retryHeaders(error: OrchError): Record<string, string> {
  const headers: Record<string, string> = { 'x-should-retry': error.retriable ? 'true' : 'false' };
  const status = httpStatusOf(error.code);
  if (error.retry_after_ms !== undefined && (status === 429 || status === 503)) {
    headers['retry-after'] = String(Math.max(1, Math.ceil(error.retry_after_ms / 1000)));
    headers['retry-after-ms'] = String(Math.max(1, Math.round(error.retry_after_ms)));
  }
  return headers;
}
