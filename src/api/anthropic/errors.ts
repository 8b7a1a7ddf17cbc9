// The one error table rendered in Anthropic's envelope (issue 11):
// `{type:"error",error:{type,message},request_id}`; mid-stream an `event: error` frame. The
// HTTP status stays the table's, so audit, metrics and both dialects agree: capacity refusals
// are 503 with `overloaded_error` (not Anthropic's 529; the SDK retries both as >= 500).

import { httpStatusOf, type ErrorCode, type OrchError } from '../../core/errors.ts';
import { retryHeaders } from '../retry-headers.ts';

export const ANTHROPIC_ERROR_TYPES = {
  INVALID_PARAMS: 'invalid_request_error',
  UNAUTHORIZED: 'authentication_error',
  BUDGET_EXCEEDED: 'billing_error',
  FORBIDDEN: 'permission_error',
  NOT_FOUND: 'not_found_error',
  CONFLICT: 'invalid_request_error',
  TASK_CANCELED: 'invalid_request_error',
  SESSION_EXPIRED: 'invalid_request_error',
  PAYLOAD_TOO_LARGE: 'request_too_large',
  REQUEST_TIMEOUT: 'timeout_error',
  URI_TOO_LONG: 'invalid_request_error',
  HEADERS_TOO_LARGE: 'request_too_large',
  DEADLINE_UNMET: 'invalid_request_error',
  ADMISSION_REJECT: 'rate_limit_error',
  RATE_LIMITED: 'rate_limit_error',
  QUEUE_FULL_DROP_LRU: 'rate_limit_error',
  INTERNAL: 'api_error',
  ENGINE_ERROR: 'api_error',
  WORKER_RESET: 'api_error',
  POOL_UNREADY: 'overloaded_error',
  REPLICA_EXHAUSTED: 'overloaded_error',
  AUDIT_UNAVAILABLE: 'api_error',
  DRAINING: 'overloaded_error',
  STATE_UNAVAILABLE: 'api_error',
  DECODE_TIMEOUT: 'timeout_error',
  DEADLINE_EXCEEDED: 'timeout_error',
} as const satisfies Record<ErrorCode, string>;

export interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
  request_id?: string;
}

export function anthropicErrorBody(error: OrchError, correlationId?: string): AnthropicErrorBody {
  return {
    type: 'error',
    error: { type: ANTHROPIC_ERROR_TYPES[error.code], message: error.message },
    ...(correlationId === undefined ? {} : { request_id: correlationId }),
  };
}

/** Status, headers and body of an HTTP error answer (the route adds X-Correlation-Id). */
export function anthropicErrorResponse(error: OrchError, correlationId: string): { status: number; headers: Record<string, string>; body: AnthropicErrorBody } {
  return { status: httpStatusOf(error.code), headers: retryHeaders(error), body: anthropicErrorBody(error, correlationId) };
}

/** The mid-stream error frame; nothing follows it. */
export function anthropicErrorFrame(error: OrchError): string {
  return `event: error\ndata: ${JSON.stringify(anthropicErrorBody(error))}\n\n`;
}
