// The typed failures of a shared-state backend. Expected outcomes (a control message nobody
// acked, Redis gone) are values a caller switches on; STATE_UNAVAILABLE is also the client's
// error code (ERROR_TABLE: 503, retriable): `toOrchError` renders it with its retry hint
// (fail closed: nothing is admitted that cannot be tracked).

import { orchError, type OrchError } from '../core/errors.ts';

export type StateErrorCode =
  /** The backend cannot be reached or refused the command (connection lost, LOADING, READONLY); the client's code too. */
  | Extract<OrchError['code'], 'STATE_UNAVAILABLE'>
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

/**
 * What a client is told when a shared-state step failed: STATE_UNAVAILABLE with its retry hint.
 * The other codes are about replicas, not the request; reaching a client they are a bug (INTERNAL).
 */
export function toOrchError(error: StateError): OrchError {
  if (error.code !== 'STATE_UNAVAILABLE') return orchError('INTERNAL', 'internal error');
  return orchError('STATE_UNAVAILABLE', 'shared state is unavailable; retry later', { retry_after_ms: error.retryAfterMs ?? STATE_RETRY_AFTER_MS });
}
