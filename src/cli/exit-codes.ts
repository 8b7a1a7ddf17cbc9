// The CLI's exit codes: one per error class, derived from the error taxonomy's code → status
// table so a new error code lands in the right class by its status. Documented in
// `orchqueue --help` and the README; scripts branch on them, so they never change meaning.

import { ERROR_TABLE, isErrorCode } from '../core/errors.ts';

export const EXIT = {
  OK: 0,
  OTHER: 1,
  USAGE: 2,
  INVALID: 3,
  NOT_FOUND: 4,
  CONFLICT: 5,
  BACKPRESSURE: 6,
  UNAVAILABLE: 7,
  UNAUTHORIZED: 8,
  AUDIT_BROKEN: 9,
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export const EXIT_CODE_HELP = `Exit codes:
  0    success
  1    any other failure (an unexpected answer, a task that ended with an error of no other class)
  2    usage error (unknown command or option, missing argument)
  3    invalid request: 400 INVALID_PARAMS, 413 PAYLOAD_TOO_LARGE, 422 DEADLINE_UNMET
  4    not found: 404 NOT_FOUND (unknown task, session, pool or route)
  5    conflict, budget or session: 409 CONFLICT or TASK_CANCELED, 402 BUDGET_EXCEEDED, 410 SESSION_EXPIRED
  6    backpressure: 429 ADMISSION_REJECT, RATE_LIMITED, QUEUE_FULL_DROP_LRU (retry later; see --retry)
  7    unavailable: 5xx (POOL_UNREADY, DRAINING, WORKER_RESET, DECODE_TIMEOUT, ...) or the gateway
       cannot be reached
  8    unauthorized or forbidden: 401 UNAUTHORIZED, 403 FORBIDDEN
  9    audit verify found a broken chain
  130  interrupted (Ctrl-C); during submit --stream the task is canceled first`;

/** Exit code for an HTTP status (0 = the gateway could not be reached). */
export function exitCodeForStatus(status: number): ExitCode {
  if (status === 0) return EXIT.UNAVAILABLE;
  if (status === 401 || status === 403) return EXIT.UNAUTHORIZED;
  if (status === 404) return EXIT.NOT_FOUND;
  if (status === 402 || status === 409 || status === 410) return EXIT.CONFLICT;
  if (status === 429) return EXIT.BACKPRESSURE;
  if (status === 400 || status === 413 || status === 422) return EXIT.INVALID;
  if (status >= 500 && status <= 599) return EXIT.UNAVAILABLE;
  return EXIT.OTHER;
}

/** Exit code for an error code (HTTP refusal or a terminal `error` event), by its status. */
export function exitCodeForError(code: string | undefined, status: number): ExitCode {
  return isErrorCode(code) ? exitCodeForStatus(ERROR_TABLE[code].status) : exitCodeForStatus(status);
}
