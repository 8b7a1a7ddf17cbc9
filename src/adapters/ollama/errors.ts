// Ollama failures → the error taxonomy. Bodies are `{"error":"text"}` (ENGINES.md §5). Models load
// lazily inside a request, so there is no "loading" answer. 503 "server busy ... maximum pending
// requests exceeded" (OLLAMA_MAX_QUEUE full) and 429 are capacity (REPLICA_EXHAUSTED); other 5xx
// before the first token (a runner that crashed while loading) are transient (WORKER_RESET); a
// 404 is an unpulled model, our configuration (ENGINE_ERROR). After the first token any failure,
// the `{"error":...}` line included, is a broken stream.

import { EngineError } from '../contract.ts';
import { toEngineError, type ErrorPolicy } from '../http/error-map.ts';
import { toUpstreamFailure } from '../../transport/upstream-failure.ts';

const DETAIL_LIMIT = 512;

export function ollamaErrorPolicy(overloadRetryAfterMs: number): ErrorPolicy {
  return { engine: 'Ollama', isLoading: () => false, overloadRetryAfterMs };
}

/** `tokens`: how many output events the stream had produced when it failed. */
export function ollamaError(err: unknown, tokens: number, policy: ErrorPolicy): EngineError {
  if (err instanceof EngineError) return err;
  const failure = toUpstreamFailure(err);
  const status = failure.status;
  if (failure.kind === 'status' && status !== undefined && status >= 500 && status !== 503 && status !== 501) {
    return new EngineError('WORKER_RESET', `the Ollama replica failed before the first token (HTTP ${status})`, {
      upstreamStatus: status,
      upstreamDetail: `HTTP ${status} ${failure.bodyText ?? ''}`.trim().slice(0, DETAIL_LIMIT),
      cause: failure,
    });
  }
  return toEngineError(failure, tokens, policy);
}
