// Canonical JSON for audit hashing: object keys sorted by UTF-16 code unit, no whitespace,
// `undefined` members dropped. It must stay byte-stable forever: every stored hash depends on it.
// It accepts only JSON values; callers normalise facts with `toJsonValue` before hashing.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export function canonicalJson(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON has no representation for non-finite numbers');
      return JSON.stringify(value);
    case 'string':
      return JSON.stringify(value);
    case 'object':
      return Array.isArray(value) ? canonicalArray(value) : canonicalObject(value as Record<string, unknown>);
    default:
      throw new TypeError(`canonical JSON cannot encode a ${typeof value}`);
  }
}

function canonicalArray(values: readonly unknown[]): string {
  return `[${values.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
}

function canonicalObject(object: Record<string, unknown>): string {
  const prototype: unknown = Object.getPrototypeOf(object);
  if (prototype !== Object.prototype && prototype !== null) {
    throw new TypeError('canonical JSON encodes plain objects only');
  }
  let text = '';
  for (const key of Object.keys(object).sort()) {
    const member = object[key];
    if (member !== undefined) text += `${text === '' ? '' : ','}${JSON.stringify(key)}:${canonicalJson(member)}`;
  }
  return `{${text}}`;
}

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
  return text.replace(JSONB_UNSAFE, '\uFFFD');
}
