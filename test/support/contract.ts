// Test-side contract checks: validates response bodies, response headers and SSE payloads
// against the schemas generated from contracts/openapi (src/generated/routes.ts). Throws an
// Error with a readable message on mismatch, so any test runner reports it as a failure.

import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { responses, sseEventSchemas, type OperationId } from '../../src/generated/routes.ts';

// ajv-formats is CommonJS; under ESM its callable lives on `default`.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

// Ajv caches compiled validators by schema object identity, and the generated schemas are
// shared constants, so each one is compiled once per test process.
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);

type Schema = Record<string, unknown>;
interface DocumentedResponse {
  headers?: Schema;
  content: Record<string, Schema>;
}
export type HeaderBag = Record<string, string | string[] | number | undefined>;
export interface MatchOptions {
  /** The response's Content-Type; picks the media type when a status documents several. */
  contentType?: string;
  /** Response headers; when given, documented headers are checked too (required ones must be present). */
  headers?: HeaderBag;
}

const preview = (value: unknown): string => {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 400 ? `${text.slice(0, 400)}…` : text;
};

function describeErrors(errors: ErrorObject[] | null | undefined): string {
  return (errors ?? [])
    .map((e) => {
      const extra = e.keyword === 'additionalProperties' ? ` (${String(e.params.additionalProperty)})`
        : e.keyword === 'enum' ? ` (allowed: ${(e.params.allowedValues as unknown[]).join(', ')})` : '';
      return `  ${e.instancePath || '/'} ${e.message ?? e.keyword}${extra}`;
    })
    .join('\n');
}

function check(schema: Schema, value: unknown, label: string): void {
  const validate: ValidateFunction = ajv.compile(schema);
  if (!validate(value)) {
    throw new Error(`${label} does not match the contract:\n${describeErrors(validate.errors)}\n  value: ${preview(value)}`);
  }
}

function documented(operationId: OperationId, status: number | string): DocumentedResponse {
  const byStatus = responses[operationId] as Record<string, DocumentedResponse> | undefined;
  if (byStatus === undefined) throw new Error(`unknown operationId ${operationId}`);
  const response = byStatus[String(status)];
  if (response === undefined) {
    throw new Error(`${operationId}: status ${status} is not documented (documented: ${Object.keys(byStatus).join(', ')})`);
  }
  return response;
}

function pickMediaType(response: DocumentedResponse, contentType: string | undefined, label: string): string | undefined {
  const types = Object.keys(response.content);
  if (types.length === 0) return undefined;
  if (contentType !== undefined) {
    const wanted = contentType.split(';')[0]?.trim().toLowerCase();
    const found = types.find((t) => t.split(';')[0]?.trim().toLowerCase() === wanted);
    if (found === undefined) throw new Error(`${label}: content type ${contentType} is not documented (documented: ${types.join(', ')})`);
    return found;
  }
  return types.includes('application/json') ? 'application/json' : types[0];
}

/** Header values arrive as strings; numeric ones are compared as the numbers the contract declares. */
function normaliseHeaders(schema: Schema, headers: HeaderBag): Record<string, unknown> {
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  const out: Record<string, unknown> = {};
  for (const [rawName, rawValue] of Object.entries(headers)) {
    const name = rawName.toLowerCase();
    const value = Array.isArray(rawValue) ? rawValue[0] : rawValue;
    if (value === undefined) continue;
    const type = properties[name]?.type;
    const numeric = (type === 'integer' || type === 'number') && typeof value === 'string' && /^-?\d+(\.\d+)?$/.test(value);
    out[name] = numeric ? Number(value) : value;
  }
  return out;
}

/**
 * Asserts that `body` is what the contract documents for `operationId` answering `status`.
 * A JSON body may be passed parsed or as its raw text. A status documented without a body
 * (e.g. 204) requires an empty body.
 */
export function expectResponseMatches(operationId: OperationId, status: number | string, body: unknown, options: MatchOptions = {}): void {
  const label = `${operationId} ${status}`;
  const response = documented(operationId, status);
  const mediaType = pickMediaType(response, options.contentType, label);
  if (mediaType === undefined) {
    if (body !== undefined && body !== null && body !== '') throw new Error(`${label}: documented without a body, got ${preview(body)}`);
  } else {
    const schema = response.content[mediaType] as Schema;
    let value = body;
    if (mediaType === 'application/json' && typeof body === 'string') {
      try {
        value = JSON.parse(body);
      } catch {
        throw new Error(`${label}: body is not JSON: ${preview(body)}`);
      }
    }
    check(schema, value, `${label} ${mediaType} body`);
  }
  if (options.headers !== undefined && response.headers !== undefined) {
    check(response.headers, normaliseHeaders(response.headers, options.headers), `${label} headers`);
  }
}

/** Asserts that an SSE `data:` payload (parsed or raw text) matches the schema of its `event:` name. */
export function expectSseEventMatches(event: string, data: unknown): void {
  const schema = (sseEventSchemas as Record<string, Schema>)[event];
  if (schema === undefined) throw new Error(`SSE event name ${JSON.stringify(event)} is not in the contract (${Object.keys(sseEventSchemas).join(', ')})`);
  let value = data;
  if (typeof data === 'string') {
    try {
      value = JSON.parse(data);
    } catch {
      throw new Error(`SSE ${event}: data is not JSON: ${preview(data)}`);
    }
  }
  check(schema, value, `SSE ${event} data`);
}
