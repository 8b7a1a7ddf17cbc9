// Sessions across two gateways composed in this process on one Redis key prefix (state.backend
// redis), in front of one vLLM fake: a session made on one replica is read and used on the other,
// its turn cap and budgets count turns admitted by both, a refused audit commit gives its turn
// back, and another tenant's session id is refused on either replica, with the memory backend's codes.

import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ComposeOptions } from '../../src/main.ts';
import { stateKeys } from '../../src/state/redis/keys.ts';
import { ReplicaLease } from '../../src/state/redis/replica-lease.ts';
import { RedisSessionStore } from '../../src/state/redis/session-store.ts';
import { systemClock } from '../../src/system-clock.ts';
import { startVllmFake, type VllmFake } from '../fakes/vllm/fake.ts';
import { failingFirstCommit, startGateway, testConfig, type HttpResult, type TestGateway } from '../support/gateway.ts';
import { redisForTest, startRedisServer, type RedisServer, type RedisTestContext } from '../support/redis.ts';

const CONTROL = 'control-token-cluster-sessions';
const ADMIN = { authorization: `Bearer ${CONTROL}` };

interface Cluster {
  a: TestGateway;
  b: TestGateway;
  fake: VllmFake;
}

let redis: RedisTestContext;
let running: Cluster | undefined;

beforeEach(async () => {
  redis = await redisForTest();
});

afterEach(async () => {
  const cluster = running;
  running = undefined;
  if (cluster) {
    await Promise.all([cluster.a.close(), cluster.b.close()]);
    await cluster.fake.close();
  }
  await redis.cleanup();
});

async function startCluster(over: { slots?: number; auth?: boolean; optsA?: ComposeOptions; leaseMs?: number } = {}): Promise<Cluster> {
  const fake = await startVllmFake({ tokensPerS: 400, firstTokenDelayMs: 2 });
  const config = (replicaId: string) => testConfig({
    pools: [{
      id: 'demo', engine: 'vllm', model: 'demo', engine_model: 'fake-model',
      replicas: [{ id: 'v0', url: fake.url, slots: over.slots ?? 2 }, { id: 'v1', url: fake.url, slots: over.slots ?? 2 }],
      queue: { max_queued: 100, policy: 'reject' },
    }],
    state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: replicaId, ...(over.leaseMs !== undefined ? { lease_ms: over.leaseMs } : {}) },
    ...(over.auth ? { auth: { control_tokens: [CONTROL] } } : {}),
  });
  const a = await startGateway(config('gw-a'), over.optsA ?? {});
  const b = await startGateway(config('gw-b'));
  running = { a, b, fake };
  return running;
}

const task = (sessionId: string, maxTokens = 8) => ({ model: 'demo', prompt: `turn of ${sessionId}`, max_tokens: maxTokens, session_id: sessionId });

/** Submits and follows the task's stream to its end (SSE on POST /v1/tasks). */
function run(gw: TestGateway, body: unknown, headers: Record<string, string> = {}): Promise<HttpResult> {
  return gw.raw('POST', '/v1/tasks', JSON.stringify(body), { 'content-type': 'application/json', accept: 'text/event-stream', ...headers });
}

type SessionBody = { turns: number; max_turns: number; replica_id?: string; kv_warmth: string; budgets: { tokens: { used: number } } };
type ErrorBody = { error: { code: string; budget?: string; field?: string } };
const errorOf = (r: HttpResult) => (r.body as ErrorBody).error;

async function sessionOf(gw: TestGateway, id: string, headers: Record<string, string> = {}): Promise<SessionBody> {
  const got = await gw.get(`/v1/sessions/${id}`, headers);
  expect(got.status).toBe(200);
  return got.body as SessionBody;
}

async function tenantWithKey(gw: TestGateway, tenant: string): Promise<Record<string, string>> {
  expect((await gw.post('/v1/admin/tenants', { id: tenant, limits: {} }, ADMIN)).status).toBe(201);
  const key = await gw.post('/v1/admin/keys', { tenant_id: tenant, scopes: ['tasks'] }, ADMIN);
  expect(key.status).toBe(201);
  return { authorization: `Bearer ${(key.body as { secret: string }).secret}` };
}

describe('sessions on two gateways sharing one Redis', () => {
  it('serves a session created on one replica from the other: read, used, its affinity and usage recorded, deleted', async () => {
    const { a, b } = await startCluster();
    const created = await a.post('/v1/sessions', { session_id: 'shared', max_turns: 5 });
    expect(created.status).toBe(201);
    expect(await sessionOf(b, 'shared')).toMatchObject({ turns: 0, max_turns: 5, kv_warmth: 'cold' });
    const ran = await run(b, task('shared'));
    expect(ran.status).toBe(200);
    expect(ran.text).toMatch(/event: end\n/);
    await expect.poll(async () => (await sessionOf(a, 'shared')).budgets.tokens.used).toBe(8);
    const after = await sessionOf(a, 'shared');
    expect(after).toMatchObject({ turns: 1, kv_warmth: 'warm' });
    expect(['v0', 'v1']).toContain(after.replica_id);
    expect((await b.del('/v1/sessions/shared')).status).toBe(204);
    expect((await a.get('/v1/sessions/shared')).status).toBe(404);
    expect((await a.del('/v1/sessions/shared')).status).toBe(404);
  });

  it('admits exactly max_turns of 10 concurrent turns submitted to both replicas; the rest are 402 BUDGET_EXCEEDED (turns)', async () => {
    const { a, b } = await startCluster();
    expect((await b.post('/v1/sessions', { session_id: 'capped', max_turns: 3 })).status).toBe(201);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).post('/v1/tasks', task('capped', 4))));
    const admitted = results.filter((r) => r.status === 202);
    const refused = results.filter((r) => r.status !== 202);
    expect(admitted).toHaveLength(3);
    for (const r of refused) {
      expect(r.status).toBe(402);
      expect(errorOf(r)).toMatchObject({ code: 'BUDGET_EXCEEDED', budget: 'turns' });
    }
    await expect.poll(async () => (await sessionOf(a, 'capped')).budgets.tokens.used).toBe(12);
    expect((await sessionOf(b, 'capped')).turns).toBe(3);
  });

  it('refuses a turn past a token budget used on both replicas with 402 BUDGET_EXCEEDED, and an expired session with 410', async () => {
    const { a, b } = await startCluster();
    expect((await a.post('/v1/sessions', { session_id: 'budgeted', budgets: { tokens: 20 } })).status).toBe(201);
    expect((await run(a, task('budgeted'))).text).toMatch(/event: end\n/);
    expect((await run(b, task('budgeted'))).text).toMatch(/event: end\n/);
    await expect.poll(async () => (await sessionOf(b, 'budgeted')).budgets.tokens.used).toBe(16);
    const over = await a.post('/v1/tasks', task('budgeted'));
    expect(over.status).toBe(402);
    expect(errorOf(over)).toMatchObject({ code: 'BUDGET_EXCEEDED', budget: 'tokens', field: 'max_tokens' });
    // What is left still fits a smaller turn, on either replica.
    expect((await b.post('/v1/tasks', task('budgeted', 4))).status).toBe(202);

    expect((await b.post('/v1/sessions', { session_id: 'brief', ttl_ms: 1_000 })).status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const expired = await a.post('/v1/tasks', task('brief'));
    expect(expired.status).toBe(410);
    expect(errorOf(expired).code).toBe('SESSION_EXPIRED');
    expect(errorOf(await b.get('/v1/sessions/brief')).code).toBe('SESSION_EXPIRED');
  });

  it('gives the held turn back when a fail_closed audit commit rejects on one replica: 503, and the other replica admits the turn', async () => {
    const recorder = failingFirstCommit();
    const { a, b } = await startCluster({ optsA: { recorder } });
    // Only A's recorder fails; both replicas refuse an unrecorded admission (fail_closed).
    expect((await b.post('/v1/sessions', { session_id: 'one-turn', max_turns: 1 })).status).toBe(201);
    const refused = await a.post('/v1/tasks', task('one-turn'));
    expect(refused.status).toBe(503);
    expect(errorOf(refused).code).toBe('AUDIT_UNAVAILABLE');
    expect((await sessionOf(b, 'one-turn')).turns).toBe(0);
    // Had the refused admission kept its hold, this one-turn session would be used up.
    expect((await run(b, task('one-turn'))).text).toMatch(/event: end\n/);
    expect((await sessionOf(a, 'one-turn')).turns).toBe(1);
    const second = await a.post('/v1/tasks', task('one-turn'));
    expect(second.status).toBe(402);
  });

  it("refuses another tenant's session id with 409 CONFLICT on either replica, and hides it from that tenant's reads", async () => {
    const { a, b } = await startCluster({ auth: true });
    // Each replica keeps its own tenant directory here (no shared database): the same tenants on both.
    const ownerOnA = await tenantWithKey(a, 'team-a');
    const otherOnA = await tenantWithKey(a, 'team-b');
    const otherOnB = await tenantWithKey(b, 'team-b');
    const ownerOnB = await tenantWithKey(b, 'team-a');
    expect((await a.post('/v1/sessions', { session_id: 'private' }, ownerOnA)).status).toBe(201);
    for (const [gw, headers] of [[a, otherOnA], [b, otherOnB]] as const) {
      const taken = await gw.post('/v1/tasks', task('private'), headers);
      expect(taken.status).toBe(409);
      expect(errorOf(taken)).toMatchObject({ code: 'CONFLICT', field: 'session_id' });
      expect((await gw.get('/v1/sessions/private', headers)).status).toBe(404);
    }
    expect((await b.post('/v1/tasks', task('private'), ownerOnB)).status).toBe(202);
    await expect.poll(async () => (await sessionOf(a, 'private', ownerOnA)).turns).toBe(1);
    // A session a task creates belongs to that task's tenant, on every replica.
    expect((await b.post('/v1/tasks', task('made-by-task'), otherOnB)).status).toBe(202);
    await expect.poll(async () => (await a.get('/v1/sessions/made-by-task', otherOnA)).status).toBe(200);
    expect((await a.post('/v1/tasks', task('made-by-task'), ownerOnA)).status).toBe(409);
  });

  it('gives back the turn a lost replica held on a session once a survivor takes it over', async () => {
    // Sweeps every second (a third of its lease): long enough for a loaded machine.
    const { a } = await startCluster({ leaseMs: 3_000 });
    expect((await a.post('/v1/sessions', { session_id: 'orphaned-hold', max_turns: 1 })).status).toBe(201);
    // A replica that admitted a turn of the session and went silent before its commit.
    const keys = stateKeys(redis.prefix);
    const dead = new ReplicaLease({ redis: redis.client, keys, replicaId: 'gw-dead', token: randomUUID(), clock: systemClock, leaseMs: 300, onLost: () => undefined, onTakeover: () => undefined });
    await dead.acquire();
    dead.stop();
    const deadSessions = new RedisSessionStore({ redis: redis.client, keys, ttlMs: 60_000, maxTurns: 10, maxSessions: 100, replicaId: 'gw-dead' });
    await deadSessions.hold('orphaned-hold', 8);
    const held = await a.post('/v1/tasks', task('orphaned-hold'));
    expect(held.status).toBe(402);
    expect(errorOf(held)).toMatchObject({ code: 'BUDGET_EXCEEDED', budget: 'turns' });
    const turnFree = async () => {
      const standing = await deadSessions.standing('orphaned-hold');
      return standing.kind === 'live' && standing.exhausted === undefined;
    };
    await expect.poll(turnFree, { timeout: 15_000, interval: 200 }).toBe(true);
    expect((await run(a, task('orphaned-hold'))).text).toMatch(/event: end\n/);
    expect((await sessionOf(a, 'orphaned-hold')).turns).toBe(1);
  }, 30_000);

  it('answers the session routes and a session turn with 503 STATE_UNAVAILABLE while Redis is gone, and serves them again once it is back', async () => {
    const server: RedisServer = await startRedisServer();
    const fake = await startVllmFake({ tokensPerS: 400 });
    const gw = await startGateway(testConfig({
      pools: [{ id: 'demo', engine: 'vllm', model: 'demo', engine_model: 'fake-model', replicas: [{ id: 'v0', url: fake.url, slots: 2 }] }],
      state: { backend: 'redis', url: server.url, key_prefix: 'sessions-gone:', replica_id: 'gw-alone' },
    }));
    try {
      expect((await gw.post('/v1/sessions', { session_id: 'outage' })).status).toBe(201);
      await server.kill();
      for (const answer of [await gw.get('/v1/sessions/outage'), await gw.post('/v1/sessions', { session_id: 'during' }), await gw.del('/v1/sessions/outage'), await gw.post('/v1/tasks', task('outage'))]) {
        expect(answer.status).toBe(503);
        expect(errorOf(answer).code).toBe('STATE_UNAVAILABLE');
        expect(answer.headers['retry-after']).toBe('1');
      }
      await server.restart();
      // An empty Redis after the restart: the session is gone, a new one can be made.
      await expect.poll(async () => (await gw.post('/v1/sessions', { session_id: 'after' })).status, { timeout: 15_000, interval: 200 }).toBe(201);
    } finally {
      await gw.close();
      await fake.close();
      await server.kill();
    }
  }, 40_000);

  it('gives the turn back when a queued session task is evicted by the other replica (drop-lru) or canceled from it before it ran', async () => {
    const fake = await startVllmFake({ tokensPerS: 40 });
    const config = (replicaId: string) => testConfig({
      pools: [{ id: 'demo', engine: 'vllm', model: 'demo', engine_model: 'fake-model', replicas: [{ id: 'v0', url: fake.url, slots: 1 }], queue: { max_queued: 1, policy: 'drop-lru' } }],
      state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: replicaId },
    });
    const a = await startGateway(config('gw-a'));
    const b = await startGateway(config('gw-b'));
    running = { a, b, fake };
    expect((await a.post('/v1/sessions', { session_id: 'waiting', max_turns: 5 })).status).toBe(201);
    const busy = await a.post('/v1/tasks', { model: 'demo', prompt: 'holds the only slot', max_tokens: 400 });
    expect(busy.status).toBe(202);
    const victim = await a.post('/v1/tasks', { ...task('waiting', 5), priority: 'batch' });
    expect(victim.status).toBe(202);
    expect((await sessionOf(b, 'waiting')).turns).toBe(1);
    const newer = await b.post('/v1/tasks', { model: 'demo', prompt: 'evicts', max_tokens: 5 });
    expect(newer.status).toBe(202);
    expect((await a.get(`/v1/tasks/${(victim.body as { task_id: string }).task_id}`)).body).toMatchObject({ state: 'evicted' });
    await expect.poll(async () => (await sessionOf(a, 'waiting')).turns).toBe(0);
    // The queue's place freed, a turn queued by B and canceled from A.
    expect((await a.post(`/v1/tasks/${(newer.body as { task_id: string }).task_id}/cancel`, undefined)).status).toBe(200);
    const queued = await b.post('/v1/tasks', task('waiting', 5));
    expect(queued.status).toBe(202);
    expect((await sessionOf(a, 'waiting')).turns).toBe(1);
    const canceled = await a.post(`/v1/tasks/${(queued.body as { task_id: string }).task_id}/cancel`, undefined);
    expect(canceled.body).toMatchObject({ state: 'canceled', canceled: true });
    await expect.poll(async () => (await sessionOf(b, 'waiting')).turns).toBe(0);
    await a.post(`/v1/tasks/${(busy.body as { task_id: string }).task_id}/cancel`, undefined);
  }, 30_000);
});
