// Cluster-wide figures on /v1/pools and /metrics with two gateways composed in this process on
// one Redis key prefix in front of one vLLM fake with one slot: both replicas show the same
// shared queue and slots, every series is labelled by gateway replica, and a Redis that is gone
// leaves both routes answering with local figures.

import { afterEach, describe, expect, it } from 'vitest';
import { parsePromText, sampleValue } from '../../src/telemetry/prom-text.ts';
import { lintExposition, readMetricsContract } from '../../tools/metrics-lint/metrics-lint.ts';
import { startVllmFake, type VllmFake } from '../fakes/vllm/fake.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { redisForTest, startRedisServer } from '../support/redis.ts';
import { until } from '../support/until.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function fakeEngine(): Promise<VllmFake> {
  // Slow enough that the first task still runs while the figures are read.
  const fake = await startVllmFake({ tokensPerS: 20, firstTokenDelayMs: 2 });
  cleanups.push(() => fake.close());
  return fake;
}

async function gateway(fake: VllmFake, redis: { url: string; prefix: string }, replicaId: string): Promise<TestGateway> {
  const config = testConfig({
    pools: [{ id: 'demo', engine: 'vllm', model: 'demo', engine_model: 'fake-model', replicas: [{ id: 'v0', url: fake.url, slots: 1 }] }],
    state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: replicaId },
  });
  const g = await startGateway(config);
  cleanups.push(() => g.close());
  return g;
}


interface PoolWithCluster {
  id: string;
  cluster?: {
    available: boolean;
    gateway_replica: string;
    queue?: { depth: number; interactive: number; batch: number };
    slots?: { total: number; busy: number };
    replicas?: Array<{ replica_id: string; slots_total: number; slots_busy: number }>;
    gateway_replicas_live?: string[];
  };
}

const clusterOf = async (g: TestGateway) => ((await g.get('/v1/pools')).body as { pools: PoolWithCluster[] }).pools[0]?.cluster;
const task = (prompt: string, maxTokens: number) => ({ model: 'demo', prompt, max_tokens: maxTokens });

describe('cluster figures on two gateways', () => {
  it('shows the same cluster-wide queue and slots on both replicas, in /v1/pools and /metrics, every series labelled by gateway replica', async () => {
    const redisContext = await redisForTest();
    cleanups.push(() => redisContext.cleanup());
    const fake = await fakeEngine();
    const a = await gateway(fake, redisContext, 'gw-a');
    const b = await gateway(fake, redisContext, 'gw-b');
    // One runs on the only slot; two wait in the shared queue, admitted by different replicas.
    for (const [g, prompt] of [[a, 'runs'], [a, 'waits-1'], [b, 'waits-2']] as const) {
      expect((await g.post('/v1/tasks', task(prompt, 60))).status).toBe(202);
    }
    const expected = {
      available: true,
      queue: { depth: 2, interactive: 2, batch: 0 },
      slots: { total: 1, busy: 1 },
      replicas: [{ replica_id: 'v0', slots_total: 1, slots_busy: 1 }],
      gateway_replicas_live: ['gw-a', 'gw-b'],
    };
    const seenByA = await until(async () => {
      const c = await clusterOf(a);
      return c?.queue?.depth === 2 && c.slots?.busy === 1 ? c : undefined;
    }, 15_000);
    expect(seenByA).toMatchObject({ ...expected, gateway_replica: 'gw-a' });
    const seenByB = await until(async () => {
      const c = await clusterOf(b);
      return c?.queue?.depth === 2 && c.slots?.busy === 1 ? c : undefined;
    }, 15_000);
    expect(seenByB).toMatchObject({ ...expected, gateway_replica: 'gw-b' });
    // The detail route carries the same field.
    expect(((await b.get('/v1/pools/demo')).body as PoolWithCluster).cluster).toMatchObject(expected);

    const contract = readMetricsContract();
    for (const [g, id] of [[a, 'gw-a'], [b, 'gw-b']] as const) {
      const text = (await g.get('/metrics')).text;
      const samples = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
      expect(samples.filter((l) => !l.includes(`gateway_replica="${id}"`))).toEqual([]);
      expect(lintExposition(text, contract)).toEqual([]);
      const parsed = parsePromText(text);
      expect(sampleValue(parsed, 'orchqueue_cluster_state_up')).toBe(1);
      expect(sampleValue(parsed, 'orchqueue_cluster_queue_depth', { pool: 'demo', priority: 'interactive' })).toBe(2);
      expect(sampleValue(parsed, 'orchqueue_cluster_slots_busy', { pool: 'demo', replica: 'v0' })).toBe(1);
      expect(sampleValue(parsed, 'orchqueue_cluster_slots_capacity', { pool: 'demo', replica: 'v0' })).toBe(1);
      expect(sampleValue(parsed, 'orchqueue_cluster_gateway_replicas_live')).toBe(2);
    }
    // Local view: the replica running the task holds the slot; together they hold one.
    const localBusy = await Promise.all([a, b].map(async (g) => sampleValue(parsePromText((await g.get('/metrics')).text), 'orchqueue_replica_slots_busy', { replica: 'v0' }) ?? 0));
    expect(localBusy[0]! + localBusy[1]!).toBe(1);
  }, 60_000);

  it('answers /v1/pools and /metrics with local figures while Redis is gone, saying the cluster figures are unavailable', async () => {
    const server = await startRedisServer();
    cleanups.push(() => server.kill());
    const fake = await fakeEngine();
    const a = await gateway(fake, { url: server.url, prefix: 'figures:' }, 'gw-a');
    await server.kill();
    const pools = await a.get('/v1/pools');
    expect(pools.status).toBe(200);
    const pool = (pools.body as { pools: Array<PoolWithCluster & { queue: unknown; slots: unknown }> }).pools[0];
    expect(pool?.cluster).toEqual({ available: false, gateway_replica: 'gw-a' });
    expect(pool?.slots).toEqual({ total: 1, busy: 0 });
    const metrics = await a.get('/metrics');
    expect(metrics.status).toBe(200);
    const parsed = parsePromText(metrics.text);
    expect(sampleValue(parsed, 'orchqueue_cluster_state_up', { gateway_replica: 'gw-a' })).toBe(0);
    expect(sampleValue(parsed, 'orchqueue_replica_slots_capacity', { pool: 'demo', replica: 'v0', gateway_replica: 'gw-a' })).toBe(1);
    expect(parsed.families.get('orchqueue_cluster_queue_depth')?.samples ?? []).toEqual([]);
  }, 60_000);
});
