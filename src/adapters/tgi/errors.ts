// TGI failures → EngineError. TGI reports `{"error","error_type"}` in-band under HTTP 200 on
// `/generate_stream` and with a real status elsewhere (router `impl From<InferError>`); the
// error_type decides, not the wording. Client messages are ours; upstream text only reaches
// `upstreamDetail`. Transport failures (refused, timeouts, resets) map like every HTTP engine.

import { EngineError, type EngineErrorCode } from '../contract.ts';
import { parseJson, isRecord, stringField } from '../../transport/json-fields.ts';
import { toUpstreamFailure, type InBandError } from '../../transport/upstream-failure.ts';
import { toEngineError, type ErrorPolicy } from '../http/error-map.ts';

const DETAIL_LIMIT = 512;

export function tgiErrorPolicy(overloadRetryAfterMs: number): ErrorPolicy {
  // TGI never answers while loading (the router starts after the shards): refused says it all.
  return { engine: 'TGI', isLoading: () => false, overloadRetryAfterMs };
}

/** `tokens`: how many tokens the stream had produced when it failed. */
export function tgiError(err: unknown, tokens: number, policy: ErrorPolicy): EngineError {
  if (err instanceof EngineError) return err;
  const failure = toUpstreamFailure(err);
  if (failure.kind === 'in-band' && failure.inBand !== undefined) return tgiStreamError(failure.inBand, tokens, policy);
  if (failure.kind === 'status') return tgiStatusError(failure.status ?? 0, failure.bodyText ?? '', failure.retryAfterMs, policy);
  return toEngineError(failure, tokens, policy);
}

/**
 * An error event inside a stream. After the first token every failure is a broken stream
 * (WORKER_RESET, never silently retried); before it the error_type decides.
 */
export function tgiStreamError(wire: InBandError, tokens: number, policy: ErrorPolicy): EngineError {
  const upstreamDetail = detail(wire);
  if (tokens > 0) return new EngineError('WORKER_RESET', `the TGI stream failed after ${tokens} tokens`, { upstreamDetail });
  return byType(wire.type ?? 'unknown', { upstreamDetail }, policy.overloadRetryAfterMs) ??
    new EngineError('ENGINE_ERROR', 'the TGI replica returned an error', { upstreamDetail });
}

/** A non-200 answer: a request the router rejected before streaming, or a control call. */
export function tgiStatusError(status: number, body: string, retryAfterMs: number | undefined, policy: ErrorPolicy): EngineError {
  const parsed = parseJson(body);
  const wire: InBandError | undefined = isRecord(parsed) && typeof parsed['error'] === 'string'
    ? { type: stringField(parsed, 'error_type') ?? 'unknown', message: parsed['error'] }
    : undefined;
  const opts = { upstreamStatus: status, upstreamDetail: `HTTP ${status} ${wire === undefined ? body.slice(0, DETAIL_LIMIT) : detail(wire)}`.trim() };
  const typed = wire === undefined ? undefined : byType(wire.type ?? 'unknown', opts, retryAfterMs ?? policy.overloadRetryAfterMs);
  if (typed !== undefined) return typed;
  const code: EngineErrorCode | undefined = STATUS_CODES[status];
  if (code === 'REPLICA_EXHAUSTED') return overloaded(opts, retryAfterMs ?? policy.overloadRetryAfterMs);
  if (code !== undefined) return new EngineError(code, MESSAGES[code], opts);
  return new EngineError('ENGINE_ERROR', `the TGI replica failed the request (HTTP ${status})`, opts);
}

const STATUS_CODES: Partial<Record<number, EngineErrorCode>> = {
  400: 'INVALID_PARAMS', 413: 'INVALID_PARAMS', 422: 'INVALID_PARAMS', 429: 'REPLICA_EXHAUSTED', 503: 'POOL_UNREADY',
};

const MESSAGES: Record<EngineErrorCode, string> = {
  INVALID_PARAMS: 'the TGI replica rejected the generation parameters',
  REPLICA_EXHAUSTED: 'the TGI replica is at its concurrency limit',
  WORKER_RESET: 'the TGI replica failed during generation',
  POOL_UNREADY: 'the TGI replica is not ready',
  DECODE_TIMEOUT: 'the TGI replica timed out',
  ENGINE_ERROR: 'the TGI replica returned an error',
};

type Opts = { upstreamStatus?: number; upstreamDetail: string };

function byType(type: string, opts: Opts, retryAfterMs: number): EngineError | undefined {
  switch (type) {
    case 'overloaded':
      return overloaded(opts, retryAfterMs);
    case 'validation':
      return new EngineError('INVALID_PARAMS', MESSAGES.INVALID_PARAMS, opts);
    case 'generation':
    case 'incomplete_generation':
    case 'incomplete_generation_stream':
      // A shard failed (OOM, NCCL, crash): the replica's fault, so retriable elsewhere.
      return new EngineError('WORKER_RESET', MESSAGES.WORKER_RESET, opts);
    default:
      return undefined;
  }
}

function overloaded(opts: Opts, retryAfterMs: number): EngineError {
  // `--max-concurrent-requests` permits exhausted; TGI sends no Retry-After of its own.
  return new EngineError('REPLICA_EXHAUSTED', MESSAGES.REPLICA_EXHAUSTED, { ...opts, retryAfterMs });
}

function detail(wire: InBandError): string {
  return `${wire.type ?? 'error'}: ${wire.message}`.slice(0, DETAIL_LIMIT);
}
