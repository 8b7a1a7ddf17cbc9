// Anthropic failures → the error taxonomy through the shared provider map. Bodies are
// `{"type":"error","error":{"type","message"},"request_id"}` (ENGINES.md §8); the type names
// the status, which in-band `event: error` frames do not carry: an `overloaded_error` before
// the first token is a 529 (REPLICA_EXHAUSTED), after it a broken stream (WORKER_RESET).

import type { EngineError } from '../contract.ts';
import { providerError, type ProviderErrorPolicy } from '../http/provider-errors.ts';
import { resetHintOf } from '../http/provider-rate-limit.ts';
import { parseAnthropicRateLimit } from './rate-limit.ts';

const STATUS_OF_TYPE: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

export function anthropicErrorPolicy(overloadRetryAfterMs: number, secrets: () => readonly string[]): ProviderErrorPolicy {
  return {
    provider: 'Anthropic API',
    overloadRetryAfterMs,
    resetHintMs: (headers, nowMs) => resetHintOf(parseAnthropicRateLimit(headers, nowMs), nowMs),
    statusOfType: (type) => (type === undefined ? undefined : STATUS_OF_TYPE[type]),
    secrets,
  };
}

export function anthropicError(err: unknown, tokens: number, policy: ProviderErrorPolicy): EngineError {
  return providerError(err, tokens, policy);
}
