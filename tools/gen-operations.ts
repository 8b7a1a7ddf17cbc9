// Reads the merged OpenAPI document into one model per operation: Fastify method and path,
// request schemas (body, params, querystring, headers) and response schemas per status.
// Knows OpenAPI structure; knows nothing about how the result is printed.

import { isObject, resolvePointer, type Json, type JsonObject } from './gen-openapi.ts';
import { isSchemaObject, toSchemaNode, type SchemaNode, type SchemaObject } from './gen-schema.ts';

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

export interface ResponseModel {
  /** Header schema as one object schema (lower-case names), or absent when none is documented. */
  headers?: SchemaObject;
  /** Media type → body schema; empty when the response has no body. */
  content: Record<string, SchemaNode>;
}

export interface OperationModel {
  operationId: string;
  method: string;
  path: string;
  tags: string[];
  reqIds: string[];
  /**
   * `x-open-body: true`: the body schema checks shapes only and the gateway's own normalizer
   * refuses unknown fields by name (the dialect routes, whose clients send vendor extensions).
   */
  openBody: boolean;
  schema: { body?: SchemaNode; params?: SchemaObject; querystring?: SchemaObject; headers?: SchemaObject };
  responses: Record<string, ResponseModel>;
}

function deref(doc: JsonObject, node: Json | undefined, where: string): JsonObject {
  let current = node;
  for (let hops = 0; isObject(current) && typeof current.$ref === 'string'; hops++) {
    if (hops > 8) throw new Error(`${where}: $ref chain too long`);
    current = resolvePointer(doc, current.$ref);
  }
  if (!isObject(current)) throw new Error(`${where}: expected an object`);
  return current;
}

function stringList(value: Json | undefined): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function objectSchema(fields: [string, SchemaNode, boolean][], closed: boolean): SchemaObject {
  const schema: SchemaObject = { type: 'object', properties: Object.fromEntries(fields.map(([n, s]) => [n, s])) };
  const required = fields.filter(([, , r]) => r).map(([n]) => n);
  if (required.length > 0) schema.required = required;
  if (closed) schema.additionalProperties = false;
  return schema;
}

function withDescription(schema: SchemaNode, description: Json | undefined): SchemaNode {
  if (typeof description !== 'string' || !isSchemaObject(schema) || schema.description !== undefined) return schema;
  return { ...schema, description };
}

function requestSchemas(doc: JsonObject, op: JsonObject, where: string): OperationModel['schema'] {
  const groups = { path: [] as [string, SchemaNode, boolean][], query: [] as [string, SchemaNode, boolean][], header: [] as [string, SchemaNode, boolean][] };
  for (const [i, raw] of (Array.isArray(op.parameters) ? op.parameters : []).entries()) {
    const param = deref(doc, raw, `${where}.parameters[${i}]`);
    const { name, in: location } = param;
    if (typeof name !== 'string' || (location !== 'path' && location !== 'query' && location !== 'header')) {
      throw new Error(`${where}.parameters[${i}]: unsupported parameter`);
    }
    const schema = withDescription(toSchemaNode(param.schema ?? {}), param.description);
    // Fastify matches header schemas against lower-cased header names.
    groups[location].push([location === 'header' ? name.toLowerCase() : name, schema, param.required === true]);
  }
  const out: OperationModel['schema'] = {};
  if (op.requestBody !== undefined) {
    const body = deref(doc, op.requestBody, `${where}.requestBody`);
    const media = isObject(body.content) ? body.content['application/json'] : undefined;
    if (!isObject(media)) throw new Error(`${where}: request bodies must be application/json`);
    out.body = toSchemaNode(media.schema ?? {});
  }
  if (groups.path.length > 0) out.params = objectSchema(groups.path, true);
  if (groups.query.length > 0) out.querystring = objectSchema(groups.query, true);
  // Clients send many headers we do not describe: header schemas stay open.
  if (groups.header.length > 0) out.headers = objectSchema(groups.header, false);
  return out;
}

function responseModels(doc: JsonObject, op: JsonObject, where: string): Record<string, ResponseModel> {
  const out: Record<string, ResponseModel> = {};
  if (!isObject(op.responses)) throw new Error(`${where}: no responses`);
  for (const [status, raw] of Object.entries(op.responses)) {
    const response = deref(doc, raw, `${where}.responses.${status}`);
    const content: Record<string, SchemaNode> = {};
    for (const [mediaType, media] of Object.entries(isObject(response.content) ? response.content : {})) {
      content[mediaType] = toSchemaNode(isObject(media) ? (media.schema ?? {}) : {});
    }
    const headers: [string, SchemaNode, boolean][] = Object.entries(isObject(response.headers) ? response.headers : {}).map(
      ([name, rawHeader]) => {
        const header = deref(doc, rawHeader, `${where}.responses.${status}.headers.${name}`);
        return [name.toLowerCase(), toSchemaNode(header.schema ?? {}), header.required === true];
      },
    );
    out[status] = headers.length > 0 ? { headers: objectSchema(headers, false), content } : { content };
  }
  return out;
}

/** Every operation of the document, in document order. */
export function readOperations(doc: JsonObject): OperationModel[] {
  const operations: OperationModel[] = [];
  for (const [path, rawItem] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    const item = deref(doc, rawItem, path);
    for (const method of METHODS) {
      const op = item[method];
      if (op === undefined) continue;
      const where = `${method.toUpperCase()} ${path}`;
      if (!isObject(op) || typeof op.operationId !== 'string') throw new Error(`${where}: missing operationId`);
      operations.push({
        operationId: op.operationId,
        method: method.toUpperCase(),
        path: path.replace(/\{([^}]+)\}/g, ':$1'),
        tags: stringList(op.tags),
        reqIds: stringList(op['x-req-id']),
        openBody: op['x-open-body'] === true,
        schema: requestSchemas(doc, op, where),
        responses: responseModels(doc, op, where),
      });
    }
  }
  return operations;
}

/** Payload schema per SSE event name, from the `x-sse-events` map of the EventStream response. */
export function readSseEvents(doc: JsonObject): Record<string, SchemaNode> {
  const response = deref(doc, resolvePointer(doc, '#/components/responses/EventStream'), 'components.responses.EventStream');
  const media = isObject(response.content) ? response.content['text/event-stream'] : undefined;
  const events = isObject(media) ? media['x-sse-events'] : undefined;
  if (!isObject(events)) throw new Error('components.responses.EventStream: missing x-sse-events');
  return Object.fromEntries(Object.entries(events).map(([name, schema]) => [name, toSchemaNode(schema)]));
}

/** Every component schema, converted. */
export function readComponents(doc: JsonObject): Map<string, SchemaNode> {
  const schemas = isObject(doc.components) && isObject(doc.components.schemas) ? doc.components.schemas : {};
  return new Map(Object.entries(schemas).map(([name, schema]) => [name, toSchemaNode(schema)]));
}
