// Tenants and API keys across two replicas (state.backend redis) on one shared Postgres: each
// replica authenticates from its own in-memory directory, so a key created or revoked through
// one replica must reach the other (src/state/redis/directory-sync.ts) — a revoked key that
// another replica still accepted would be a credential that outlives its revocation.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { redisForTest, type RedisTestContext } from '../support/redis.ts';
import { createTestDatabase, databaseUrl } from './audit-backends.ts';

const CONTROL = 'control-token-cluster-1';
const ADMIN = { authorization: `Bearer ${CONTROL}` };
const task = { model: 'demo', prompt: 'hi', max_tokens: 2 };

let redis: RedisTestContext;
let database: { name: string; drop(): Promise<void> };
let gateways: TestGateway[] = [];

beforeEach(async () => {
  redis = await redisForTest();
  database = await createTestDatabase();
});

afterEach(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  gateways = [];
  await redis.cleanup();
  await database.drop();
});

async function replica(id: string): Promise<TestGateway> {
  const g = await startGateway(testConfig({
    pools: [mockPool()],
    auth: { control_tokens: [CONTROL] },
    audit: { backend: 'postgres', database_url: databaseUrl(database.name) },
    state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: id },
  }));
  gateways.push(g);
  return g;
}

/** Polls a request until it answers `status` (the change travels by pub/sub), at most ~5 s. */
async function eventually(request: () => Promise<{ status: number }>, status: number): Promise<number> {
  let last = 0;
  for (let i = 0; i < 100; i++) {
    last = (await request()).status;
    if (last === status) return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  return last;
}

describe('tenants and keys across replicas', () => {
  it('a key made on A works on B, and once revoked on B is refused by A', async () => {
    const a = await replica('gw-a');
    const b = await replica('gw-b');
    expect((await a.post('/v1/admin/tenants', { id: 'team-a' }, ADMIN)).status).toBe(201);
    const made = await a.post('/v1/admin/keys', { tenant_id: 'team-a', scopes: ['tasks'] }, ADMIN);
    expect(made.status).toBe(201);
    const { key, secret } = made.body as { key: { id: string }; secret: string };
    const headers = { authorization: `Bearer ${secret}` };
    expect(await eventually(() => b.post('/v1/tasks', task, headers), 202)).toBe(202);
    // B sees the tenant A made too (its admin view reads its own directory).
    expect((await b.get('/v1/admin/tenants/team-a', ADMIN)).status).toBe(200);
    expect((await b.del(`/v1/admin/keys/${key.id}`, ADMIN)).status).toBe(200);
    expect((await b.post('/v1/tasks', task, headers)).status).toBe(401);
    expect(await eventually(() => a.post('/v1/tasks', task, headers), 401)).toBe(401);
  });

  it('a replica that joins later loads the keys made before it', async () => {
    const a = await replica('gw-a');
    await a.post('/v1/admin/tenants', { id: 'team-b' }, ADMIN);
    const { secret } = (await a.post('/v1/admin/keys', { tenant_id: 'team-b', scopes: ['tasks'] }, ADMIN)).body as { secret: string };
    const b = await replica('gw-b');
    expect((await b.post('/v1/tasks', task, { authorization: `Bearer ${secret}` })).status).toBe(202);
  });
});
