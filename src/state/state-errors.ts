// The typed failures of a shared-state backend. Expected outcomes (a control message nobody
// acked, Redis gone) are values a caller switches on; the wiring maps STATE_UNAVAILABLE to a
// 503 with a retry hint (fail closed: nothing is admitted that cannot be tracked).

export type StateErrorCode =
  /** The backend cannot be reached or refused the command (connection lost, LOADING, READONLY). */
  | 'STATE_UNAVAILABLE'
  /** A control message reached no replica subscribed to the target's channel. */
  | 'CONTROL_UNREACHABLE'
  /** The target replica did not acknowledge a control message in time. */
  | 'CONTROL_TIMEOUT'
  /** Another live process already holds this replica id's lease. */
  | 'LEASE_HELD'
  /** This replica's lease was gone when it renewed (expired and possibly taken over): stop admitting. */
  | 'LEASE_LOST';

export class StateError extends Error {
  override readonly name = 'StateError';
  readonly code: StateErrorCode;
  /** When a retry may succeed (STATE_UNAVAILABLE: the reconnect backoff). */
  readonly retryAfterMs: number | undefined;

  constructor(code: StateErrorCode, message: string, opts: { retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** The retry hint a client gets while the shared state is unreachable. */
export const STATE_RETRY_AFTER_MS = 1_000;

/** Wraps whatever a Redis command rejected with as STATE_UNAVAILABLE (the message names the operation, never the URL). */
export function unavailable(operation: string, cause: unknown): StateError {
  if (cause instanceof StateError) return cause;
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new StateError('STATE_UNAVAILABLE', `shared state unavailable during ${operation}: ${reason}`, { retryAfterMs: STATE_RETRY_AFTER_MS, cause });
}
