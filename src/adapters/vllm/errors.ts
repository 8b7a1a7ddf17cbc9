// vLLM failures → the error taxonomy. While its model loads vLLM has bound but not listened on
// its port, so loading shows up as connection refused (POOL_UNREADY), never as a 503 body.
// No request queue cap by default; a 429/503 (admission control, version-dependent) is busy.

import type { EngineError } from '../contract.ts';
import { toEngineError, type ErrorPolicy } from '../http/error-map.ts';

export function vllmErrorPolicy(overloadRetryAfterMs: number): ErrorPolicy {
  return { engine: 'vLLM', isLoading: () => false, overloadRetryAfterMs };
}

/** `tokens`: how many tokens the stream had produced when it failed. */
export function vllmError(err: unknown, tokens: number, policy: ErrorPolicy): EngineError {
  return toEngineError(err, tokens, policy);
}
