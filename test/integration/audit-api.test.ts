// The control-plane audit routes over real HTTP, inside a Fastify that uses the server's own
// auth hook and error renderer, on a real Postgres store. Every answer is checked against the
// contract. Verifies ORCH-0704, ORCH-0705, ORCH-0706, ORCH-0707.

import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditRoutes, type AuditRoutesDeps } from '../../src/api/audit/routes.ts';
import { installAuth } from '../../src/api/auth.ts';
import { fromFastifyError, sendError } from '../../src/api/errors.ts';
import { verifyNdjson } from '../../src/audit/ndjson-export.ts';
import { noopRecorder } from '../../src/audit/recorder.ts';
import { openPgStore } from '../../src/audit/pg-store.ts';
import type { AuditStore } from '../../src/audit/store.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { schemas } from '../../src/generated/routes.ts';
import { expectResponseMatches } from '../support/contract.ts';
import { staticDirectory } from '../support/tenancy.ts';
import { admittedFact, createTestDatabase, databaseUrl, faultyStore, recordingLogger, terminalFact } from './audit-backends.ts';

const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const CONTROL_TOKEN = 'control-token-0123456789';
const DATA_TOKEN = 'data-token-0123456789';
const CONTROL = { authorization: `Bearer ${CONTROL_TOKEN}` };

/** The plugin in a Fastify with the gateway's validation, auth and error rendering. */
async function serve(deps: AuditRoutesDeps): Promise<{ app: FastifyInstance; url: string }> {
  const app = Fastify();
  const strict = new Ajv2020({ coerceTypes: false, useDefaults: true, strict: false });
  const coercing = new Ajv2020({ coerceTypes: true, useDefaults: true, strict: false });
  addFormats(strict);
  addFormats(coercing);
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema as object));
  app.addHook('onRequest', async (req, reply) => void reply.header('x-correlation-id', String(req.id)));
  installAuth(app, await staticDirectory({ data: [DATA_TOKEN], control: [CONTROL_TOKEN] }));
  app.setErrorHandler((err: FastifyError, _req, reply) => sendError(reply, fromFastifyError(err)));
  await app.register(auditRoutes, deps);
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: unknown;
}

async function call(url: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, headers: Record<string, string> = CONTROL): Promise<Answer> {
  const res = await request(`${url}${path}`, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.body.text();
  const json = (res.headers['content-type'] ?? '').toString().startsWith('application/json') && text !== '' ? JSON.parse(text) as unknown : undefined;
  return { status: res.statusCode, headers: res.headers, text, body: json };
}

describe('audit control-plane routes', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let store: AuditStore;
  let writer: AuditWriter;
  let server: { app: FastifyInstance; url: string };

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openPgStore({ connectionString: databaseUrl(database.name) });
    writer = await AuditWriter.start({ batch_max_rows: 64, batch_max_ms: 2, buffer_max_rows: 1_000, fail_closed: true }, { store, logger: recordingLogger() });
    for (let i = 0; i < 6; i++) {
      await writer.commitAdmission(admittedFact(`api-${i}`, { session_id: 'sess-api' }));
      writer.finished(terminalFact(`api-${i}`, { session_id: 'sess-api' }));
    }
    await writer.flush();
    server = await serve({ store, writer });
  });

  afterAll(async () => {
    await server.app.close();
    await writer.close();
    await store.close();
    await database.drop();
  });

  // ORCH-0705
  it('lists rows with filters and pages by seq, as the contract says', async () => {
    const first = await call(server.url, 'GET', '/v1/audit?session_id=sess-api&kind=terminal&limit=4');
    expect(first.status).toBe(200);
    expectResponseMatches('listAudit', 200, first.body, { headers: first.headers });
    const page = first.body as { rows: { task_id: string; seq: number }[]; next_after_seq?: number };
    expect(page.rows.map((row) => row.task_id)).toEqual(['api-0', 'api-1', 'api-2', 'api-3']);
    expect(page.next_after_seq).toBe(page.rows[3]?.seq);
    const second = await call(server.url, 'GET', `/v1/audit?session_id=sess-api&kind=terminal&limit=4&after_seq=${page.next_after_seq}`);
    const rest = second.body as { rows: { task_id: string }[]; next_after_seq?: number };
    expect(rest.rows.map((row) => row.task_id)).toEqual(['api-4', 'api-5']);
    expect(rest.next_after_seq).toBeUndefined();
  });

  it('refuses bad filters with 400 naming the field', async () => {
    for (const [query, field] of [['kind=bogus', 'kind'], ['limit=0', 'limit'], ['since=yesterday', 'since'], ['colour=red', 'colour']] as const) {
      const answer = await call(server.url, 'GET', `/v1/audit?${query}`);
      expect(answer.status).toBe(400);
      expectResponseMatches('listAudit', 400, answer.body, { headers: answer.headers });
      expect(answer.body).toMatchObject({ error: { code: 'INVALID_PARAMS', field } });
    }
  });

  // ORCH-0706
  it('exports NDJSON rows with their chain fields that verify offline', async () => {
    const answer = await call(server.url, 'GET', '/v1/audit/export');
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toMatch(/^application\/x-ndjson/);
    expectResponseMatches('exportAudit', 200, answer.text, { contentType: 'application/x-ndjson', headers: answer.headers });
    const lines = answer.text.split('\n').filter((line) => line !== '');
    expect(lines.length).toBeGreaterThanOrEqual(12);
    const validRow = new Ajv2020({ strict: false }).compile(schemas.AuditRow);
    for (const line of lines) expect(validRow(JSON.parse(line)), line).toBe(true);
    expect(await verifyNdjson(lines)).toMatchObject({ ok: true, rows: lines.length });
    const oneTask = await call(server.url, 'GET', '/v1/audit/export?task_id=api-2');
    expect(oneTask.text.trim().split('\n')).toHaveLength(2);
  });

  // ORCH-0704
  it('verifies the chain and answers its head', async () => {
    const answer = await call(server.url, 'POST', '/v1/audit/verify');
    expect(answer.status).toBe(200);
    expectResponseMatches('verifyAudit', 200, answer.body, { headers: answer.headers });
    const head = await store.head();
    expect(answer.body).toEqual({
      ok: true, rows: head.seq, head_seq: head.seq, head_hash: head.hash,
      chains: [{ chain: 'main', ok: true, rows: head.seq, head_seq: head.seq, head_hash: head.hash }],
    });
  });

  it('answers the chain head for an external witness, matching what verify reports', async () => {
    const answer = await call(server.url, 'GET', '/v1/audit/head');
    expect(answer.status).toBe(200);
    expectResponseMatches('getAuditHead', 200, answer.body, { headers: answer.headers });
    const verified = (await call(server.url, 'POST', '/v1/audit/verify')).body as { head_seq: number; head_hash: string };
    expect(answer.body).toEqual({ chain: 'main', head_seq: verified.head_seq, head_hash: verified.head_hash });
    expect(verified.head_seq).toBeGreaterThan(0);
  });

  // ORCH-0707
  it('places, lists and removes legal holds, and records both actions with the actor', async () => {
    const created = await call(server.url, 'POST', '/v1/audit/holds', { session_id: 'sess-api', reason: 'case 9' });
    expect(created.status).toBe(201);
    expectResponseMatches('createAuditHold', 201, created.body, { headers: created.headers });
    const hold = created.body as { id: string; created_by: string };
    expect(hold).toMatchObject({ session_id: 'sess-api', reason: 'case 9' });
    expect(hold.created_by).toMatch(/^token:[0-9a-f]{12}$/);
    const listed = await call(server.url, 'GET', '/v1/audit/holds');
    expectResponseMatches('listAuditHolds', 200, listed.body, { headers: listed.headers });
    expect((listed.body as { holds: { id: string }[] }).holds.map((h) => h.id)).toContain(hold.id);

    const removed = await call(server.url, 'DELETE', `/v1/audit/holds/${hold.id}`);
    expect(removed.status).toBe(204);
    expectResponseMatches('deleteAuditHold', 204, removed.text, { headers: removed.headers });
    const again = await call(server.url, 'DELETE', `/v1/audit/holds/${hold.id}`);
    expect(again.status).toBe(404);
    expectResponseMatches('deleteAuditHold', 404, again.body, { headers: again.headers });

    await writer.flush();
    const control = await store.query({ kind: 'control', limit: 100 });
    expect(control.map((row) => [row.data.action, row.data.target, row.actor])).toEqual([
      ['hold_create', hold.id, hold.created_by],
      ['hold_delete', hold.id, hold.created_by],
    ]);
  });

  it('refuses a hold without exactly one scope, naming the field', async () => {
    const answer = await call(server.url, 'POST', '/v1/audit/holds', { task_id: 't', session_id: 's', reason: 'r' });
    expect(answer.status).toBe(400);
    expectResponseMatches('createAuditHold', 400, answer.body, { headers: answer.headers });
    expect(answer.body).toMatchObject({ error: { code: 'INVALID_PARAMS', field: 'session_id' } });
    const inverted = await call(server.url, 'POST', '/v1/audit/holds', { from: '2030-01-02T00:00:00Z', to: '2030-01-01T00:00:00Z', reason: 'r' });
    expect(inverted.body).toMatchObject({ error: { code: 'INVALID_PARAMS', field: 'to' } });
  });

  it('needs a control-plane token', async () => {
    const anonymous = await call(server.url, 'GET', '/v1/audit', undefined, {});
    expect(anonymous.status).toBe(401);
    const dataPlane = await call(server.url, 'POST', '/v1/audit/verify', undefined, { authorization: `Bearer ${DATA_TOKEN}` });
    expect(dataPlane.status).toBe(403);
    expectResponseMatches('verifyAudit', 403, dataPlane.body, { headers: dataPlane.headers });
  });

  // ORCH-0009
  it('answers 503 AUDIT_UNAVAILABLE while the store cannot be read, without leaking the cause', async () => {
    const flaky = faultyStore(store);
    flaky.down = true;
    const broken = await serve({ store: flaky, writer });
    try {
      for (const [method, path] of [['GET', '/v1/audit'], ['GET', '/v1/audit/export'], ['POST', '/v1/audit/verify'], ['GET', '/v1/audit/head'], ['GET', '/v1/audit/holds']] as const) {
        const answer = await call(broken.url, method, path);
        expect(answer.status, path).toBe(503);
        expect(answer.body).toMatchObject({ error: { code: 'AUDIT_UNAVAILABLE', retriable: true } });
        expect(answer.text).not.toContain('ECONNREFUSED');
      }
    } finally {
      await broken.app.close();
    }
  });

  it('answers 404 on every audit route when audit is off', async () => {
    const off = await serve({ store: null, writer: noopRecorder() });
    try {
      for (const [method, path] of [['GET', '/v1/audit'], ['GET', '/v1/audit/export'], ['POST', '/v1/audit/verify'], ['GET', '/v1/audit/head'], ['GET', '/v1/audit/holds'], ['DELETE', '/v1/audit/holds/x']] as const) {
        const answer = await call(off.url, method, path);
        expect(answer.status, path).toBe(404);
        expect(answer.body).toMatchObject({ error: { code: 'NOT_FOUND', message: 'audit is off (audit.backend: off)' } });
      }
    } finally {
      await off.app.close();
    }
  });
});
