// Narrowing for JSON from engines: every wire value is `unknown` until a field is read through
// one of these. Absent, null or wrongly typed fields read as undefined, so unknown keys and
// version drift never throw.

export type JsonRecord = Record<string, unknown>;

export function isRecord(value: unknown): value is JsonRecord {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function numberField(obj: JsonRecord, key: string): number | undefined {
  const v = obj[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function stringField(obj: JsonRecord, key: string): string | undefined {
  const v = obj[key];
  return typeof v === 'string' ? v : undefined;
}

export function recordField(obj: JsonRecord, key: string): JsonRecord | undefined {
  const v = obj[key];
  return isRecord(v) ? v : undefined;
}

/** JSON.parse that reports failure as undefined instead of throwing. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
