// Replica `options` every HTTP engine adapter understands (snake_case, from the pool config),
// validated by TypeBox when the adapter is built so a typo fails at config load, not mid-task.

import { Type, type TObject, type TProperties, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { BackoffPolicy } from '../retry.ts';

export const HttpOptionFields = {
  api_key: Type.Optional(Type.String({ minLength: 1, description: 'sent as Authorization: Bearer (engine --api-key)' })),
  retry_attempts: Type.Integer({ minimum: 1, maximum: 10, default: 3, description: 'tries for health/props calls' }),
  retry_base_ms: Type.Integer({ minimum: 1, default: 100 }),
  retry_cap_ms: Type.Integer({ minimum: 1, default: 2_000 }),
  overload_retry_after_ms: Type.Integer({ minimum: 0, default: 1_000, description: 'retry hint when an overload answer has no Retry-After' }),
  max_connections: Type.Optional(Type.Integer({ minimum: 1, description: 'cap on sockets to this replica' })),
} satisfies TProperties;

export const HttpOptionsSchema = Type.Object(HttpOptionFields, { additionalProperties: false });
export type HttpOptions = Static<typeof HttpOptionsSchema>;

/** Applies defaults and validates; throws naming the first bad field (a configuration bug). */
export function parseOptions<S extends TObject>(schema: S, raw: Record<string, unknown>, engine: string): Static<S> {
  const value: unknown = Value.Default(schema, structuredClone(raw));
  if (Value.Check(schema, value)) return value;
  const first = Value.Errors(schema, value).First();
  const where = first === undefined ? '' : ` at ${first.path || '/'}: ${first.message}`;
  throw new Error(`invalid ${engine} replica options${where}`);
}

export function backoffOf(options: Pick<HttpOptions, 'retry_attempts' | 'retry_base_ms' | 'retry_cap_ms'>): BackoffPolicy {
  return { attempts: options.retry_attempts, baseMs: options.retry_base_ms, capMs: options.retry_cap_ms };
}

/** The only headers a POST to an engine carries: content type, its API key, trace context. */
export function engineHeaders(options: HttpOptions, traceparent?: string): Record<string, string> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.api_key !== undefined) headers['authorization'] = `Bearer ${options.api_key}`;
  if (traceparent !== undefined) headers['traceparent'] = traceparent;
  return headers;
}

/** Headers for bodiless control calls (health, props): only the API key, if any. */
export function probeHeaders(options: HttpOptions): Record<string, string> {
  return options.api_key === undefined ? {} : { authorization: `Bearer ${options.api_key}` };
}
