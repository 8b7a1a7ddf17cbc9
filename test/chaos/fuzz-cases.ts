// Seeded request generator for the fuzz suite, derived from the contract's route table
// (src/generated/routes.ts): wrong types, huge numbers, unicode, missing and unknown fields,
// bad headers, bad paths, bad percent-encoding. A case that would change state (a write with a
// valid token and a valid body) is never generated: every write is broken in at least one way,
// so the suite can demand that the gateway's state is unchanged afterwards.

import { operations } from '../../src/generated/routes.ts';
import { seededRandom } from '../support/seeded-random.ts';

export interface JsonSchema {
  type?: string | readonly string[];
  properties?: Record<string, JsonSchema>;
  required?: readonly string[];
  enum?: readonly unknown[];
  const?: unknown;
  items?: JsonSchema;
  allOf?: readonly JsonSchema[];
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  maxItems?: number;
  format?: string;
  pattern?: string;
}

interface Operation {
  method: string;
  path: string;
  tags: readonly string[];
  schema: { body?: JsonSchema; params?: JsonSchema; querystring?: JsonSchema };
}

export interface FuzzCase {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** True when the gateway must refuse it (a write broken on purpose). */
  mustFail: boolean;
  label: string;
}

export interface Tokens {
  data: string;
  control: string;
}

/** mulberry32: small, fast, and the same sequence for the same seed on every platform. */
export function rng(seed: number) {
  const next = seededRandom(seed);
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}
type Rng = ReturnType<typeof rng>;

const WEIRD_STRINGS = [
  '', 'a', 'demo', 'héllo wörld', '😀🚀', '\u202eevil', 'ｆｕｌｌ', '\uFFFD', 'a\u0000b', '\u0000', '\ud800', 'x\udc00y', '\u0007\u001b[31m',
  '../../etc/passwd', '%00', '%zz', 'a%2Fb', "' OR 1=1 --", '<script>alert(1)</script>', '{"a":1}', '   ', '\r\n', 'null', 'true', '-1',
  'NaN', 'Infinity', '__proto__', 'constructor', '0b6f1d9e-3c1a-4a5e-9d7e-2f4b8c6a1e01',
];
const WEIRD_NUMBERS = [0, -1, 1, 1.5, -0.5, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53, 1e300, -1e300, 3e9, 86_400_001, 604_800_001, 1e-300];
/** Header values must be visible ASCII to leave an HTTP client at all. */
const ASCII_WEIRD = ['', 'x', 'a'.repeat(300), '../..', '%00', '%zz', ' spaced ', 'caf?', 'Bearer', '-1', '99999999999999999999', '1e30', '0x10', '5'];

function weirdString(r: Rng): string {
  if (r.chance(0.05)) return 'x'.repeat(r.pick([129, 1_001, 5_000, 70_000]));
  return r.pick(WEIRD_STRINGS);
}

function weirdValue(r: Rng): unknown {
  return r.pick<() => unknown>([
    () => weirdString(r),
    () => r.pick(WEIRD_NUMBERS),
    () => null,
    () => r.chance(0.5),
    () => [weirdString(r)],
    () => ({ nested: { deeper: [1, { x: weirdString(r) }] } }),
  ])();
}

function typeOf(schema: JsonSchema): string | undefined {
  if (schema.allOf?.[0]) return typeOf(schema.allOf[0]);
  if (schema.enum) return 'enum';
  return Array.isArray(schema.type) ? (schema.type[0] as string) : (schema.type as string | undefined);
}

function hexId(r: Rng): string {
  const hex = () => r.int(16).toString(16);
  const run = (n: number) => Array.from({ length: n }, hex).join('');
  return `${run(8)}-${run(4)}-4${run(3)}-a${run(3)}-${run(12)}`;
}

/** A value the schema accepts, or (sometimes) a weird one: exercises the happy side of parsing. */
function valueFor(schema: JsonSchema, r: Rng, depth = 0): unknown {
  if (schema.allOf?.[0]) return valueFor(schema.allOf[0], r, depth);
  if (schema.enum) return r.pick(schema.enum);
  if (schema.const !== undefined) return schema.const;
  switch (typeOf(schema)) {
    case 'integer': {
      const min = schema.minimum ?? 0;
      return min + r.int(Math.max(1, Math.min((schema.maximum ?? min + 1_000) - min, 1_000)));
    }
    case 'number':
      return (schema.minimum ?? 0) + r.next() * Math.min(1, (schema.maximum ?? 1) - (schema.minimum ?? 0)) + (schema.exclusiveMinimum !== undefined ? 0.01 : 0);
    case 'boolean':
      return r.chance(0.5);
    case 'array':
      return depth > 3 || !schema.items ? [] : Array.from({ length: r.int(3) }, () => valueFor(schema.items as JsonSchema, r, depth + 1));
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(schema.properties ?? {})) {
        if (schema.required?.includes(key) || r.chance(0.3)) out[key] = depth > 3 ? {} : valueFor(sub, r, depth + 1);
      }
      return out;
    }
    default:
      if (schema.format === 'uuid') return hexId(r);
      if (schema.format === 'date-time') return r.chance(0.8) ? new Date(Date.UTC(2000 + r.int(30), r.int(12), 1 + r.int(28))).toISOString() : r.pick(['0000-01-01T00:00:00Z', '9999-12-31T23:59:60Z', '2024-13-45T99:99:99Z', 'yesterday']);
      return r.chance(0.7) ? `v${r.int(1_000)}` : weirdString(r);
  }
}

/** A value the schema refuses, whatever the other fields hold. */
function wrongValueFor(schema: JsonSchema, r: Rng): unknown {
  const t = typeOf(schema);
  const options: unknown[] = [];
  if (t === 'integer' || t === 'number') {
    options.push('12', null, true, [], {});
    if (t === 'integer') options.push(1.5);
    if (schema.maximum !== undefined) options.push(schema.maximum + 1, 1e300, 2 ** 53);
    if (schema.minimum !== undefined) options.push(schema.minimum - 1, -1e300);
  } else if (t === 'string') {
    options.push(12, null, false, ['a'], { a: 1 });
    if (schema.maxLength !== undefined) options.push('y'.repeat(schema.maxLength + 1));
    if ((schema.minLength ?? 0) >= 1) options.push('');
  } else if (t === 'boolean') {
    options.push('true', 1, null);
  } else if (t === 'enum') {
    options.push('not-in-enum', 7, null);
  } else if (t === 'array') {
    options.push('x', { a: 1 }, 3);
    if (schema.maxItems !== undefined) options.push(Array.from({ length: schema.maxItems + 1 }, () => 'z'));
  } else {
    options.push('x', 3, [1], null);
  }
  return r.pick(options);
}

const AUTH_BAD = ['', 'Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Bearer wrong-token-123', 'Token abc', 'bearer    ', 'Bearer a b'];

/** Builds a path from a template, every `:param` filled by `fill`. */
function fillPath(template: string, fill: (name: string) => string): string {
  return template.replace(/:([a-z_]+)/g, (_m, name: string) => fill(name));
}

function encodeSegment(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return '%ED%A0%80'; // a lone surrogate, UTF-8 encoded: malformed on decode
  }
}

function weirdSegment(r: Rng): string {
  return r.pick<() => string>([
    () => encodeSegment(weirdString(r)),
    () => r.pick(['%zz', '%', '%E0%A4%A', '%00', '%ED%A0%80', '..', '%2e%2e', 'a'.repeat(r.pick([101, 128, 129, 513, 600]))]),
    () => hexId(r),
  ])();
}

function queryFor(schema: JsonSchema | undefined, r: Rng): string {
  if (!schema?.properties || r.chance(0.2)) return r.chance(0.1) ? `?${r.pick(['%', '%zz=1', 'a=%E0%A4%A', '&&&', 'limit=1&limit=2', 'x[y]=1'])}` : '';
  const parts: string[] = [];
  for (const [key, sub] of Object.entries(schema.properties)) {
    if (!r.chance(0.4)) continue;
    const value = r.chance(0.5) ? valueFor(sub, r) : r.chance(0.5) ? wrongValueFor(sub, r) : weirdValue(r);
    parts.push(`${key}=${r.chance(0.1) ? r.pick(['%zz', '%00', '1e30', '']) : encodeSegment(typeof value === 'string' ? value : JSON.stringify(value) ?? '')}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

type Breakage = 'auth' | 'body' | 'path';

/** One mutation that makes a body invalid for its schema, whatever else it holds. */
function breakBody(schema: JsonSchema, r: Rng, bodyLimit: number): string {
  const base = valueFor(schema, r);
  const obj = (base !== null && typeof base === 'object' && !Array.isArray(base) ? base : {}) as Record<string, unknown>;
  const props = Object.entries(schema.properties ?? {});
  const kind = r.int(7);
  if (kind === 0) obj[`unknown_${r.int(100)}`] = weirdValue(r);
  else if (kind === 1 && schema.required?.length) delete obj[r.pick(schema.required)];
  else if (kind <= 3 && props.length) {
    const [key, sub] = r.pick(props);
    obj[key] = wrongValueFor(sub, r);
  } else if (kind === 4) return r.pick(['{"model": "demo", ', '{', '}', 'nul', '{"a":1}{"b":2}', '\u0000', '{"prompt":"\\ud800"', "{'single':1}"]);
  else if (kind === 5) return JSON.stringify(r.pick<unknown>([[], [obj], 42, 'text', null, true]));
  else if (kind === 6 && r.chance(0.1)) return JSON.stringify({ ...obj, pad: 'p'.repeat(bodyLimit + 10) });
  else obj[`unknown_${r.int(100)}`] = 1;
  return JSON.stringify(obj);
}

export interface GeneratorOptions {
  tokens: Tokens;
  bodyLimit: number;
  /** A pool id that exists: reads may name it, writes with valid auth never do. */
  poolId: string;
}

const OPERATIONS = Object.values(operations as unknown as Record<string, Operation>); // the `as const` table, read through its shape

/** The n-th request for a seed: deterministic, so a failing case can be replayed. */
export function generator(seed: number, opts: GeneratorOptions) {
  const r = rng(seed);
  const authFor = (plane: 'data' | 'control', broken: boolean): string | undefined => {
    if (broken) return r.chance(0.3) && plane === 'control' ? `Bearer ${opts.tokens.data}` : r.chance(0.3) ? undefined : r.pick(AUTH_BAD);
    const token = plane === 'control' || r.chance(0.3) ? opts.tokens.control : opts.tokens.data;
    return `${r.pick(['Bearer', 'bearer', 'BEARER'])} ${token}`;
  };

  function contractCase(): FuzzCase {
    const op = r.pick(OPERATIONS);
    const isPublic = ['/healthz', '/readyz', '/openapi.json'].includes(op.path);
    const plane = op.tags.includes('control') ? 'control' : 'data';
    const isWrite = op.method !== 'GET' && op.path !== '/v1/audit/verify';
    // A write is broken in at least one way; a read may be entirely valid.
    const breakages: Breakage[] = isWrite ? [r.pick<Breakage>(op.schema.body ? ['auth', 'body', 'body'] : op.path.includes(':') ? ['auth', 'path'] : ['auth'])] : [];
    if (r.chance(0.15)) breakages.push('auth');
    const brokenAuth = breakages.includes('auth');
    const path = fillPath(op.path, (name) => {
      if (breakages.includes('path') || (isWrite && !brokenAuth)) {
        const segment = weirdSegment(r);
        return segment === opts.poolId ? `not-${segment}` : segment;
      }
      if (name === 'pool_id' && r.chance(0.5)) return opts.poolId;
      return r.chance(0.5) ? weirdSegment(r) : hexId(r);
    });
    const headers: Record<string, string> = {};
    const auth = isPublic ? (r.chance(0.5) ? undefined : r.pick(AUTH_BAD)) : authFor(plane, brokenAuth);
    if (auth !== undefined && auth !== '') headers.authorization = auth;
    let body: string | undefined;
    if (op.schema.body) {
      body = breakages.includes('body') ? breakBody(op.schema.body, r, opts.bodyLimit) : JSON.stringify(valueFor(op.schema.body, r));
      headers['content-type'] = r.chance(0.9) ? r.pick(['application/json', 'application/json; charset=utf-8', 'Application/JSON']) : r.pick(['text/plain', 'application/x-www-form-urlencoded', 'application/xml']);
    } else if (op.method === 'POST' && r.chance(0.2)) {
      body = r.pick(['', '{}', 'garbage']);
      if (r.chance(0.5)) headers['content-type'] = 'application/json';
    }
    if (r.chance(0.2)) headers['last-event-id'] = r.pick(ASCII_WEIRD);
    if (r.chance(0.2)) headers['x-correlation-id'] = r.pick(ASCII_WEIRD);
    if (r.chance(0.1)) headers.accept = 'text/event-stream';
    const method = r.chance(0.04) ? r.pick(['PUT', 'PATCH', 'DELETE', 'OPTIONS']) : op.method;
    const url = `${path}${op.schema.querystring || r.chance(0.05) ? queryFor(op.schema.querystring, r) : ''}`;
    const mustFail = isWrite && method === op.method && !isPublic;
    return { method, path: url, headers, ...(body === undefined ? {} : { body }), mustFail, label: `${op.method} ${op.path} [${breakages.join(',') || 'valid'}]` };
  }

  function strayCase(): FuzzCase {
    const path = r.pick([
      '/', '//', '/v1', '/v1/', '/v1//tasks', '/v1/tasks/', '/v1/tasks/../pools', '/%', '/%zz', `/v1/${weirdSegment(r)}`, '/v1/tasks?%',
      `/v1/pools/${weirdSegment(r)}/${weirdSegment(r)}`, '/metrics?x=%', `/${'a'.repeat(3_000)}`, '/v1/audit/holds/%00',
    ]);
    const headers: Record<string, string> = r.chance(0.5) ? { authorization: `Bearer ${opts.tokens.control}` } : {};
    return { method: r.pick(['GET', 'POST', 'DELETE', 'PUT']), path, headers, mustFail: false, label: `stray ${path.slice(0, 40)}` };
  }

  return { next: (): FuzzCase => (r.chance(0.9) ? contractCase() : strayCase()) };
}

/** Raw HTTP/1.1 bytes an HTTP client library would refuse to send. */
export function malformedRequests(seed: number): string[] {
  const r = rng(seed);
  const heads = [
    'GET / HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n',
    'GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: \u0001\r\n\r\n',
    'GARBAGE\r\n\r\n',
    'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n',
    'POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n',
    'POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello',
    'POST /v1/tasks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\nzz\r\n',
    `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`,
    'GET /v1/tasks/\u0000 HTTP/1.1\r\nHost: x\r\n\r\n',
    `GET /v1/tasks/${'%'.repeat(10)} HTTP/1.1\r\nHost: x\r\n\r\n`,
  ];
  return Array.from({ length: 200 }, () => r.pick(heads));
}
