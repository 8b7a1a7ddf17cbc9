// OpenAI-compatible provider failures → the error taxonomy through the shared provider map
// (http/provider-errors.ts). Bodies `{"error":{message,type,param,code}}` (OpenAI) or
// `{"error":{code:<int>,message,metadata}}` (OpenRouter, whose in-band errors carry the code);
// a 429 without Retry-After waits for the `x-ratelimit-reset-*` of the spent budget.

import type { EngineError } from '../contract.ts';
import { providerError, type ProviderErrorPolicy } from '../http/provider-errors.ts';
import { resetHintOf } from '../http/provider-rate-limit.ts';
import { parseOpenAiRateLimit } from './rate-limit.ts';

export function openAiErrorPolicy(overloadRetryAfterMs: number, secrets: () => readonly string[]): ProviderErrorPolicy {
  return {
    provider: 'OpenAI-compatible provider',
    overloadRetryAfterMs,
    resetHintMs: (headers, nowMs) => resetHintOf(parseOpenAiRateLimit(headers, nowMs), nowMs),
    secrets,
  };
}

export function openAiError(err: unknown, tokens: number, policy: ProviderErrorPolicy): EngineError {
  return providerError(err, tokens, policy);
}
