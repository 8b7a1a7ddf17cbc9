// The error taxonomy: one union of codes, one table code → HTTP status → retriable.
// Every layer (HTTP body, SSE `error` event, CLI exit codes, docs) reads this table; a test
// keeps it, the OpenAPI `ErrorCode` enum and docs/api.md in sync.

export const ERROR_TABLE = {
  INVALID_PARAMS: { status: 400, retriable: false },
  UNAUTHORIZED: { status: 401, retriable: false },
  BUDGET_EXCEEDED: { status: 402, retriable: false },
  FORBIDDEN: { status: 403, retriable: false },
  NOT_FOUND: { status: 404, retriable: false },
  REQUEST_TIMEOUT: { status: 408, retriable: true },
  CONFLICT: { status: 409, retriable: false },
  TASK_CANCELED: { status: 409, retriable: false },
  SESSION_EXPIRED: { status: 410, retriable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retriable: false },
  URI_TOO_LONG: { status: 414, retriable: false },
  DEADLINE_UNMET: { status: 422, retriable: false },
  ADMISSION_REJECT: { status: 429, retriable: true },
  RATE_LIMITED: { status: 429, retriable: true },
  QUEUE_FULL_DROP_LRU: { status: 429, retriable: true },
  HEADERS_TOO_LARGE: { status: 431, retriable: false },
  INTERNAL: { status: 500, retriable: false },
  ENGINE_ERROR: { status: 502, retriable: false },
  WORKER_RESET: { status: 502, retriable: true },
  POOL_UNREADY: { status: 503, retriable: true },
  REPLICA_EXHAUSTED: { status: 503, retriable: true },
  AUDIT_UNAVAILABLE: { status: 503, retriable: true },
  DRAINING: { status: 503, retriable: true },
  STATE_UNAVAILABLE: { status: 503, retriable: true },
  DECODE_TIMEOUT: { status: 504, retriable: true },
  DEADLINE_EXCEEDED: { status: 504, retriable: false },
} as const satisfies Record<string, { status: number; retriable: boolean }>;

export type ErrorCode = keyof typeof ERROR_TABLE;
export const ERROR_CODES = Object.keys(ERROR_TABLE) as ErrorCode[];

/** Optional context an error may carry; every field maps 1:1 to the wire envelope. */
export interface ErrorDetail {
  field?: string;
  engine?: string;
  pool_id?: string;
  retry_after_ms?: number;
  policy_label?: string;
  budget?: string;
  /** The tenant or key quota that refused (ORCH-1212), e.g. `requests_per_min`. */
  limit?: string;
}

/** An error as a stream reader sees it: the data of the SSE `error` event. */
export interface ErrorData {
  code: ErrorCode;
  message: string;
  retriable: boolean;
  retry_after_ms?: number;
  engine?: string;
}

/** The one error value of the domain. `message` is ours, never an upstream body. */
export interface OrchError extends ErrorDetail {
  code: ErrorCode;
  message: string;
  retriable: boolean;
}

export function orchError(code: ErrorCode, message: string, detail: ErrorDetail = {}): OrchError {
  return { code, message, retriable: ERROR_TABLE[code].retriable, ...detail };
}

/**
 * The SSE `error` event's data for an error (one of the two renderers; the HTTP body is the
 * other, in src/api/errors.ts): only the fields a stream reader needs, never more.
 */
export function errorEventData(error: OrchError): ErrorData {
  return {
    code: error.code,
    message: error.message,
    retriable: error.retriable,
    ...(error.retry_after_ms !== undefined ? { retry_after_ms: error.retry_after_ms } : {}),
    ...(error.engine !== undefined ? { engine: error.engine } : {}),
  };
}

export function httpStatusOf(code: ErrorCode): number {
  return ERROR_TABLE[code].status;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_TABLE, value);
}

/** Expected outcomes are results, not exceptions (STYLE: throw is for bugs). */
export type Result<T> = { ok: true; value: T } | { ok: false; error: OrchError };
export const ok = <T>(value: T): Result<T> => ({ ok: true, value });
export const fail = <T = never>(error: OrchError): Result<T> => ({ ok: false, error });
