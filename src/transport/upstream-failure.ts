// Transport-level failure of a call to an upstream engine, as a small closed set of kinds.
// It names what went wrong on the wire; mapping a kind to the error taxonomy is each
// adapter's job (src/adapters/<engine>/errors.ts), so this module never imports core.

export type UpstreamFailureKind =
  /** No TCP connection: refused, unreachable, unresolvable (an engine still loading, or down). */
  | 'refused'
  | 'connect-timeout'
  /** Response headers did not arrive within the first-byte budget. */
  | 'first-byte-timeout'
  /** The body went silent for longer than the idle budget (keep-alive comments count as bytes). */
  | 'idle-timeout'
  /** The connection broke: reset, closed mid-response, or our pool was closed under it. */
  | 'reset'
  /** The engine answered with a non-2xx status. */
  | 'status'
  /** The stream itself carried an error after a 2xx status. */
  | 'in-band'
  /** The body ended cleanly but without the stream's terminal marker. */
  | 'truncated'
  /** Anything else: malformed HTTP, an unexpected client error. */
  | 'protocol';

/** An error object as engines put it on the wire, already unwrapped from its envelope. */
export interface InBandError {
  /** HTTP-like status the engine attached (`code` in OpenAI/llama.cpp bodies), if any. */
  status?: number;
  /** The engine's error type string (`unavailable_error`, `BadRequestError`, ...), if any. */
  type?: string;
  message: string;
}

export interface UpstreamFailureInit {
  status?: number;
  /** Up to a few KiB of the upstream body, for logs only. */
  bodyText?: string;
  retryAfterMs?: number;
  /** The answer's headers (status failures only), for provider-specific retry hints. */
  headers?: Readonly<Record<string, string | string[] | undefined>>;
  inBand?: InBandError;
  cause?: unknown;
}

export class UpstreamFailure extends Error {
  readonly kind: UpstreamFailureKind;
  readonly status: number | undefined;
  readonly bodyText: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly headers: Readonly<Record<string, string | string[] | undefined>> | undefined;
  readonly inBand: InBandError | undefined;
  constructor(kind: UpstreamFailureKind, message: string, init: UpstreamFailureInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'UpstreamFailure';
    this.kind = kind;
    this.status = init.status;
    this.bodyText = init.bodyText;
    this.retryAfterMs = init.retryAfterMs;
    this.headers = init.headers;
    this.inBand = init.inBand;
  }
}

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);
const RESET_CODES = new Set([
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/** Finds a system/undici error code on an error, its cause chain, or an AggregateError's members. */
export function errorCodeOf(err: unknown, depth = 0): string | undefined {
  if (typeof err !== 'object' || err === null || depth > 4) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') return code;
  if (err instanceof AggregateError) {
    for (const member of err.errors) {
      const inner = errorCodeOf(member, depth + 1);
      if (inner !== undefined) return inner;
    }
  }
  return errorCodeOf((err as { cause?: unknown }).cause, depth + 1);
}

/** Classifies anything undici (or our stream driver) threw; UpstreamFailures pass through. */
export function toUpstreamFailure(err: unknown): UpstreamFailure {
  if (err instanceof UpstreamFailure) return err;
  const code = errorCodeOf(err);
  const text = err instanceof Error ? err.message : String(err);
  if (code !== undefined && CONNECT_CODES.has(code)) return new UpstreamFailure('refused', text, { cause: err });
  if (code !== undefined && RESET_CODES.has(code)) return new UpstreamFailure('reset', text, { cause: err });
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return new UpstreamFailure('connect-timeout', text, { cause: err });
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new UpstreamFailure('first-byte-timeout', text, { cause: err });
    case 'UND_ERR_BODY_TIMEOUT':
      return new UpstreamFailure('idle-timeout', text, { cause: err });
    default:
      return new UpstreamFailure('protocol', text, { cause: err });
  }
}

const TRANSIENT: ReadonlySet<UpstreamFailureKind> = new Set(['reset', 'connect-timeout', 'first-byte-timeout', 'idle-timeout']);

/**
 * Worth another try for an idempotent call. A refused connection is not: the engine is down or
 * loading, and the caller's own probe cadence is the right backoff for that.
 */
export function isTransientFailure(err: unknown): boolean {
  return err instanceof UpstreamFailure && TRANSIENT.has(err.kind);
}

/** Error bodies are for logs only; a few KiB is plenty and bounds memory. */
export const ERROR_BODY_LIMIT = 8 * 1024;

/** A non-2xx answer: its status, the start of its body and any Retry-After hint. */
export function statusFailure(status: number, headers: Record<string, string | string[] | undefined>, bodyText: string): UpstreamFailure {
  const retryAfterMs = parseRetryAfterMs(headers['retry-after'], Date.now());
  return new UpstreamFailure('status', `engine answered HTTP ${status}`, {
    status,
    bodyText: bodyText.slice(0, ERROR_BODY_LIMIT),
    headers,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; undefined when absent or bad. */
export function parseRetryAfterMs(value: string | string[] | undefined, nowMs: number): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined) return undefined;
  const trimmed = raw.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
