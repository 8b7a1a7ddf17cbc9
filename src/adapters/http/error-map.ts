// Maps transport failures and engine error bodies into the error taxonomy, once for every
// HTTP engine (OpenAI-style bodies in full; TGI and Triton map their own bodies first). Client-
// facing messages are written here; upstream text only ever goes to `upstreamDetail` (logs).
// Engines plug in what differs: their label and how they say "still loading".

import { EngineError, type EngineErrorCode } from '../contract.ts';
import { UpstreamFailure, toUpstreamFailure, type InBandError } from '../../transport/upstream-failure.ts';
import { parseErrorText } from '../openai-compat/error-body.ts';

export interface ErrorPolicy {
  /** Human label used in our messages, e.g. "llama.cpp". */
  engine: string;
  /** True when an error (HTTP body or in-band) means the model is still loading. */
  isLoading(error: InBandError | undefined, status: number | undefined): boolean;
  /** Retry hint for an overload answer that carried no Retry-After. */
  overloadRetryAfterMs: number;
}

const DETAIL_LIMIT = 512;
const VALIDATION_STATUSES = new Set([400, 413, 422]);
const OVERLOAD_STATUSES = new Set([429, 503]);

function detailOf(error: InBandError | undefined, fallback: string | undefined): string | undefined {
  const text = error === undefined ? fallback : `${error.type ?? 'error'}: ${error.message}`;
  return text === undefined ? undefined : text.slice(0, DETAIL_LIMIT);
}

/**
 * `tokens` is how many tokens the stream had already produced: after the first one, any
 * failure is a broken stream (WORKER_RESET) that must not be silently retried.
 */
export function toEngineError(err: unknown, tokens: number, policy: ErrorPolicy): EngineError {
  if (err instanceof EngineError) return err;
  const failure = toUpstreamFailure(err);
  const e = policy.engine;
  const make = (code: EngineErrorCode, message: string, extra: { retryAfterMs?: number; upstreamDetail?: string } = {}) =>
    new EngineError(code, message, {
      cause: failure,
      ...(failure.status === undefined ? {} : { upstreamStatus: failure.status }),
      upstreamDetail: extra.upstreamDetail ?? failure.message.slice(0, DETAIL_LIMIT),
      ...(extra.retryAfterMs === undefined ? {} : { retryAfterMs: extra.retryAfterMs }),
    });
  switch (failure.kind) {
    case 'refused':
    case 'connect-timeout':
      return make('POOL_UNREADY', `the ${e} replica is not accepting connections`);
    case 'first-byte-timeout':
      return make('DECODE_TIMEOUT', `the ${e} replica did not answer within the first-byte timeout`);
    case 'idle-timeout':
      return make('DECODE_TIMEOUT', `the ${e} stream went silent for longer than the idle timeout`);
    case 'reset':
    case 'truncated':
      return make('WORKER_RESET', brokenStream(e, tokens));
    case 'protocol':
      return make('ENGINE_ERROR', `the ${e} replica answered with malformed HTTP`);
    case 'status':
      return fromStatus(failure, policy, make);
    case 'in-band':
      return fromInBand(failure, tokens, policy, make);
  }
}

type Make = (code: EngineErrorCode, message: string, extra?: { retryAfterMs?: number; upstreamDetail?: string }) => EngineError;

function brokenStream(engine: string, tokens: number): string {
  return tokens > 0
    ? `the ${engine} stream broke after ${tokens} tokens`
    : `the ${engine} replica dropped the request before the first token`;
}

function fromStatus(failure: UpstreamFailure, policy: ErrorPolicy, make: Make): EngineError {
  const status = failure.status ?? 0;
  const body = failure.bodyText === undefined ? undefined : parseErrorText(failure.bodyText);
  const upstreamDetail = `HTTP ${status} ${detailOf(body, failure.bodyText) ?? ''}`.trim();
  return classify(status, body, failure.retryAfterMs, policy, make, upstreamDetail) ??
    make('ENGINE_ERROR', `the ${policy.engine} replica failed the request (HTTP ${status})`, { upstreamDetail });
}

function fromInBand(failure: UpstreamFailure, tokens: number, policy: ErrorPolicy, make: Make): EngineError {
  const error = failure.inBand;
  const upstreamDetail = detailOf(error, undefined);
  if (tokens === 0 && error?.status !== undefined) {
    const early = classify(error.status, error, undefined, policy, make, upstreamDetail);
    if (early !== undefined) return early;
  }
  return make('WORKER_RESET', `the ${policy.engine} replica reported an error inside the stream`, {
    ...(upstreamDetail === undefined ? {} : { upstreamDetail }),
  });
}

/** The status-driven codes; undefined for "anything else" (the caller picks the fallback). */
function classify(
  status: number,
  error: InBandError | undefined,
  retryAfterMs: number | undefined,
  policy: ErrorPolicy,
  make: Make,
  upstreamDetail: string | undefined,
): EngineError | undefined {
  const detail = upstreamDetail === undefined ? {} : { upstreamDetail };
  if (policy.isLoading(error, status)) return make('POOL_UNREADY', `the ${policy.engine} replica is still loading its model`, detail);
  if (OVERLOAD_STATUSES.has(status)) {
    return make('REPLICA_EXHAUSTED', `the ${policy.engine} replica is at capacity`, {
      ...detail,
      retryAfterMs: retryAfterMs ?? policy.overloadRetryAfterMs,
    });
  }
  if (VALIDATION_STATUSES.has(status)) {
    const context = error?.type === 'exceed_context_size_error' || /context length|context size/i.test(error?.message ?? '');
    const message = context
      ? `the prompt plus max_tokens does not fit the ${policy.engine} context window`
      : `the ${policy.engine} replica rejected the request parameters`;
    return make('INVALID_PARAMS', message, detail);
  }
  return undefined;
}
