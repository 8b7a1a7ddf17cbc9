// Gemini failures → the error taxonomy. Error bodies are google.rpc statuses
// `{"error":{"code","message","status","details"?}}` (ENGINES.md §9), in HTTP answers and, rarely,
// as a `data:` line. Before the first token: 429 RESOURCE_EXHAUSTED and 503 UNAVAILABLE are
// capacity (REPLICA_EXHAUSTED, hint from Retry-After or google.rpc.RetryInfo), other 5xx are
// transient (WORKER_RESET, retriable); a refused key, an unknown model or a 400 that is not about
// the request are our configuration (ENGINE_ERROR). After it, the stream broke (WORKER_RESET).

import { EngineError, type EngineErrorCode } from '../contract.ts';
import { toEngineError, type ErrorPolicy } from '../http/error-map.ts';
import { isRecord, numberField, parseJson, recordField, stringField, type JsonRecord } from '../../transport/json-fields.ts';
import { toUpstreamFailure, type InBandError } from '../../transport/upstream-failure.ts';

const DETAIL_LIMIT = 512;

export function geminiErrorPolicy(overloadRetryAfterMs: number): ErrorPolicy {
  return { engine: 'Gemini', isLoading: () => false, overloadRetryAfterMs };
}

/** A google.rpc status body as an InBandError (`type` = the status name); undefined when the value is not one. */
export function readGoogleError(value: unknown): (InBandError & { retryAfterMs?: number; reason?: string }) | undefined {
  if (!isRecord(value)) return undefined;
  const error = recordField(value, 'error');
  if (error === undefined) return undefined;
  const code = numberField(error, 'code');
  const status = stringField(error, 'status');
  const retryAfterMs = retryDelayOf(error);
  const reason = errorInfoReason(error);
  return {
    message: stringField(error, 'message') ?? 'provider error without a message',
    ...(code === undefined ? {} : { status: code }),
    ...(status === undefined ? {} : { type: status }),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(reason === undefined ? {} : { reason }),
  };
}

const details = (error: JsonRecord): JsonRecord[] => (Array.isArray(error['details']) ? error['details'].filter(isRecord) : []);

/** google.rpc.RetryInfo `retryDelay` ("17s", "0.5s") in ms. */
function retryDelayOf(error: JsonRecord): number | undefined {
  for (const d of details(error)) {
    const delay = stringField(d, 'retryDelay');
    const m = delay === undefined ? null : /^(\d+(?:\.\d+)?)s$/.exec(delay);
    if (m !== null) return Math.round(Number(m[1]) * 1000);
  }
  return undefined;
}

/** google.rpc.ErrorInfo `reason` (e.g. API_KEY_INVALID). */
function errorInfoReason(error: JsonRecord): string | undefined {
  for (const d of details(error)) {
    const reason = stringField(d, 'reason');
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/** `tokens`: how many output events the stream had produced when it failed. */
export function geminiError(err: unknown, tokens: number, policy: ErrorPolicy): EngineError {
  if (err instanceof EngineError) return err;
  const failure = toUpstreamFailure(err);
  if (failure.kind === 'in-band' && failure.inBand !== undefined) {
    const detail = `${failure.inBand.type ?? 'error'}: ${failure.inBand.message}`.slice(0, DETAIL_LIMIT);
    const early = tokens === 0 && failure.inBand.status !== undefined ? classify(failure.inBand.status, { ...failure.inBand, upstreamDetail: detail }, policy.overloadRetryAfterMs) : undefined;
    return early ?? new EngineError('WORKER_RESET', tokens > 0 ? `the Gemini stream failed after ${tokens} tokens` : 'the Gemini provider failed the answer before the first token', { upstreamDetail: detail, cause: failure });
  }
  if (failure.kind !== 'status' || failure.status === undefined) return toEngineError(failure, tokens, policy);
  const body = readGoogleError(parseJson(failure.bodyText ?? ''));
  const upstreamDetail = `HTTP ${failure.status} ${body === undefined ? (failure.bodyText ?? '') : `${body.type ?? ''}: ${body.message}`}`.trim().slice(0, DETAIL_LIMIT);
  const retryAfterMs = failure.retryAfterMs ?? body?.retryAfterMs ?? policy.overloadRetryAfterMs;
  return classify(failure.status, { ...body, message: body?.message ?? '', upstreamDetail }, retryAfterMs) ??
    new EngineError('ENGINE_ERROR', `the Gemini provider failed the request (HTTP ${failure.status})`, { upstreamStatus: failure.status, upstreamDetail, cause: failure });
}

interface Described extends Partial<InBandError> {
  reason?: string;
  upstreamDetail: string;
}

function classify(status: number, e: Described, retryAfterMs: number): EngineError | undefined {
  const make = (code: EngineErrorCode, message: string, hint?: number) =>
    new EngineError(code, message, { upstreamStatus: status, upstreamDetail: e.upstreamDetail, ...(hint === undefined ? {} : { retryAfterMs: hint }) });
  const keyRefused = status === 401 || status === 403 || e.reason === 'API_KEY_INVALID' || /api key/i.test(e.message ?? '');
  if (keyRefused) return make('ENGINE_ERROR', `the Gemini provider refused the configured API key (HTTP ${status})`);
  if (status === 429 || status === 503) return make('REPLICA_EXHAUSTED', 'the Gemini provider is at capacity', retryAfterMs);
  if (status >= 500) return make('WORKER_RESET', `the Gemini provider failed before the first token (HTTP ${status})`);
  if (status === 404) return make('ENGINE_ERROR', 'the Gemini provider does not serve the configured model');
  if (status === 400 && (e.type === 'INVALID_ARGUMENT' || e.type === undefined)) {
    const context = /token count|exceeds the maximum|too long/i.test(e.message ?? '');
    return make('INVALID_PARAMS', context ? 'the prompt plus max_tokens does not fit the Gemini context window' : 'the Gemini provider rejected the request parameters');
  }
  return undefined;
}
