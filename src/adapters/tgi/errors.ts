// TGI wire errors → EngineError. TGI reports `{"error","error_type"}` in-band under HTTP 200 on
// `/generate_stream` and with a real status elsewhere (TGI router `impl From<InferError>`).
// Client messages are ours; the upstream text only ever lands in `upstreamDetail`.

import { EngineError } from '../contract.ts';
import { upstreamDetail } from './upstream.ts';

export interface TgiWireError {
  message: string;
  /** `overloaded | validation | generation | incomplete_generation[_stream] | …`. */
  type: string;
}

/** TGI sends no Retry-After for overload; a short pause lets the permit holders finish. */
export const TGI_OVERLOAD_RETRY_AFTER_MS = 1_000;

/**
 * An error event inside a stream. After the first token every failure is a broken stream
 * (WORKER_RESET, never silently retried); before it the type decides.
 */
export function tgiStreamError(wire: TgiWireError, afterFirstToken: boolean): EngineError {
  const detail = upstreamDetail(`${wire.type}: ${wire.message}`);
  if (afterFirstToken) {
    return new EngineError('WORKER_RESET', 'engine stream failed after the first token', { upstreamDetail: detail });
  }
  return byType(wire.type, detail, undefined, undefined);
}

/** A non-200 answer (`/generate_stream` request rejected before streaming, `/info`, …). */
export function tgiHttpError(status: number, body: string, retryAfterMs: number | undefined): EngineError {
  const wire = parseWireError(body);
  const detail = upstreamDetail(wire === undefined ? body : `${wire.type}: ${wire.message}`);
  if (wire !== undefined && KNOWN_TYPES.has(wire.type)) return byType(wire.type, detail, status, retryAfterMs);
  if (status === 429) return overloaded(detail, status, retryAfterMs);
  if (status === 400 || status === 413 || status === 422) {
    return new EngineError('INVALID_PARAMS', 'engine rejected the generation parameters', { upstreamStatus: status, upstreamDetail: detail });
  }
  if (status === 503) {
    return new EngineError('POOL_UNREADY', 'engine is not ready', { upstreamStatus: status, upstreamDetail: detail });
  }
  return new EngineError('ENGINE_ERROR', `engine answered with HTTP ${status}`, { upstreamStatus: status, upstreamDetail: detail });
}

const KNOWN_TYPES = new Set(['overloaded', 'validation', 'generation', 'incomplete_generation', 'incomplete_generation_stream']);

function byType(type: string, detail: string, status: number | undefined, retryAfterMs: number | undefined): EngineError {
  const opts = { upstreamStatus: status, upstreamDetail: detail };
  switch (type) {
    case 'overloaded':
      return overloaded(detail, status, retryAfterMs);
    case 'validation':
      return new EngineError('INVALID_PARAMS', 'engine rejected the generation parameters', opts);
    case 'generation':
    case 'incomplete_generation':
    case 'incomplete_generation_stream':
      // A shard failed (OOM, NCCL, crash): the replica's fault, so retriable elsewhere.
      return new EngineError('WORKER_RESET', 'engine failed during generation', opts);
    default:
      return new EngineError('ENGINE_ERROR', 'engine returned an error', opts);
  }
}

function overloaded(detail: string, status: number | undefined, retryAfterMs: number | undefined): EngineError {
  return new EngineError('REPLICA_EXHAUSTED', 'engine is at its concurrency limit', {
    retryAfterMs: retryAfterMs ?? TGI_OVERLOAD_RETRY_AFTER_MS,
    upstreamStatus: status,
    upstreamDetail: detail,
  });
}

function parseWireError(body: string): TgiWireError | undefined {
  try {
    const value: unknown = JSON.parse(body);
    if (typeof value !== 'object' || value === null) return undefined;
    const { error, error_type: type } = value as { error?: unknown; error_type?: unknown };
    if (typeof error !== 'string') return undefined;
    return { message: error, type: typeof type === 'string' ? type : 'unknown' };
  } catch {
    return undefined;
  }
}
