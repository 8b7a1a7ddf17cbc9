// Hosted-provider failures → the error taxonomy (issue 13 item 5). Before the first token a
// provider's 429/529/503 is REPLICA_EXHAUSTED and other 5xx WORKER_RESET, both retriable with
// the provider's own hint (Retry-After, retry-after-ms, else its rate-limit reset); 401/402/403/
// 404 are our configuration (ENGINE_ERROR); after the first token every failure is WORKER_RESET.
// The key is scrubbed from every detail, and no upstream body is kept as an error's cause.

import { EngineError, type EngineErrorCode } from '../contract.ts';
import { toUpstreamFailure, type InBandError, type UpstreamFailure } from '../../transport/upstream-failure.ts';
import { toEngineError } from './error-map.ts';
import { parseErrorText } from '../openai-compat/error-body.ts';
import { redact, scrubSecret } from './secret-scrub.ts';

export type ResponseHeaders = Readonly<Record<string, string | string[] | undefined>>;

export interface ProviderErrorPolicy {
  /** Human label used in our messages, e.g. "OpenAI-compatible provider". */
  provider: string;
  /** Retry hint when nothing in the answer gives one. */
  overloadRetryAfterMs: number;
  /** The provider's rate-limit reset (ms from now) read from an answer's headers, if it says. */
  resetHintMs(headers: ResponseHeaders, nowMs: number): number | undefined;
  /** HTTP-like status for an in-band error that carries only a type (Anthropic `overloaded_error`). */
  statusOfType?(type: string | undefined): number | undefined;
  /**
   * Every key the adapter has recently sent (a key file may be rotated while calls with the old
   * key are still in flight), each scrubbed from every detail we keep.
   */
  secrets(): readonly string[];
}

/**
 * The distinct keys an adapter resolved most recently, newest last: an error answered to a call
 * made with a key that has since been rotated is still scrubbed of it. Bounded, so a key file
 * rewritten in a loop cannot grow it.
 */
export class RecentSecrets {
  readonly #keys: string[] = [];
  readonly #max: number;
  constructor(max = 4) {
    this.#max = max;
  }
  /** Records a key about to be sent; returns it. */
  use(key: string): string {
    if (this.#keys.at(-1) === key) return key;
    const at = this.#keys.indexOf(key);
    if (at >= 0) this.#keys.splice(at, 1);
    this.#keys.push(key);
    if (this.#keys.length > this.#max) this.#keys.shift();
    return key;
  }
  list(): readonly string[] {
    return this.#keys;
  }
}

const DETAIL_LIMIT = 512;
const OVERLOAD = new Set([429, 503, 529]);
const VALIDATION = new Set([400, 413, 422]);

/** `tokens`: output events the stream had produced when it failed (after one, nothing is retried). */
export function providerError(err: unknown, tokens: number, policy: ProviderErrorPolicy): EngineError {
  if (err instanceof EngineError) return scrubSecret(err, policy.secrets());
  const failure = toUpstreamFailure(err);
  if (failure.kind === 'status') return fromStatus(failure, policy);
  if (failure.kind === 'in-band') return fromInBand(failure.inBand ?? { message: 'in-band error' }, tokens, policy);
  const mapped = toEngineError(failure, tokens, { engine: policy.provider, isLoading: () => false, overloadRetryAfterMs: policy.overloadRetryAfterMs });
  return scrubSecret(mapped, policy.secrets());
}


function fromStatus(failure: UpstreamFailure, policy: ProviderErrorPolicy): EngineError {
  const status = failure.status ?? 0;
  const body = failure.bodyText === undefined ? undefined : parseErrorText(failure.bodyText);
  const text = body === undefined ? (failure.bodyText ?? '') : `${body.type ?? 'error'}: ${body.message}`;
  const detail = redact(`HTTP ${status} ${text}`.trim(), policy.secrets()).slice(0, DETAIL_LIMIT);
  const retryAfterMs = retryHintMs(failure, policy);
  return classify(status, body, { upstreamStatus: status, upstreamDetail: detail, retryAfterMs }, policy) ??
    new EngineError('ENGINE_ERROR', `the ${policy.provider} failed the request (HTTP ${status})`, { upstreamStatus: status, upstreamDetail: detail });
}

function fromInBand(error: InBandError, tokens: number, policy: ProviderErrorPolicy): EngineError {
  const upstreamDetail = redact(`in-band ${error.type ?? 'error'}: ${error.message}`, policy.secrets()).slice(0, DETAIL_LIMIT);
  if (tokens === 0) {
    const status = error.status ?? policy.statusOfType?.(error.type);
    const early = status === undefined ? undefined : classify(status, error, { upstreamDetail, retryAfterMs: undefined }, policy);
    if (early !== undefined) return early;
  }
  const message = tokens > 0
    ? `the ${policy.provider} stream failed after ${tokens} tokens`
    : `the ${policy.provider} reported an error inside the stream`;
  return new EngineError('WORKER_RESET', message, { upstreamDetail });
}

interface Facts {
  upstreamStatus?: number;
  upstreamDetail: string;
  retryAfterMs: number | undefined;
}

function classify(status: number, body: InBandError | undefined, facts: Facts, policy: ProviderErrorPolicy): EngineError | undefined {
  const p = policy.provider;
  const base = { upstreamDetail: facts.upstreamDetail, ...(facts.upstreamStatus === undefined ? {} : { upstreamStatus: facts.upstreamStatus }) };
  const make = (code: EngineErrorCode, message: string, retry = false) =>
    new EngineError(code, message, { ...base, ...(retry ? { retryAfterMs: facts.retryAfterMs ?? policy.overloadRetryAfterMs } : {}) });
  if (OVERLOAD.has(status)) return make('REPLICA_EXHAUSTED', status === 429 ? `the ${p} rate limit is spent` : `the ${p} is overloaded`, true);
  if (VALIDATION.has(status)) {
    const context = /context length|context window|context_length|too long|maximum context/i.test(body?.message ?? '');
    return make('INVALID_PARAMS', context ? `the prompt plus max_tokens does not fit the ${p} context window` : `the ${p} rejected the request parameters`);
  }
  if (status === 401 || status === 403) return make('ENGINE_ERROR', `the ${p} refused the gateway's API key (HTTP ${status})`);
  if (status === 402) return make('ENGINE_ERROR', `the ${p} account cannot pay for the request (HTTP 402)`);
  if (status === 404) return make('ENGINE_ERROR', `the ${p} does not serve the configured model (HTTP 404)`);
  if (status === 408) return make('DECODE_TIMEOUT', `the ${p} timed out before answering`);
  if (status >= 500) return make('WORKER_RESET', `the ${p} failed before the first token (HTTP ${status})`, true);
  return undefined;
}

/** Retry-After (already parsed), then OpenAI's `retry-after-ms`, then the provider's rate-limit reset. */
function retryHintMs(failure: UpstreamFailure, policy: ProviderErrorPolicy): number | undefined {
  if (failure.retryAfterMs !== undefined) return failure.retryAfterMs;
  const headers = failure.headers ?? {};
  const ms = headers['retry-after-ms'];
  const raw = Array.isArray(ms) ? ms[0] : ms;
  if (raw !== undefined && /^\d+(\.\d+)?$/.test(raw.trim())) return Math.ceil(Number(raw));
  return policy.resetHintMs(headers, Date.now());
}
