// The unclaimed-stream timeout of a task run by a replica other than its admitter: it counts a
// reader on any replica. Gateway A's engine replica gets no capacity in Redis, so every task A
// admits runs on B; the client's stream, when it opens one, is on A.

import { afterEach, describe, expect, it } from 'vitest';
import { stateKeys } from '../../src/state/redis/keys.ts';
import { RedisPoolQueue } from '../../src/state/redis/pool-queue.ts';
import { startVllmFake, type VllmFake } from '../fakes/vllm/fake.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { redisForTest } from '../support/redis.ts';
import { openStream } from '../support/sse-client.ts';
import { until } from '../support/until.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});


async function admitterAndRunner(): Promise<{ a: TestGateway; b: TestGateway }> {
  const redis = await redisForTest();
  cleanups.push(() => redis.cleanup());
  const fakes: VllmFake[] = [];
  for (let i = 0; i < 2; i++) {
    const fake = await startVllmFake({ tokensPerS: 20, firstTokenDelayMs: 2 });
    cleanups.push(() => fake.close());
    fakes.push(fake);
  }
  const config = (replicaId: string, engineReplica: string, fake: VllmFake) => testConfig({
    pools: [{ id: 'demo', engine: 'vllm', model: 'demo', engine_model: 'fake-model', replicas: [{ id: engineReplica, url: fake.url, slots: 2 }] }],
    server: { unclaimed_stream_timeout_ms: 1_000 },
    state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: replicaId, lease_ms: 5_000 },
  });
  const a = await startGateway(config('gw-a', 'va', fakes[0] as VllmFake));
  cleanups.push(() => a.close());
  const b = await startGateway(config('gw-b', 'vb', fakes[1] as VllmFake));
  cleanups.push(() => b.close());
  const keys = stateKeys(redis.prefix);
  await until(async () => ((await redis.client.hget(keys.pool('demo').capacity, 'vb')) === '2' && (await redis.client.hget(keys.pool('demo').capacity, 'va')) === '2' ? true : undefined));
  await new RedisPoolQueue({ redis: redis.client, keys, poolId: 'demo' }).setCapacity('va', 0);
  return { a, b };
}

describe('the unclaimed-stream timeout of a task run on another replica', () => {
  it('cancels the task on its runner when no replica opened its stream in time', async () => {
    const { a, b } = await admitterAndRunner();
    const accepted = await a.post('/v1/tasks', { model: 'demo', prompt: 'nobody reads this', max_tokens: 400 });
    expect(accepted.status).toBe(202);
    const id = (accepted.body as { task_id: string }).task_id;
    await until(async () => (b.tasks.get(id) ? true : undefined));
    const status = await until(async () => {
      const body = (await a.get(`/v1/tasks/${id}`)).body as { state?: string };
      return body.state === 'canceled' ? body : undefined;
    });
    expect(status).toMatchObject({ state: 'canceled', finish_reason: 'canceled' });
  }, 30_000);

  it('keeps the task running when its stream is open on the admitting replica', async () => {
    const { a, b } = await admitterAndRunner();
    const accepted = await a.post('/v1/tasks', { model: 'demo', prompt: 'read from the admitter', max_tokens: 40 });
    const id = (accepted.body as { task_id: string }).task_id;
    const stream = await openStream(`${a.url}/v1/tasks/${id}/stream`, { timeoutMs: 20_000 });
    expect(b.tasks.get(id)).toBeDefined();
    expect(stream.events.at(-1)).toMatchObject({ event: 'end', data: { finish_reason: 'length' } });
  }, 30_000);
});
