// llama.cpp failures → the error taxonomy. llama.cpp listens before its model is loaded and
// answers 503 `{"error":{"message":"Loading model","type":"unavailable_error"}}` meanwhile; any
// other 503 (or 429) is "busy" and retriable with backoff.

import type { EngineError } from '../contract.ts';
import type { InBandError } from '../../transport/upstream-failure.ts';
import { toEngineError, type ErrorPolicy } from '../http/error-map.ts';

const LOADING = /loading model/i;

export function isLlamacppLoading(error: InBandError | undefined, status: number | undefined): boolean {
  return status === 503 && error !== undefined && LOADING.test(error.message);
}

export function llamacppErrorPolicy(overloadRetryAfterMs: number): ErrorPolicy {
  return { engine: 'llama.cpp', isLoading: isLlamacppLoading, overloadRetryAfterMs };
}

/** `tokens`: how many tokens the stream had produced when it failed. */
export function llamacppError(err: unknown, tokens: number, policy: ErrorPolicy): EngineError {
  return toEngineError(err, tokens, policy);
}
