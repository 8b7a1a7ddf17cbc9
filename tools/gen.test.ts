// Keeps the contract, the generated files, the error table, the spec and docs/api.md in sync,
// and checks that the generated request schemas accept and refuse what the contract promises.

import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { afterAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_TABLE } from '../src/core/errors.ts';
import { TASK_STATES } from '../src/core/task/events.ts';
import { ENGINE_KINDS } from '../src/adapters/contract.ts';
import { operations, responses, schemas, sseEventSchemas } from '../src/generated/routes.ts';
import { ROOT, renderAll, staleFiles } from './gen.ts';
import { isObject, loadMergedDocument, type Json } from './gen-openapi.ts';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const doc = loadMergedDocument(ROOT);
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];
const tmpDirs: string[] = [];
afterAll(() => tmpDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function documentOperations(): { where: string; op: Record<string, Json> }[] {
  const out: { where: string; op: Record<string, Json> }[] = [];
  for (const [path, item] of Object.entries(isObject(doc.paths) ? doc.paths : {})) {
    for (const method of METHODS) {
      const op = isObject(item) ? item[method] : undefined;
      if (isObject(op)) out.push({ where: `${method.toUpperCase()} ${path}`, op });
    }
  }
  return out;
}

function hasRef(node: unknown): boolean {
  if (Array.isArray(node)) return node.some(hasRef);
  if (typeof node !== 'object' || node === null) return false;
  return Object.entries(node).some(([key, value]) => key === '$ref' || hasRef(value));
}

describe('generated files', () => {
  // ORCH-0003
  it('are up to date with the contract (gen --check passes on the committed tree)', async () => {
    expect(await staleFiles()).toEqual([]);
  });

  // ORCH-0003
  it('are identical when generated twice', async () => {
    expect(await renderAll()).toEqual(await renderAll());
  });

  it('names exactly the files an edit of the contract makes stale', async () => {
    const root = mkdtempSync(join(tmpdir(), 'orchqueue-gen-'));
    tmpDirs.push(root);
    cpSync(join(ROOT, 'contracts/openapi'), join(root, 'contracts/openapi'), { recursive: true });
    for (const [path, content] of await renderAll(root)) {
      mkdirSync(join(root, path, '..'), { recursive: true });
      writeFileSync(join(root, path), content);
    }
    expect(await staleFiles(root)).toEqual([]);
    const data = join(root, 'contracts/openapi/data.yaml');
    writeFileSync(data, readFileSync(data, 'utf8').replace('summary: Read a task', 'summary: Look at a task'));
    expect(await staleFiles(root)).toEqual(['src/generated/openapi.json', 'src/generated/api-types.ts']);
    writeFileSync(join(root, 'src/generated/hand-written.ts'), 'export {};\n');
    expect(await staleFiles(root)).toContain('src/generated/hand-written.ts');
  });

  it('the CLI exits 0 on the committed tree', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [join(ROOT, 'tools/gen.ts'), '--check'], { cwd: ROOT });
    expect(stdout).toContain('up to date');
  });
});

describe('contract conventions', () => {
  const specIds = new Set(readFileSync(join(ROOT, 'specs/orchestrator-spec.md'), 'utf8').match(/^- \*\*ORCH-\d{4}\*\*/gm)?.map((l) => l.slice(4, 13)));

  // ORCH-0001 ORCH-0012
  it('gives every operation an operationId and a non-empty x-req-id of ids defined in the spec', () => {
    const ops = documentOperations();
    expect(ops.length).toBeGreaterThan(10);
    for (const { where, op } of ops) {
      expect(typeof op.operationId, where).toBe('string');
      const ids = op['x-req-id'];
      expect(Array.isArray(ids) && ids.length > 0, `${where} x-req-id`).toBe(true);
      for (const id of Array.isArray(ids) ? ids : []) {
        expect(id, where).toMatch(/^ORCH-\d{4}$/);
        expect(specIds.has(String(id)), `${where}: ${String(id)} is not in specs/orchestrator-spec.md`).toBe(true);
      }
    }
  });

  it('documents X-Correlation-Id on every response and Retry-After plus X-Backoff-Ms on every 429', () => {
    for (const [id, byStatus] of Object.entries(responses)) {
      for (const [status, response] of Object.entries(byStatus)) {
        const headers = 'headers' in response ? (response.headers.properties as Record<string, unknown>) : {};
        expect(Object.keys(headers), `${id} ${status}`).toContain('x-correlation-id');
        if (status === '429') expect(Object.keys(headers), `${id} 429`).toEqual(expect.arrayContaining(['retry-after', 'x-backoff-ms']));
      }
    }
  });

  // ORCH-0007
  it('has an ErrorCode enum equal to ERROR_CODES, in the same order', () => {
    expect(schemas.ErrorCode.enum).toEqual(ERROR_CODES);
  });

  it('has the task states and engine kinds of the core', () => {
    expect(schemas.TaskState.enum).toEqual([...TASK_STATES]);
    expect(schemas.EngineKind.enum).toEqual([...ENGINE_KINDS]);
  });

  // ORCH-0007
  it('documents every error code in the docs/api.md table with its status and retriable flag', () => {
    const rows = new Map<string, string>();
    for (const [, code, status, retriable] of readFileSync(join(ROOT, 'docs/api.md'), 'utf8').matchAll(/^\| `([A-Z_]+)` \| (\d{3}) \| (yes|no) \|/gm)) {
      rows.set(code ?? '', `${status} ${retriable}`);
    }
    for (const code of ERROR_CODES) {
      const { status, retriable } = ERROR_TABLE[code];
      expect(rows.get(code), `docs/api.md row for ${code}`).toBe(`${status} ${retriable ? 'yes' : 'no'}`);
    }
    expect([...rows.keys()].sort()).toEqual([...ERROR_CODES].sort());
  });

  it('leaves no $ref in the route table, the responses or the SSE schemas', () => {
    expect(hasRef(operations)).toBe(false);
    expect(hasRef(responses)).toBe(false);
    expect(hasRef(sseEventSchemas)).toBe(false);
  });

  it('gives Fastify paths with :params', () => {
    expect(operations.getTask).toMatchObject({ method: 'GET', path: '/v1/tasks/:task_id' });
    expect(operations.cancelTask.path).toBe('/v1/tasks/:task_id/cancel');
    expect(Object.keys(sseEventSchemas)).toEqual(['started', 'token', 'metrics', 'end', 'error']);
  });
});

describe('generated request schemas', () => {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  const taskRequest = ajv.compile(operations.createTask.schema.body);
  const minimal = { model: 'demo', prompt: 'hello', max_tokens: 32 };

  it('accept the minimal and the full task request', () => {
    expect(taskRequest(minimal)).toBe(true);
    const full = {
      ...minimal, task_id: '0b6f1d9e-3c1a-4a5e-9d7e-2f4b8c6a1e01', session_id: 'chat:42', priority: 'batch', deadline_ms: 1,
      seed: 4294967295, temperature: 2, top_p: 1, stop: ['\n'], engine: 'llamacpp',
      placement: { pin: 'r0', prefer: ['r1'], avoid: ['r2'], allow_fallback: true, accelerator: 'nvidia' },
    };
    expect(taskRequest(full), JSON.stringify(taskRequest.errors)).toBe(true);
  });

  it.each([
    ['an unknown top-level field', { ...minimal, temprature: 1 }],
    ['an unknown placement field', { ...minimal, placement: { pinned: 'r0' } }],
    ['max_tokens as a string', { ...minimal, max_tokens: '32' }],
    ['max_tokens of 0', { ...minimal, max_tokens: 0 }],
    ['a fractional max_tokens', { ...minimal, max_tokens: 1.5 }],
    ['an empty prompt', { ...minimal, prompt: '' }],
    ['a missing model', { prompt: 'hello', max_tokens: 1 }],
    ['a task_id that is not a uuid', { ...minimal, task_id: 'abc' }],
    ['a session_id with a space', { ...minimal, session_id: 'a b' }],
    ['a seed above 2^32-1', { ...minimal, seed: 4294967296 }],
    ['top_p of 0', { ...minimal, top_p: 0 }],
    ['temperature above 2', { ...minimal, temperature: 2.1 }],
    ['nine stop sequences', { ...minimal, stop: Array.from({ length: 9 }, (_, i) => `s${i}`) }],
    ['an empty stop sequence', { ...minimal, stop: [''] }],
    ['an unknown engine', { ...minimal, engine: 'sglang' }],
    ['an unknown priority', { ...minimal, priority: 'urgent' }],
  ])('refuse %s', (_, body) => {
    expect(taskRequest(body)).toBe(false);
  });

  it('refuse unknown fields in session budgets and drain bodies', () => {
    expect(ajv.validate(operations.createSession.schema.body, { budgets: { tokens: 10, dollars: 1 } })).toBe(false);
    expect(ajv.validate(operations.createSession.schema.body, { ttl_ms: 999 })).toBe(false);
    expect(ajv.validate(operations.createSession.schema.body, {})).toBe(true);
    expect(ajv.validate(operations.drainPool.schema.body, { deadline_ms: 0 })).toBe(true);
    expect(ajv.validate(operations.drainPool.schema.body, { deadline_ms: 0, force: true })).toBe(false);
  });

  it('accept only a decimal Last-Event-ID header', () => {
    const headers = operations.streamTask.schema.headers;
    expect(ajv.validate(headers, { 'last-event-id': '17', accept: 'text/event-stream' })).toBe(true);
    expect(ajv.validate(headers, { 'last-event-id': 'abc' })).toBe(false);
  });
});
