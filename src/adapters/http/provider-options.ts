// Replica `options` every hosted-provider adapter understands (issue 13 item 4): the key by
// reference only (`api_key: { env } | { file }`, never inline), extra request headers that
// may not carry a credential, how health is judged, and the facts a provider does not report.

import { Type, type TProperties } from '@sinclair/typebox';
import { CredentialRefSchema } from './credentials.ts';
import { HttpOptionFields } from './http-options.ts';

/** Header names that would carry a credential inline, bypassing `api_key`. */
const CREDENTIAL_HEADERS = new Set(['authorization', 'proxy-authorization', 'x-api-key', 'api-key', 'x-goog-api-key', 'cookie']);
/** Header names the adapter owns. */
const OWNED_HEADERS = new Set(['content-type', 'content-length', 'host', 'accept', 'traceparent']);

export const ProviderOptionFields = {
  ...HttpOptionFields,
  api_key: CredentialRefSchema,
  headers: Type.Record(Type.String({ pattern: '^[A-Za-z0-9-]+$' }), Type.String(), {
    default: {},
    description: 'extra request headers (OpenRouter HTTP-Referer, X-Title); never a credential',
  }),
  health_check: Type.Union([Type.Literal('models'), Type.Literal('credential')], {
    default: 'models',
    description: 'models: GET the model listing with the key; credential: ready when the key resolves (no call)',
  }),
} satisfies TProperties;


/**
 * The configured extra headers, lower-cased; throws naming the field when one would carry a
 * credential or replace a header the adapter owns (a configuration bug, caught at load).
 */
export function extraHeaders(headers: Record<string, string>, provider: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (CREDENTIAL_HEADERS.has(lower)) throw new Error(`invalid ${provider} replica options at /headers/${name}: credentials go in api_key ({ env } or { file }), never in headers`);
    if (OWNED_HEADERS.has(lower)) throw new Error(`invalid ${provider} replica options at /headers/${name}: the adapter sets this header itself`);
    out[lower] = value;
  }
  return out;
}
