// The one error table rendered in OpenAI's envelope (issue 11): `{error:{message,type,param,code}}`
// with our status, `type` from the table below, `param` = the field we named, and `code` = our
// taxonomy code (stable, documented in docs/api.md). Mid-stream, the same object as an SSE
// `data:` line, as OpenAI and llama.cpp send it.

import { httpStatusOf, type ErrorCode, type OrchError } from '../../core/errors.ts';
import { retryHeaders } from '../retry-headers.ts';

export const OPENAI_ERROR_TYPES = {
  INVALID_PARAMS: 'invalid_request_error',
  UNAUTHORIZED: 'authentication_error',
  BUDGET_EXCEEDED: 'insufficient_quota',
  FORBIDDEN: 'permission_error',
  NOT_FOUND: 'not_found_error',
  CONFLICT: 'invalid_request_error',
  TASK_CANCELED: 'invalid_request_error',
  SESSION_EXPIRED: 'invalid_request_error',
  PAYLOAD_TOO_LARGE: 'invalid_request_error',
  REQUEST_TIMEOUT: 'timeout_error',
  URI_TOO_LONG: 'invalid_request_error',
  HEADERS_TOO_LARGE: 'invalid_request_error',
  DEADLINE_UNMET: 'invalid_request_error',
  ADMISSION_REJECT: 'rate_limit_error',
  RATE_LIMITED: 'rate_limit_error',
  QUEUE_FULL_DROP_LRU: 'rate_limit_error',
  INTERNAL: 'server_error',
  ENGINE_ERROR: 'server_error',
  WORKER_RESET: 'server_error',
  POOL_UNREADY: 'service_unavailable_error',
  REPLICA_EXHAUSTED: 'service_unavailable_error',
  AUDIT_UNAVAILABLE: 'service_unavailable_error',
  DRAINING: 'service_unavailable_error',
  STATE_UNAVAILABLE: 'service_unavailable_error',
  DECODE_TIMEOUT: 'timeout_error',
  DEADLINE_EXCEEDED: 'timeout_error',
} as const satisfies Record<ErrorCode, string>;

export interface OpenAiErrorBody {
  error: { message: string; type: string; param: string | null; code: ErrorCode };
}

export function openAiErrorBody(error: OrchError): OpenAiErrorBody {
  return { error: { message: error.message, type: OPENAI_ERROR_TYPES[error.code], param: error.field ?? null, code: error.code } };
}

/** Status, headers and body of an HTTP error answer (the route adds X-Correlation-Id). */
export function openAiErrorResponse(error: OrchError): { status: number; headers: Record<string, string>; body: OpenAiErrorBody } {
  return { status: httpStatusOf(error.code), headers: retryHeaders(error), body: openAiErrorBody(error) };
}

/** The mid-stream error frame; the stream ends after it (no `[DONE]`). */
export function openAiErrorFrame(error: OrchError): string {
  return `data: ${JSON.stringify(openAiErrorBody(error))}\n\n`;
}
