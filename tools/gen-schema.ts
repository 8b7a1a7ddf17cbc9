// Turns OpenAPI schema objects into plain JSON Schema for Ajv (Fastify and tests): component
// refs become named nodes that the emitter prints as shared constants, OpenAPI-only keywords
// are dropped. It must never change what a schema accepts, only how it is spelled.

import { isObject, type Json, type JsonObject } from './gen-openapi.ts';

/** A reference to `#/components/schemas/<name>`, printed as a constant by the emitter. */
export class ComponentRef {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
}

export type SchemaNode = null | boolean | number | string | SchemaNode[] | ComponentRef | { [key: string]: SchemaNode };
export type SchemaObject = { [key: string]: SchemaNode };

const SCHEMA_REF = '#/components/schemas/';
// Keywords of the OpenAPI schema dialect that JSON Schema 2020-12 (and Ajv strict mode) lacks.
const OPENAPI_ONLY = new Set(['example', 'xml', 'externalDocs', 'discriminator']);

export function isSchemaObject(node: SchemaNode | undefined): node is SchemaObject {
  return typeof node === 'object' && node !== null && !Array.isArray(node) && !(node instanceof ComponentRef);
}

/** OpenAPI schema → Ajv-ready node with ComponentRefs in place of `$ref`s. */
export function toSchemaNode(node: Json): SchemaNode {
  if (Array.isArray(node)) return node.map(toSchemaNode);
  if (!isObject(node)) return node;
  const ref = node.$ref;
  if (typeof ref === 'string') {
    if (!ref.startsWith(SCHEMA_REF)) throw new Error(`schema $ref ${ref} does not point at components.schemas`);
    const target = new ComponentRef(ref.slice(SCHEMA_REF.length));
    const siblings = cleanObject(node, '$ref');
    // A 3.1 $ref may carry siblings (description, default); allOf keeps them valid everywhere.
    return Object.keys(siblings).length === 0 ? target : { allOf: [target], ...siblings };
  }
  return cleanObject(node);
}

function cleanObject(node: JsonObject, skip?: string): SchemaObject {
  const out: SchemaObject = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === skip || key.startsWith('x-') || OPENAPI_ONLY.has(key)) continue;
    // Inside these keywords the keys are property names, not keywords: keep them all.
    if ((key === 'properties' || key === 'patternProperties' || key === '$defs') && isObject(value)) {
      out[key] = Object.fromEntries(Object.entries(value).map(([name, sub]) => [name, toSchemaNode(sub)]));
    } else {
      out[key] = toSchemaNode(value);
    }
  }
  return out;
}

/** Component names a node refers to, directly or through other components. */
export function collectRefs(node: SchemaNode, into: Set<string> = new Set()): Set<string> {
  if (node instanceof ComponentRef) into.add(node.name);
  else if (Array.isArray(node)) for (const item of node) collectRefs(item, into);
  else if (isSchemaObject(node)) for (const value of Object.values(node)) collectRefs(value, into);
  return into;
}

/** Component names in dependency order (each after everything it refers to), else in `roots` order. */
export function dependencyOrder(components: Map<string, SchemaNode>, roots: Iterable<string>): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') throw new Error(`recursive schema: ${[...path, name].join(' → ')}`);
    const node = components.get(name);
    if (node === undefined) throw new Error(`unknown schema component ${name}`);
    state.set(name, 'visiting');
    for (const dep of collectRefs(node)) visit(dep, [...path, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const root of roots) visit(root, []);
  return order;
}

/** The fully inlined JSON Schema (what Ajv sees at runtime). */
export function inlineSchema(node: SchemaNode, components: Map<string, SchemaNode>): Json {
  if (node instanceof ComponentRef) {
    const target = components.get(node.name);
    if (target === undefined) throw new Error(`unknown schema component ${node.name}`);
    return inlineSchema(target, components);
  }
  if (Array.isArray(node)) return node.map((item) => inlineSchema(item, components));
  if (!isSchemaObject(node)) return node;
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, inlineSchema(value, components)]));
}

/**
 * Request bodies must reject unknown fields (ORCH-0016): every object schema in them needs
 * `additionalProperties: false`. Returns the JSON pointers that break the rule.
 */
export function openObjects(schema: Json, where = ''): string[] {
  if (Array.isArray(schema)) return schema.flatMap((item, i) => openObjects(item, `${where}/${i}`));
  if (!isObject(schema)) return [];
  const found: string[] = [];
  const isObjectSchema = schema.type === 'object' || schema.properties !== undefined;
  if (isObjectSchema && schema.additionalProperties !== false) found.push(where || '/');
  for (const [key, value] of Object.entries(schema)) found.push(...openObjects(value, `${where}/${key}`));
  return found;
}
