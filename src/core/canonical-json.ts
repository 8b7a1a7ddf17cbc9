// The one canonical JSON (RFC 8785, JCS, by the `canonicalize` package, a pure function): audit
// hashes (src/audit/hash-chain.ts) and idempotency fingerprints both use it. Every stored audit
// hash depends on its bytes, so src/audit/fixtures/chain-v1.json guards them in a test.
//
// It replaced a hand-written encoder (until issue 9) that also sorted keys by UTF-16 code unit,
// wrote numbers and strings with JSON.stringify (what RFC 8785 §3.2.2 prescribes) and dropped
// undefined members. For JSON values, the only thing the audit hashes, the bytes are identical.
// They differ only for values that are not JSON, which the old one refused with a TypeError:
// Dates and other objects with toJSON (now encoded through it), class instances and boxed
// primitives (now encoded by own keys / value), function and symbol members (now dropped, null
// in arrays). A lone surrogate, which the old one escaped as \uDxxx, is refused here (RFC 8785
// §3.2.2.2, I-JSON); audit rows never hold one (storableString) and jsonb cannot store one.

import canonicalize from 'canonicalize';
import { hash } from 'node:crypto';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** RFC 8785 text of `value`; throws a TypeError for what has no JSON text (undefined, NaN, a lone surrogate). */
export function canonicalJson(value: unknown): string {
  let text: string | undefined;
  try {
    text = canonicalize(value);
  } catch (err) {
    throw new TypeError(`canonical JSON cannot encode this value: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (text === undefined) throw new TypeError(`canonical JSON has no text for a ${typeof value}`);
  return text;
}

/** sha256 (hex) over the UTF-8 of the canonical JSON: 64 characters whatever the value's size. */
export function canonicalDigest(value: unknown): string {
  return hash('sha256', canonicalJson(value), 'hex');
}
