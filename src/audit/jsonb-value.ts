// Values as a `jsonb` column stores them: what audit facts become before they are hashed
// (canonical JSON, src/core/canonical-json.ts) and stored, so the verifier re-hashing a row read
// back from the database sees exactly the value that was hashed.

import type { JsonValue } from '../core/canonical-json.ts';

/**
 * Turns an arbitrary value into the JSON value a `jsonb` column will give back unchanged:
 * Dates become ISO strings, non-finite numbers null, NUL characters and lone surrogates
 * (which jsonb refuses) are replaced. One poisoned record must never block the audit chain.
 */
export function toJsonValue(value: unknown): JsonValue | undefined {
  // Scalars (nearly every fact field) give what the round trip below would, without it.
  switch (typeof value) {
    case 'string': return storableString(value);
    case 'boolean': return value;
    case 'undefined': return undefined;
    case 'number': return Number.isFinite(value) ? (value === 0 ? 0 : value) : null;
    default: if (value === null) return null;
  }
  const text = JSON.stringify(value, (_key, member: unknown) => (typeof member === 'string' ? storableString(member) : member));
  return text === undefined ? undefined : (JSON.parse(text) as JsonValue);
}

// NUL and unpaired surrogates: the characters jsonb refuses.
// eslint-disable-next-line no-control-regex -- matching NUL is the point.
const JSONB_UNSAFE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** The text with every character Postgres text/jsonb refuses replaced by U+FFFD. */
export function storableString(text: string): string {
  // Nearly every string (ids, names) is clean: two native scans cost less than the regex (issue 14).
  if (text.isWellFormed() && !text.includes('\u0000')) return text;
  return text.replace(JSONB_UNSAFE, '\uFFFD');
}
