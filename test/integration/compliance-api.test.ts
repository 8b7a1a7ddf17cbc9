// Requirements of the API as a whole that no journey proves on its own: the served routes are
// exactly the contract's, /openapi.json is the generated document, an unexpected failure is a
// generic 500, a refused one-round-trip submit is still JSON, and admission checks run in the
// documented order (the first failing check decides the answer).

import { readFileSync } from 'node:fs';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compose } from '../../src/main.ts';
import { isObject, type Json } from '../../tools/gen-openapi.ts';
import { expectResponseMatches } from '../support/contract.ts';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';

const GENERATED = new URL('../../src/generated/openapi.json', import.meta.url);
const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** Every (METHOD path) of the contract, with `{param}` written `:param` as Fastify does. */
function contractRoutes(): string[] {
  const doc = JSON.parse(readFileSync(GENERATED, 'utf8')) as { paths: Record<string, Json> };
  const out: string[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) if (isObject(item) && isObject(item[method])) out.push(`${method.toUpperCase()} ${path.replace(/\{([^}]+)\}/g, ':$1')}`);
  }
  return out.sort();
}

/** Every (METHOD path) the Fastify instance serves, read from its route tree (HEAD is implied by GET). */
function servedRoutes(tree: string): string[] {
  const stack: string[] = [];
  const out: string[] = [];
  for (const line of tree.split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+) \(([^)]+)\)/.exec(line) ?? /^([│ ]*)[├└]── (\S+)$/.exec(line);
    if (!match) continue;
    const depth = (match[1] ?? '').length / 4;
    const path = `${stack[depth - 1] ?? ''}${match[2] ?? ''}`;
    stack[depth] = path;
    for (const method of (match[3] ?? '').split(', ').filter((m) => m !== '' && m !== 'HEAD')) out.push(`${method} ${path}`);
  }
  return out.sort();
}

/**
 * The browsable reference at /docs (src/api/docs/): Swagger UI's page, assets and its copy of the
 * contract, which present the API rather than extend it (test/integration/docs-page.test.ts).
 */
const isDocsPage = (route: string) => /^GET \/docs(\/|$)/.test(route);

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway(
    testConfig({
      pools: [
        mockPool({ replicas: [{ id: 'mock-0', slots: 4 }] }),
        mockPool({ id: 'tight', model: 'tight', replicas: [{ id: 'tight-0', slots: 1 }], queue: { max_queued: 1 } }, { tokens_per_s: 5 }),
      ],
    }),
  );
});
afterAll(async () => gw?.close());

describe('the served API and the contract', () => {
  it('ORCH-0001 serves exactly the routes the contract describes, no more and no fewer', () => {
    expect(servedRoutes(gw.app.printRoutes({ commonPrefix: false })).filter((route) => !isDocsPage(route))).toEqual(contractRoutes());
  });

  it('ORCH-0002 serves at GET /openapi.json the generated document, unchanged', async () => {
    const res = await gw.get('/openapi.json');
    expect(res.status).toBe(200);
    expect(res.body).toEqual(JSON.parse(readFileSync(GENERATED, 'utf8')));
  });

  it('ORCH-0009 answers an unexpected failure with a generic 500 INTERNAL that leaks nothing', async () => {
    const g = await compose(testConfig(), { logger: pino({ level: 'silent' }) });
    g.app.get('/explode', async () => {
      throw new Error('db password=hunter2 at /srv/orchqueue/src/secret.ts:42');
    });
    const url = await g.app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const res = await fetch(`${url}/explode`, { headers: { 'x-correlation-id': 'boom-1' } });
      const text = await res.text();
      expect(res.status).toBe(500);
      expect(JSON.parse(text)).toEqual({ error: { code: 'INTERNAL', message: expect.any(String), retriable: false, correlation_id: 'boom-1' } });
      expect(text).not.toMatch(/hunter2|secret\.ts|\bat \/|stack/);
    } finally {
      await g.close();
    }
  });

  it('ORCH-0101 still refuses with a JSON error body when the submit asked for the event stream', async () => {
    const res = await gw.post('/v1/tasks', { model: 'demo', prompt: 'x', max_tokens: 0 }, { accept: 'text/event-stream' });
    expect(res.status).toBe(400);
    expect(String(res.headers['content-type'])).toMatch(/^application\/json/);
    expectResponseMatches('createTask', 400, res.body);
    expect(res.body).toMatchObject({ error: { code: 'INVALID_PARAMS', field: 'max_tokens' } });
  });
});

describe('admission order', () => {
  const task = (over: Record<string, unknown>) => ({ model: 'demo', prompt: 'order', max_tokens: 4, ...over });
  const code = (res: { body: unknown }) => (res.body as { error: { code: string; field?: string } }).error;

  // ORCH-0116 from step 3 on: the schema/auth order is proven elsewhere (the gateway checks the
  // token first, see auth-and-heartbeat.test.ts).
  it('ORCH-0116 ORCH-0115 lets the earliest failing check decide: idempotency, model, capability, session, deadline, queue', async () => {
    const taskId = '0c0c0c0c-1111-4222-8333-444444444444';
    expect((await gw.post('/v1/tasks', task({ task_id: taskId }))).status).toBe(202);
    // idempotency before model resolution
    expect(code(await gw.post('/v1/tasks', task({ task_id: taskId, model: 'no-such-model' })))).toMatchObject({ code: 'CONFLICT', field: 'task_id' });
    // model resolution before the capability guard
    expect(code(await gw.post('/v1/tasks', task({ model: 'no-such-model', max_tokens: 9_000 })))).toMatchObject({ code: 'INVALID_PARAMS', field: 'model' });
    // capability guard before the session
    await gw.post('/v1/sessions', { session_id: 'spent', max_turns: 1 });
    expect((await gw.post('/v1/tasks', task({ session_id: 'spent' }))).status).toBe(202);
    expect(code(await gw.post('/v1/tasks', task({ session_id: 'spent', max_tokens: 9_000 })))).toMatchObject({ code: 'INVALID_PARAMS', field: 'max_tokens' });
    // session before deadline feasibility and queue capacity: fill the one-slot pool first
    for (let i = 0; i < 2; i++) expect((await gw.post('/v1/tasks', { model: 'tight', prompt: 'fill', max_tokens: 1_000 })).status).toBe(202);
    expect(code(await gw.post('/v1/tasks', { model: 'tight', prompt: 'x', max_tokens: 4, session_id: 'spent', deadline_ms: 1 }))).toMatchObject({ code: 'BUDGET_EXCEEDED', budget: 'turns' });
    // deadline feasibility before queue capacity
    expect(code(await gw.post('/v1/tasks', { model: 'tight', prompt: 'x', max_tokens: 4, deadline_ms: 1 }))).toMatchObject({ code: 'DEADLINE_UNMET' });
    // and the queue last
    expect(code(await gw.post('/v1/tasks', { model: 'tight', prompt: 'x', max_tokens: 4 }))).toMatchObject({ code: 'ADMISSION_REJECT' });
    // none of the refusals used a turn of the session
    expect((await gw.get('/v1/sessions/spent')).body).toMatchObject({ turns: 1 });
  });
});
