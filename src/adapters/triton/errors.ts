// Triton failures → EngineError. Before inference Triton answers JSON `{"error":"…"}` with a
// real status (INVALID_ARG 400, NOT_FOUND 404, INTERNAL 500, UNAVAILABLE 503); once the first
// response went out the status is fixed at 200 and errors arrive in-band as `data: {"error"}`.
// Client messages are ours; upstream text only reaches `upstreamDetail`.

import { EngineError } from '../contract.ts';
import { isRecord, parseJson, stringField } from '../../transport/json-fields.ts';
import { toUpstreamFailure, type InBandError } from '../../transport/upstream-failure.ts';
import { toEngineError, type ErrorPolicy } from '../http/error-map.ts';

const DETAIL_LIMIT = 512;

/**
 * UNAVAILABLE (503) means both "model not ready" and "queue full"; only the wording tells them
 * apart (core: "Exceeds maximum queue size"; TRT-LLM: max_queue_size rejections).
 */
const OVERLOAD = /maximum queue size|queue (is )?full|max_queue_size|rejected|too many requests/i;

export function tritonErrorPolicy(overloadRetryAfterMs: number): ErrorPolicy {
  // Triton's HTTP port is closed while models load (connection refused), never a loading body.
  return { engine: 'Triton', isLoading: () => false, overloadRetryAfterMs };
}

/** `tokens`: how many tokens the stream had produced when it failed. */
export function tritonError(err: unknown, tokens: number, policy: ErrorPolicy): EngineError {
  if (err instanceof EngineError) return err;
  const failure = toUpstreamFailure(err);
  if (failure.kind === 'in-band' && failure.inBand !== undefined) return tritonStreamError(failure.inBand, tokens, policy);
  if (failure.kind === 'status') return tritonStatusError(failure.status ?? 0, failure.bodyText ?? '', failure.retryAfterMs, policy);
  return toEngineError(failure, tokens, policy);
}

/** An in-band `{"error"}`: inference had started, so it is the replica failing mid-request. */
export function tritonStreamError(wire: InBandError, tokens: number, policy: ErrorPolicy): EngineError {
  const upstreamDetail = wire.message.slice(0, DETAIL_LIMIT);
  if (tokens === 0 && OVERLOAD.test(wire.message)) return overloaded({ upstreamDetail }, policy.overloadRetryAfterMs);
  const message = tokens > 0 ? `the Triton stream failed after ${tokens} tokens` : 'the Triton replica failed during generation';
  return new EngineError('WORKER_RESET', message, { upstreamDetail });
}

export function tritonStatusError(status: number, body: string, retryAfterMs: number | undefined, policy: ErrorPolicy): EngineError {
  const parsed = parseJson(body);
  const text = (isRecord(parsed) ? stringField(parsed, 'error') : undefined) ?? body;
  const opts = { upstreamStatus: status, upstreamDetail: `HTTP ${status} ${text}`.slice(0, DETAIL_LIMIT) };
  switch (status) {
    case 400:
      return new EngineError('INVALID_PARAMS', 'the Triton replica rejected the generation inputs', opts);
    case 404:
      // A wrong model name or tensor mapping is an operator problem, not the client's.
      return new EngineError('ENGINE_ERROR', 'the Triton replica does not serve the configured model', opts);
    case 429:
      return overloaded(opts, retryAfterMs ?? policy.overloadRetryAfterMs);
    case 503:
      if (OVERLOAD.test(text)) return overloaded(opts, retryAfterMs ?? policy.overloadRetryAfterMs);
      return new EngineError('POOL_UNREADY', 'the Triton replica has no ready instance of the model', opts);
    default:
      return new EngineError('ENGINE_ERROR', `the Triton replica failed the request (HTTP ${status})`, opts);
  }
}

function overloaded(opts: { upstreamStatus?: number; upstreamDetail: string }, retryAfterMs: number): EngineError {
  return new EngineError('REPLICA_EXHAUSTED', 'the Triton replica queue is full', { ...opts, retryAfterMs });
}
