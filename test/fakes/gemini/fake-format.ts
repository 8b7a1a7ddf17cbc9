// Wire shapes shared by the Gemini fake's routes: google.rpc error bodies, the prompt text a
// request's contents spell, which declared function (if any) the fake "model" calls, and the
// arguments it calls it with (one value per declared property).

import { isRecord, recordField, stringField, type JsonRecord } from '../../../src/transport/json-fields.ts';

export function googleError(code: number, status: string, message: string, details?: unknown[]): unknown {
  return { error: { code, message, status, ...(details === undefined ? {} : { details }) } };
}

const partsOf = (content: unknown): JsonRecord[] => {
  const parts = isRecord(content) ? content['parts'] : undefined;
  return Array.isArray(parts) ? parts.filter(isRecord) : [];
};

/** Every text part of the system instruction and the contents, in order. */
export function promptTextOf(body: JsonRecord): string {
  const contents = Array.isArray(body['contents']) ? body['contents'] : [];
  return [body['systemInstruction'], ...contents].flatMap((c) => partsOf(c).map((p) => stringField(p, 'text') ?? '')).join('\n');
}

/**
 * The declaration the model calls: none when the last turn answers a call or mode is NONE; the
 * (allowed) first one under ANY; under AUTO the first whose name the last user text mentions.
 */
export function wantedTool(body: JsonRecord): JsonRecord | undefined {
  const tools = Array.isArray(body['tools']) ? body['tools'].filter(isRecord) : [];
  const declarations = tools.flatMap((t) => (Array.isArray(t['functionDeclarations']) ? t['functionDeclarations'].filter(isRecord) : []));
  if (declarations.length === 0) return undefined;
  const calling = recordField(recordField(body, 'toolConfig') ?? {}, 'functionCallingConfig');
  const mode = (calling && stringField(calling, 'mode')) ?? 'AUTO';
  const contents = Array.isArray(body['contents']) ? body['contents'] : [];
  const lastParts = partsOf(contents.at(-1));
  if (mode === 'NONE' || lastParts.some((p) => p['functionResponse'] !== undefined)) return undefined;
  if (mode === 'ANY') {
    const allowed = calling?.['allowedFunctionNames'];
    return Array.isArray(allowed) ? declarations.find((d) => allowed.includes(d['name'])) : declarations[0];
  }
  const text = lastParts.map((p) => stringField(p, 'text') ?? '').join(' ');
  return declarations.find((d) => text.includes(stringField(d, 'name') ?? '\0'));
}

/** One value per declared property: "fake" for strings, 42 for numbers, true for booleans. */
export function fakeArguments(declaration: JsonRecord): Record<string, unknown> {
  const schema = recordField(declaration, 'parametersJsonSchema') ?? recordField(declaration, 'parameters') ?? {};
  const props = recordField(schema, 'properties') ?? {};
  const args: Record<string, unknown> = {};
  for (const [name, prop] of Object.entries(props)) {
    const type = isRecord(prop) ? String(prop['type']).toLowerCase() : '';
    args[name] = type === 'string' ? 'fake' : type === 'number' || type === 'integer' ? 42 : type === 'boolean' ? true : null;
  }
  return args;
}
