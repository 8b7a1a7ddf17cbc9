// A tenant's session cap (limits.max_sessions) and its quota standing across two gateways on one
// Redis key prefix (state.backend redis): sessions made through either replica, by
// POST /v1/sessions or by an admission with a new session_id, count against one cap; a refusal
// changes nothing; and the admin API's usage on one replica shows what the other produced.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stateKeys } from '../../src/state/redis/keys.ts';
import { mockPool, startGateway, testConfig, type HttpResult, type TestGateway } from '../support/gateway.ts';
import { redisForTest, startRedisServer, type RedisTestContext } from '../support/redis.ts';

const CONTROL = 'control-token-session-caps';
const ADMIN = { authorization: `Bearer ${CONTROL}` };

let redis: RedisTestContext;
let gateways: TestGateway[] = [];

beforeEach(async () => {
  redis = await redisForTest();
});

afterEach(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  gateways = [];
  await redis.cleanup();
});

async function replicas(): Promise<[TestGateway, TestGateway]> {
  const config = (replicaId: string) => testConfig({
    pools: [mockPool()],
    auth: { control_tokens: [CONTROL] },
    state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: replicaId },
  });
  gateways = [await startGateway(config('gw-a')), await startGateway(config('gw-b'))];
  return gateways as [TestGateway, TestGateway];
}

/** The tenant on both replicas (each keeps its own directory here: no shared database) and a data key on each. */
async function tenant(gws: TestGateway[], id: string, limits: Record<string, unknown>): Promise<Array<Record<string, string>>> {
  const keys: Array<Record<string, string>> = [];
  for (const gw of gws) {
    expect((await gw.post('/v1/admin/tenants', { id, limits }, ADMIN)).status).toBe(201);
    const key = await gw.post('/v1/admin/keys', { tenant_id: id, scopes: ['tasks'] }, ADMIN);
    expect(key.status).toBe(201);
    keys.push({ authorization: `Bearer ${(key.body as { secret: string }).secret}` });
  }
  return keys;
}

const task = (sessionId: string) => ({ model: 'demo', prompt: `turn of ${sessionId}`, max_tokens: 4, session_id: sessionId });
type ErrorBody = { error: { code: string; limit?: string; field?: string; retry_after_ms?: number } };
const errorOf = (r: HttpResult) => (r.body as ErrorBody).error;
type Usage = { subject: string; requests: number; tokens: number; in_flight: number; queued: number; sessions: number };

async function usageOf(gw: TestGateway, id: string): Promise<Usage> {
  const got = await gw.get(`/v1/admin/tenants/${id}`, ADMIN);
  expect(got.status).toBe(200);
  return (got.body as { usage: Usage[] }).usage[0] as Usage;
}

function expectCapRefusal(r: HttpResult): void {
  expect(r.status).toBe(429);
  expect(errorOf(r)).toMatchObject({ code: 'RATE_LIMITED', limit: 'max_sessions' });
  expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
}

describe('the tenant session cap on two gateways sharing one Redis', () => {
  it('counts sessions made through both replicas by either route, refuses a third on either without a trace, and admits one after a delete', async () => {
    const gws = await replicas();
    const [a, b] = gws;
    const [onA, onB] = (await tenant(gws, 'capped', { max_sessions: 2 })) as [Record<string, string>, Record<string, string>];
    expect((await a.post('/v1/sessions', { session_id: 's1' }, onA)).status).toBe(201);
    expect((await b.post('/v1/tasks', task('s2'), onB)).status).toBe(202);
    const before = await usageOf(a, 'capped');
    expect(before).toMatchObject({ requests: 1, sessions: 2 });

    expectCapRefusal(await a.post('/v1/tasks', task('s3'), onA));
    expectCapRefusal(await b.post('/v1/tasks', task('s3'), onB));
    expectCapRefusal(await b.post('/v1/sessions', { session_id: 's3' }, onB));
    expectCapRefusal(await a.post('/v1/sessions', {}, onA));
    // Nothing was created, admitted or counted.
    expect((await a.get('/v1/sessions/s3', onA)).status).toBe(404);
    expect(await usageOf(b, 'capped')).toEqual(before);
    // A turn of a session the tenant has is no new session.
    expect((await a.post('/v1/tasks', task('s1'), onA)).status).toBe(202);

    expect((await b.del('/v1/sessions/s1', onB)).status).toBe(204);
    expect((await a.post('/v1/tasks', task('s3'), onA)).status).toBe(202);
    expectCapRefusal(await b.post('/v1/sessions', { session_id: 's4' }, onB));
    expect((await usageOf(b, 'capped')).sessions).toBe(2);
  });

  it('admits a new session once one expires, and says how long to wait', async () => {
    const gws = await replicas();
    const [a, b] = gws;
    const [onA, onB] = (await tenant(gws, 'brief', { max_sessions: 1 })) as [Record<string, string>, Record<string, string>];
    expect((await a.post('/v1/sessions', { session_id: 'short', ttl_ms: 1_000 }, onA)).status).toBe(201);
    const refused = await b.post('/v1/tasks', task('later'), onB);
    expectCapRefusal(refused);
    const wait = errorOf(refused).retry_after_ms as number;
    expect(wait).toBeLessThanOrEqual(1_000);
    // Time is what frees the place: wait out the hint the refusal gave.
    await new Promise((resolve) => setTimeout(resolve, wait + 50));
    expect((await b.post('/v1/tasks', task('later'), onB)).status).toBe(202);
  });

  it('lets exactly the cap of 8 concurrent session creations through on both replicas', async () => {
    const gws = await replicas();
    const keys = await tenant(gws, 'racing', { max_sessions: 3 });
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => {
      const gw = gws[i % 2] as TestGateway;
      const headers = keys[i % 2] as Record<string, string>;
      return i % 4 < 2 ? gw.post('/v1/sessions', { session_id: `r${i}` }, headers) : gw.post('/v1/tasks', task(`r${i}`), headers);
    }));
    expect(results.filter((r) => r.status === 201 || r.status === 202)).toHaveLength(3);
    for (const r of results.filter((x) => x.status !== 201 && x.status !== 202)) expectCapRefusal(r);
    expect(await redis.client.zcard(stateKeys(redis.prefix).ownedSessions('racing'))).toBe(3);
  });

  it('refuses bad session creations with typed errors and counts nothing', async () => {
    const gws = await replicas();
    const [a, b] = gws;
    const [onA] = (await tenant(gws, 'strict', { max_sessions: 2, max_session_ttl_ms: 10_000 })) as [Record<string, string>];
    const tooLong = await a.post('/v1/sessions', { session_id: 'long', ttl_ms: 20_000 }, onA);
    expect(tooLong.status).toBe(400);
    expect(errorOf(tooLong)).toMatchObject({ code: 'INVALID_PARAMS', field: 'ttl_ms', limit: 'max_session_ttl_ms' });
    const negative = await a.post('/v1/sessions', { session_id: 'neg', ttl_ms: -1 }, onA);
    expect(negative.status).toBe(400);
    expect(errorOf(negative).code).toBe('INVALID_PARAMS');
    expect((await usageOf(b, 'strict')).sessions).toBe(0);
    expect((await b.get('/v1/admin/tenants/nobody', ADMIN)).status).toBe(404);
  });
});

describe('the admin quota standing on two gateways sharing one Redis', () => {
  it("shows on one replica the usage produced through the other: requests, tokens, tasks in flight and sessions", async () => {
    const gws = await replicas();
    const [a, b] = gws;
    const [onA] = (await tenant(gws, 'watched', { requests_per_min: 100 })) as [Record<string, string>];
    expect(await usageOf(b, 'watched')).toMatchObject({ subject: 'tenant:watched', requests: 0, tokens: 0, in_flight: 0, sessions: 0 });
    const ran = await a.raw('POST', '/v1/tasks', JSON.stringify(task('w1')), { 'content-type': 'application/json', accept: 'text/event-stream', ...onA });
    expect(ran.text).toMatch(/event: end\n/);
    expect((await a.post('/v1/sessions', { session_id: 'w2' }, onA)).status).toBe(201);
    // The release settles the quota just after the end event; the session is counted at once.
    await expect.poll(async () => (await usageOf(b, 'watched')).in_flight).toBe(0);
    expect(await usageOf(b, 'watched')).toMatchObject({ requests: 1, tokens: 4, queued: 0, sessions: 2 });
  });

  it('answers 503 STATE_UNAVAILABLE for the standing and a capped session create while Redis is gone, and the cluster\'s figures once it is back', async () => {
    const server = await startRedisServer();
    const gw = await startGateway(testConfig({
      pools: [mockPool()],
      auth: { control_tokens: [CONTROL] },
      state: { backend: 'redis', url: server.url, key_prefix: 'caps-gone:', replica_id: 'gw-alone' },
    }));
    try {
      const [headers] = (await tenant([gw], 'outage', { max_sessions: 5 })) as [Record<string, string>];
      await server.kill();
      for (const answer of [await gw.get('/v1/admin/tenants/outage', ADMIN), await gw.post('/v1/sessions', { session_id: 'during' }, headers)]) {
        expect(answer.status).toBe(503);
        expect(errorOf(answer).code).toBe('STATE_UNAVAILABLE');
        expect(answer.headers['retry-after']).toBe('1');
      }
      await server.restart();
      await expect.poll(async () => (await gw.post('/v1/sessions', { session_id: 'after' }, headers)).status, { timeout: 15_000, interval: 200 }).toBe(201);
      expect((await usageOf(gw, 'outage')).sessions).toBe(1);
    } finally {
      await gw.close();
      await server.kill();
    }
  }, 40_000);
});
