// Tenants and keys end to end (issue 12): admin routes, scopes, isolation across every task and
// session route, quotas at their boundary, the session-cap attack, a revoked key, and keys that
// never reach a log line, error body or audit row.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { mockPool, startGateway, testConfig, type HttpResult, type TestGateway } from '../support/gateway.ts';

const CONTROL = 'control-token-654321';
const ADMIN = { authorization: `Bearer ${CONTROL}` };
const task = { model: 'demo', prompt: 'hi', max_tokens: 2 };

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

type Err = { error: { code: string; limit?: string; field?: string; retry_after_ms?: number } };
const err = (r: HttpResult) => (r.body as Err).error;

async function tenantWithKey(g: TestGateway, id: string, scopes: string[] = ['tasks', 'models'], limits: Record<string, unknown> = {}): Promise<{ headers: Record<string, string>; keyId: string; secret: string }> {
  const t = await g.post('/v1/admin/tenants', { id, limits }, ADMIN);
  expect(t.status).toBe(201);
  const k = await g.post('/v1/admin/keys', { tenant_id: id, scopes }, ADMIN);
  expect(k.status).toBe(201);
  const { key, secret } = k.body as { key: { id: string }; secret: string };
  return { headers: { authorization: `Bearer ${secret}` }, keyId: key.id, secret };
}

describe('tenants and keys', () => {
  // ORCH-1201 ORCH-1202 ORCH-1203
  it('issues a key shown once, which reaches exactly its scopes', async () => {
    gw = await startGateway(testConfig({ auth: { control_tokens: [CONTROL] } }));
    const a = await tenantWithKey(gw, 'team-a', ['tasks', 'models']);
    expect((await gw.post('/v1/tasks', task, a.headers)).status).toBe(202);
    expect((await gw.get('/v1/models', a.headers)).status).toBe(200);
    expect((await gw.get('/v1/capabilities', a.headers)).status).toBe(200);
    expect(err(await gw.get('/v1/pools', a.headers)).code).toBe('FORBIDDEN');
    expect(err(await gw.get('/v1/admin/tenants', a.headers)).code).toBe('FORBIDDEN');
    const shown = await gw.get(`/v1/admin/keys/${a.keyId}`, ADMIN);
    expect(shown.status).toBe(200);
    expect(shown.text).not.toContain(a.secret);
    expect((await gw.get('/v1/admin/keys?tenant_id=team-a', ADMIN)).text).not.toContain(a.secret);
    const detail = await gw.get('/v1/admin/tenants/team-a', ADMIN);
    expect(detail.body).toMatchObject({ tenant: { id: 'team-a' }, keys: [{ id: a.keyId }], usage: [{ subject: 'tenant:team-a', requests: 1 }] });
    expect(err(await gw.post('/v1/admin/tenants', { id: 'team-a' }, ADMIN)).code).toBe('CONFLICT');
    expect(err(await gw.post('/v1/admin/tenants', { id: 'Bad Id' }, ADMIN))).toMatchObject({ code: 'INVALID_PARAMS' });
    expect(err(await gw.post('/v1/admin/keys', { tenant_id: 'team-a', scopes: ['root'] }, ADMIN)).code).toBe('INVALID_PARAMS');
  });

  // ORCH-1204
  it('refuses a revoked key at once, like an unknown one', async () => {
    gw = await startGateway(testConfig({ auth: { control_tokens: [CONTROL] } }));
    const a = await tenantWithKey(gw, 'team-a');
    expect((await gw.post('/v1/tasks', task, a.headers)).status).toBe(202);
    const revoked = await gw.del(`/v1/admin/keys/${a.keyId}`, ADMIN);
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ id: a.keyId, revoked_at: expect.any(String) });
    const refused = await gw.post('/v1/tasks', task, a.headers);
    expect(refused.status).toBe(401);
    expect(err(refused).code).toBe('UNAUTHORIZED');
    expect(refused.text).toBe((await gw.post('/v1/tasks', task, { authorization: 'Bearer oq_unknown-key-0000000000' })).text.replace(/"correlation_id":"[^"]+"/, refused.text.match(/"correlation_id":"[^"]+"/)?.[0] ?? ''));
  });

  // ORCH-1205
  it('answers another tenant 404 on every task and session route, and keeps idempotency keys apart', async () => {
    gw = await startGateway(testConfig({ auth: { control_tokens: [CONTROL] } }));
    const a = await tenantWithKey(gw, 'team-a');
    const b = await tenantWithKey(gw, 'team-b');
    const submitted = await gw.post('/v1/tasks', { ...task, task_id: '3f0c8a52-1d7e-4c55-9e1b-2b8f5c0d9a11', max_tokens: 50 }, a.headers);
    expect(submitted.status).toBe(202);
    expect((await gw.post('/v1/sessions', { session_id: 's-a' }, a.headers)).status).toBe(201);
    const unknown = await gw.get('/v1/tasks/no-such-task', b.headers);
    for (const probe of [
      gw.get('/v1/tasks/3f0c8a52-1d7e-4c55-9e1b-2b8f5c0d9a11', b.headers),
      gw.get('/v1/tasks/3f0c8a52-1d7e-4c55-9e1b-2b8f5c0d9a11/stream', b.headers),
      gw.post('/v1/tasks/3f0c8a52-1d7e-4c55-9e1b-2b8f5c0d9a11/cancel', undefined, b.headers),
    ]) {
      const res = await probe;
      expect(res.status).toBe(404);
      expect(err(res).code).toBe(err(unknown).code);
    }
    expect((await gw.get('/v1/sessions/s-a', b.headers)).status).toBe(404);
    expect((await gw.del('/v1/sessions/s-a', b.headers)).status).toBe(404);
    // The same body and task_id from another tenant is not a replay of A's answer.
    const replay = await gw.post('/v1/tasks', { ...task, task_id: '3f0c8a52-1d7e-4c55-9e1b-2b8f5c0d9a11', max_tokens: 50 }, b.headers);
    expect(replay.status).toBe(409);
    expect(replay.text).not.toContain('streams');
    // A's own replay is; control sees across tenants; A's task still runs.
    expect((await gw.post('/v1/tasks', { ...task, task_id: '3f0c8a52-1d7e-4c55-9e1b-2b8f5c0d9a11', max_tokens: 50 }, a.headers)).status).toBe(202);
    expect((await gw.get('/v1/tasks/3f0c8a52-1d7e-4c55-9e1b-2b8f5c0d9a11', ADMIN)).status).toBe(200);
    expect((await gw.get('/v1/sessions/s-a', a.headers)).status).toBe(200);
    expect((await gw.post('/v1/tasks/3f0c8a52-1d7e-4c55-9e1b-2b8f5c0d9a11/cancel', undefined, a.headers)).status).toBe(200);
  });

  // ORCH-1210 ORCH-1212
  it('admits N requests per minute and refuses the N+1-th naming the limit, with the window end as its reset', async () => {
    gw = await startGateway(testConfig({ auth: { control_tokens: [CONTROL] } }));
    const a = await tenantWithKey(gw, 'team-a', ['tasks'], { requests_per_min: 3 });
    const b = await tenantWithKey(gw, 'team-b', ['tasks'], { requests_per_min: 3 });
    const statuses: number[] = [];
    let refused: HttpResult | undefined;
    let before = 0;
    for (let i = 0; i < 4; i++) {
      before = Date.now();
      const res = await gw.post('/v1/tasks', task, a.headers);
      statuses.push(res.status);
      if (res.status !== 202) refused = res;
    }
    // A minute boundary between the requests would reset the window: then the test proves nothing.
    if (Math.floor(before / 60_000) !== Math.floor((before - 2_000) / 60_000)) return;
    expect(statuses).toEqual([202, 202, 202, 429]);
    if (!refused) throw new Error('not refused');
    expect(err(refused)).toMatchObject({ code: 'RATE_LIMITED', limit: 'requests_per_min' });
    const backoff = Number(refused.headers['x-backoff-ms']);
    const windowEnd = Math.floor(before / 60_000) * 60_000 + 60_000;
    expect(Math.abs(before + backoff - windowEnd)).toBeLessThan(1_500);
    expect(Number(refused.headers['retry-after'])).toBe(Math.ceil(backoff / 1000));
    // Another tenant's window is its own.
    expect((await gw.post('/v1/tasks', task, b.headers)).status).toBe(202);
  });

  // ORCH-1213
  it('no longer lets one tenant fill the shared session cap with year-long sessions', async () => {
    gw = await startGateway(testConfig({ auth: { control_tokens: [CONTROL] }, sessions: { max_sessions: 4 } }));
    const attacker = await tenantWithKey(gw, 'attacker', ['tasks'], { max_sessions: 2, max_session_ttl_ms: 60_000 });
    const victim = await tenantWithKey(gw, 'victim', ['tasks']);
    const long = await gw.post('/v1/sessions', { ttl_ms: 604_800_000 }, attacker.headers);
    expect(long.status).toBe(400);
    expect(err(long)).toMatchObject({ field: 'ttl_ms', limit: 'max_session_ttl_ms' });
    expect((await gw.post('/v1/sessions', {}, attacker.headers)).status).toBe(201);
    expect((await gw.post('/v1/sessions', {}, attacker.headers)).status).toBe(201);
    const third = await gw.post('/v1/sessions', {}, attacker.headers);
    expect(third.status).toBe(429);
    expect(err(third).limit).toBe('max_sessions');
    expect(Number(third.headers['x-backoff-ms'])).toBeLessThanOrEqual(60_000);
    // A task's first turn creating a session counts against the cap too.
    const viaTask = await gw.post('/v1/tasks', { ...task, session_id: 'attacker-3' }, attacker.headers);
    expect(err(viaTask)).toMatchObject({ code: 'RATE_LIMITED', limit: 'max_sessions' });
    expect((await gw.post('/v1/sessions', {}, victim.headers)).status).toBe(201);
    expect((await gw.post('/v1/tasks', { ...task, session_id: 'victim-2' }, victim.headers)).status).toBe(202);
  });
});

describe('fairness between tenants', () => {
  // Issue 12: a tenant's queued work cannot starve another's (weighted by tenant within each class).
  it('places a second tenant’s work among a flooding tenant’s queue by its weight from the directory', async () => {
    const pool = mockPool({ replicas: [{ id: 'mock-0', slots: 1 }], queue: { max_queued: 20 } }, { hang_at_token: 1 });
    gw = await startGateway(testConfig({ auth: { control_tokens: [CONTROL] }, pools: [pool] }));
    const a = await tenantWithKey(gw, 'team-a');
    expect((await gw.post('/v1/admin/tenants', { id: 'team-b', weight: 2 }, ADMIN)).status).toBe(201);
    const bKey = await gw.post('/v1/admin/keys', { tenant_id: 'team-b', scopes: ['tasks'] }, ADMIN);
    const b = { headers: { authorization: `Bearer ${(bKey.body as { secret: string }).secret}` } };
    const submit = async (h: Record<string, string>) => (await gw?.post('/v1/tasks', task, h))?.body as { task_id: string; queue_position: number };
    const running = await submit(a.headers);
    const g = gw;
    await waitUntil(async () => ((await g.get(`/v1/tasks/${running.task_id}`, a.headers)).body as { state: string }).state === 'running');
    const flood = [];
    for (let i = 0; i < 5; i++) flood.push((await submit(a.headers)).queue_position);
    expect(flood).toEqual([0, 1, 2, 3, 4]);
    // Weight 2 against 1: b's two tasks are served first and third, not after a's five.
    const b1 = await submit(b.headers);
    const b2 = await submit(b.headers);
    expect([b1.queue_position, b2.queue_position]).toEqual([0, 2]);
    expect(((await g.get(`/v1/tasks/${b2.task_id}`, b.headers)).body as { queue_position: number }).queue_position).toBe(2);
    // The same tenants label the task counters (bounded by telemetry.max_tenant_labels).
    const metrics = (await g.get('/metrics', ADMIN)).text;
    expect(metrics).toContain('orchqueue_tasks_enqueued_total{pool="demo",priority="interactive",tenant="team-a"} 6');
    expect(metrics).toContain('orchqueue_tasks_enqueued_total{pool="demo",priority="interactive",tenant="team-b"} 2');
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 2_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('keys never leak', () => {
  // ORCH-1202 ORCH-1216
  it('keeps a planted key out of every log line, error body and audit row, while rows name tenant and key id', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk: Buffer, _enc, done) { lines.push(chunk.toString()); done(); } });
    gw = await startGateway(
      testConfig({ auth: { control_tokens: [CONTROL] }, audit: { backend: 'pglite', data_dir: 'memory://' }, telemetry: { log_level: 'debug' } }),
      { logger: pino({ level: 'debug' }, sink) },
    );
    const a = await tenantWithKey(gw, 'team-a', ['tasks'], { requests_per_min: 2 });
    const bodies: string[] = [];
    for (let i = 0; i < 3; i++) bodies.push((await gw.post('/v1/tasks', task, a.headers)).text);
    bodies.push((await gw.get('/v1/pools', a.headers)).text);
    bodies.push((await gw.post('/v1/tasks', { model: 42 }, a.headers)).text);
    await gw.del(`/v1/admin/keys/${a.keyId}`, ADMIN);
    bodies.push((await gw.post('/v1/tasks', task, a.headers)).text);
    await new Promise((r) => setTimeout(r, 200));
    const exported = await gw.get('/v1/audit/export', ADMIN);
    expect(exported.status).toBe(200);
    const secretPart = a.secret.slice(3);
    for (const text of [...bodies, ...lines, exported.text]) expect(text).not.toContain(secretPart);
    const rows = exported.text.trim().split('\n').map((l) => JSON.parse(l) as { kind: string; actor: string | null; data: Record<string, unknown> });
    const admissions = rows.filter((r) => r.kind === 'admission');
    expect(admissions.length).toBe(2);
    for (const r of admissions) expect(r).toMatchObject({ actor: `key:${a.keyId}`, data: { tenant: 'team-a' } });
    expect(rows.find((r) => r.kind === 'rejection')).toMatchObject({ actor: `key:${a.keyId}`, data: { tenant: 'team-a', code: 'RATE_LIMITED', limit: 'requests_per_min' } });
    expect(rows.find((r) => r.data.action === 'key_create')).toMatchObject({ data: { target: `key:${a.keyId}` } });
  }, 60_000);
});

describe('budgets across a restart', () => {
  // ORCH-1214
  it('keeps a period budget used before a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'orchqueue-tenants-'));
    try {
      const config = testConfig({ auth: { control_tokens: [CONTROL] }, audit: { backend: 'pglite', data_dir: dir } });
      gw = await startGateway(config);
      const a = await tenantWithKey(gw, 'team-a', ['tasks'], { budget: { period: 'day', tokens: 40 } });
      const first = await gw.post('/v1/tasks', { ...task, max_tokens: 10 }, a.headers);
      expect(first.status).toBe(202);
      const id = (first.body as { task_id: string }).task_id;
      for (let i = 0; i < 100 && (await gw.get(`/v1/tasks/${id}`, a.headers)).text.includes('"state":"queued"'); i++) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 300));
      const before = (await gw.get('/v1/admin/tenants/team-a', ADMIN)).body as { usage: Array<{ period?: { tokens: number } }> };
      const used = before.usage[0]?.period?.tokens ?? 0;
      expect(used).toBeGreaterThan(0);
      await gw.close();
      gw = await startGateway(config);
      const after = (await gw.get('/v1/admin/tenants/team-a', ADMIN)).body as { usage: Array<{ period?: { tokens: number } }> };
      expect(after.usage[0]?.period?.tokens).toBe(used);
      // The key survived too; what is left of the budget decides the next admission.
      const left = 40 - used;
      const over = await gw.post('/v1/tasks', { ...task, max_tokens: Math.max(1, left) }, a.headers);
      expect(over.status).toBe(429);
      expect(err(over).limit).toBe('budget.tokens');
    } finally {
      await gw?.close();
      gw = undefined;
      await rm(dir, { recursive: true, force: true });
    }
  }, 90_000);
});
