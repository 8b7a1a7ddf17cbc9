// Drain and reload from any replica (state.backend redis): two gateways composed in this process
// on one Redis key prefix. The replica a control request reaches applies it, sends it to every
// other live replica over the control bus and answers with each one's ack; a live replica that
// does not listen is named with CONTROL_UNREACHABLE in the answer, not a 500.

import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { stateKeys } from '../../src/state/redis/keys.ts';
import { RedisPoolQueue } from '../../src/state/redis/pool-queue.ts';
import { ReplicaLease } from '../../src/state/redis/replica-lease.ts';
import { systemClock } from '../../src/system-clock.ts';
import { startVllmFake, type VllmFake } from '../fakes/vllm/fake.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { redisForTest, type RedisTestContext } from '../support/redis.ts';
import { until } from '../support/until.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});


async function twoGateways(): Promise<{ a: TestGateway; b: TestGateway; fake: VllmFake; redis: RedisTestContext }> {
  const redis = await redisForTest();
  cleanups.push(() => redis.cleanup());
  const fake = await startVllmFake({ tokensPerS: 400, firstTokenDelayMs: 2 });
  cleanups.push(() => fake.close());
  const config = (replicaId: string) => testConfig({
    pools: [{ id: 'demo', engine: 'vllm', model: 'demo', engine_model: 'fake-model', replicas: [{ id: 'v0', url: fake.url, slots: 2 }] }],
    state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: replicaId, lease_ms: 5_000 },
  });
  const a = await startGateway(config('gw-a'));
  cleanups.push(() => a.close());
  const b = await startGateway(config('gw-b'));
  cleanups.push(() => b.close());
  for (const g of [a, b]) await until(async () => ((await g.get('/v1/pools/demo')).body as { ready?: boolean }).ready ? true : undefined);
  return { a, b, fake, redis };
}

/** A task queued in the shared queue by some other admitter, already committed. */
async function queueCommittedTask(redis: RedisTestContext): Promise<string> {
  const keys = stateKeys(redis.prefix);
  const queue = new RedisPoolQueue({ redis: redis.client, keys, poolId: 'demo' });
  const id = randomUUID();
  const spec = { id, submission: { model: 'demo', prompt: 'queued during the drain', max_tokens: 3 }, owner: { tenant: 'default', keyId: 'anonymous' }, correlationId: 'c-1', poolId: 'demo', job: { promptTokens: 4, maxTokens: 3, allowFallback: false }, promptTokens: 4, createdAt: Date.now(), admittedBy: 'gw-x' };
  await redis.client.set(keys.committed(id), '1', 'PX', 60_000);
  const admitted = await queue.admit({ taskId: id, priority: 'interactive', tenant: 'default', admittedBy: 'gw-x', maxTokens: 3, budgetTokens: 7, budgetCost: 0, subjects: [] }, { maxQueued: 10, policy: 'reject', interactiveWeight: 3, batchWeight: 1 }, { key: keys.spec(id), value: JSON.stringify(spec), ttlMs: 60_000 });
  expect(admitted.kind).toBe('queued');
  return id;
}

const posts = (fake: VllmFake) => fake.seen.filter((r) => r.method === 'POST');

describe('drain and reload from any replica', () => {
  it('drains the pool on every live replica, stops claims everywhere, and a pool reload through the other replica ends the drain everywhere', async () => {
    const { a, b, fake, redis } = await twoGateways();
    const drained = await a.post('/v1/pools/demo/drain', { deadline_ms: 60_000 });
    expect(drained.status).toBe(202);
    expect(drained.body).toMatchObject({ pool_id: 'demo', draining: true, gateway_replicas: [{ replica_id: 'gw-a', ok: true }, { replica_id: 'gw-b', ok: true }] });
    expect((await b.get('/v1/pools/demo')).body).toMatchObject({ draining: true });
    const refused = await b.post('/v1/tasks', { model: 'demo', prompt: 'during the drain', max_tokens: 3 });
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: { code: 'DRAINING' } });
    // Queued with a wake-up published: no replica claims it while the pool drains.
    const id = await queueCommittedTask(redis);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await redis.client.zscore(stateKeys(redis.prefix).pool('demo').interactive, id)).not.toBeNull();
    expect(posts(fake)).toEqual([]);

    const reloaded = await b.post('/v1/pools/demo/reload', {});
    expect(reloaded.status).toBe(200);
    expect(reloaded.body).toMatchObject({ draining: false, gateway_replicas: [{ replica_id: 'gw-b', ok: true }, { replica_id: 'gw-a', ok: true }] });
    expect((await a.get('/v1/pools/demo')).body).toMatchObject({ draining: false });
    await until(async () => (posts(fake).length === 1 ? true : undefined));
  }, 40_000);

  it('reloads the configuration on every live replica and names a live replica that does not listen as CONTROL_UNREACHABLE', async () => {
    const { a, redis } = await twoGateways();
    // A replica with a live lease but no control subscription (wedged or starting).
    const ghost = new ReplicaLease({ redis: redis.client, keys: stateKeys(redis.prefix), replicaId: 'gw-ghost', token: randomUUID(), clock: systemClock, leaseMs: 60_000, onLost: () => undefined, onTakeover: () => undefined });
    await ghost.acquire();
    ghost.stop();
    const reloaded = await a.post('/v1/config/reload', {});
    expect(reloaded.status).toBe(200);
    expect(reloaded.body).toEqual({
      reloaded: true,
      pools: ['demo'],
      gateway_replicas: [
        { replica_id: 'gw-a', ok: true },
        { replica_id: 'gw-b', ok: true },
        { replica_id: 'gw-ghost', ok: false, code: 'CONTROL_UNREACHABLE', message: expect.stringMatching(/gw-ghost/) },
      ],
    });
  }, 40_000);

  it('answers a drain of an unknown pool with 404 and sends nothing to the other replicas', async () => {
    const { a, b } = await twoGateways();
    const missing = await b.post('/v1/pools/ghost/drain', { deadline_ms: 1_000 });
    expect(missing.status).toBe(404);
    expect((await a.get('/v1/pools/demo')).body).toMatchObject({ draining: false });
  }, 40_000);
});
