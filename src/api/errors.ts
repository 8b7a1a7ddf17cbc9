// The HTTP renderer of an OrchError (the SSE `error` event data is the other one, in
// core/errors.ts: errorEventData). Both are exhaustive over the envelope fields; neither ever carries a
// stack trace or an upstream body. Fastify's own errors are translated here too.

import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply } from 'fastify';
import { httpStatusOf, orchError, type OrchError } from '../core/errors.ts';
import { anthropicErrorResponse } from './anthropic/errors.ts';
import { openAiErrorResponse } from './openai/errors.ts';

/** The client wire format a route speaks; its errors use that dialect's envelope (ORCH-1103). */
export type Dialect = 'openai' | 'anthropic';

declare module 'fastify' {
  interface FastifyContextConfig {
    dialect?: Dialect;
  }
}

/** A refusal raised where Fastify expects an Error (a body parser); rendered as its OrchError. */
export class RequestRefusal extends Error {
  readonly error: OrchError;
  constructor(error: OrchError) {
    super(error.message);
    this.error = error;
  }
}

export interface ErrorBody {
  error: OrchError & { correlation_id: string };
}

export function renderHttpError(error: OrchError, correlationId: string): ErrorBody {
  return { error: { ...error, correlation_id: correlationId } };
}

/** Sends an error with its status, and the backoff headers when it carries a retry hint. */
export function sendError(reply: FastifyReply, error: OrchError): FastifyReply {
  const dialect = reply.request.routeOptions.config?.dialect;
  if (dialect !== undefined) {
    const answer = dialect === 'openai' ? openAiErrorResponse(error) : anthropicErrorResponse(error, String(reply.request.id));
    return reply.code(answer.status).headers(answer.headers).type('application/json').send(answer.body);
  }
  const status = httpStatusOf(error.code);
  if (error.retry_after_ms !== undefined && (status === 429 || status === 503)) {
    reply.header('retry-after', String(Math.max(1, Math.ceil(error.retry_after_ms / 1000))));
    reply.header('x-backoff-ms', String(Math.max(1, Math.round(error.retry_after_ms))));
  }
  // Serialised here, with the charset Fastify would add: a string body skips its serializer lookup
  // and content-type rewrite, once per refusal under a 429 burst (issue 14). Same bytes on the wire.
  return reply.code(status).type(JSON_UTF8).send(JSON.stringify(renderHttpError(error, String(reply.request.id))));
}

const JSON_UTF8 = 'application/json; charset=utf-8';

/**
 * The same envelope as raw HTTP/1.1 bytes, for answers written on the socket before Fastify
 * has a request (parser errors, header overflow, timeouts, refused connections). Always closes.
 */
export function rawHttpError(error: OrchError, correlationId: string): string {
  const status = httpStatusOf(error.code);
  const body = JSON.stringify(renderHttpError(error, correlationId));
  const retry = error.retry_after_ms === undefined ? '' : `Retry-After: ${Math.max(1, Math.ceil(error.retry_after_ms / 1000))}\r\n`;
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `X-Correlation-Id: ${correlationId}\r\n${retry}Connection: close\r\n\r\n${body}`
  );
}

interface AjvIssue {
  instancePath?: string;
  keyword?: string;
  params?: Record<string, unknown>;
  message?: string;
}

/** Names the offending field of a schema-validation failure ("placement.pin", "max_tokens"). */
export function fieldOf(issue: AjvIssue | undefined, part: string | undefined): string | undefined {
  if (!issue) return undefined;
  const path = (issue.instancePath ?? '').split('/').filter(Boolean).join('.');
  const extra = issue.params?.additionalProperty ?? issue.params?.missingProperty;
  const leaf = typeof extra === 'string' ? extra : undefined;
  const joined = [path, leaf].filter(Boolean).join('.');
  return joined || (part === 'body' ? undefined : part);
}

function describe(issue: AjvIssue | undefined, field: string | undefined): string {
  if (!issue) return 'invalid request';
  if (issue.keyword === 'additionalProperties') return `unknown field ${field}`;
  if (issue.keyword === 'required') return `missing required field ${field}`;
  if (issue.keyword === 'pattern' && String(issue.params?.pattern).includes('\\u0000')) {
    return `${field ?? 'body'} contains a NUL character${String(issue.params?.pattern).includes('uD800') ? ' or an unpaired UTF-16 surrogate' : ''}`;
  }
  return `${field ?? 'body'} ${issue.message ?? 'is invalid'}`;
}

/** Translates Fastify/ajv/parser errors into the taxonomy; anything unexpected is INTERNAL. */
export function fromFastifyError(err: FastifyError & { validation?: AjvIssue[]; validationContext?: string }, limits?: { bodyLimitBytes: number }): OrchError {
  if (err instanceof RequestRefusal) return err.error;
  if (err.validation) {
    const issue = err.validation[0];
    const field = fieldOf(issue, err.validationContext);
    return orchError('INVALID_PARAMS', describe(issue, field), field ? { field } : {});
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return orchError('PAYLOAD_TOO_LARGE', limits ? `request body exceeds the limit of ${limits.bodyLimitBytes} bytes (server.body_limit_bytes)` : 'request body exceeds the configured limit');
    case 'FST_ERR_BAD_URL':
      return orchError('INVALID_PARAMS', 'the request path has a malformed percent-encoding', { field: 'path' });
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return orchError('URI_TOO_LONG', 'a path segment is longer than 512 characters', { field: 'path' });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return orchError('INVALID_PARAMS', 'malformed JSON body');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return orchError('INVALID_PARAMS', 'empty JSON body');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return orchError('INVALID_PARAMS', 'Content-Type must be application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return orchError('INVALID_PARAMS', 'Content-Length does not match the body');
    default:
      if (err instanceof SyntaxError || err.statusCode === 400) return orchError('INVALID_PARAMS', 'malformed request');
      return orchError('INTERNAL', 'internal error');
  }
}
