// A client's hard pin with the redis backend, through two gateways composed in this process on
// one Redis key prefix: a task pinned (without allow_fallback) to a busy engine replica stays
// queued while later tasks run on the free one, whichever gateway claims, and runs on its
// replica once that frees; a pin no replica of the admitting gateway can honour is refused at
// admission, as with the memory backend.

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stateKeys } from '../../src/state/redis/keys.ts';
import { RedisPoolQueue } from '../../src/state/redis/pool-queue.ts';
import { startVllmFake } from '../fakes/vllm/fake.ts';
import { meterEngine, type EngineMeter } from '../support/engine-meter.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { redisForTest, type RedisTestContext } from '../support/redis.ts';
import { openStream, type ReceivedEvent } from '../support/sse-client.ts';

let redis: RedisTestContext;
const cleanups: Array<() => Promise<void>> = [];
beforeEach(async () => {
  redis = await redisForTest();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await redis.cleanup();
});

/** Gateways gw-a and gw-b, each reaching engine replicas v0 and v1 (one slot each) through its own meter front. */
async function cluster(): Promise<{ a: TestGateway; b: TestGateway; meters: EngineMeter[] }> {
  const meters: EngineMeter[] = [];
  for (let i = 0; i < 2; i++) {
    const engine = await startVllmFake({ tokensPerS: 400, firstTokenDelayMs: 2 });
    cleanups.push(() => engine.close());
    const meter = await meterEngine(engine.url);
    cleanups.push(() => meter.close());
    meters.push(meter);
  }
  const start = async (replicaId: string) => {
    const replicas = await Promise.all(meters.map(async (m, i) => ({ id: `v${i}`, url: await m.frontFor(replicaId), slots: 1 })));
    const gw = await startGateway(testConfig({
      pools: [{ id: 'demo', engine: 'vllm', model: 'demo', engine_model: 'fake-model', replicas, health: { interval_ms: 60_000 }, queue: { max_queued: 100, policy: 'reject' } }],
      state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: replicaId },
    }));
    cleanups.push(() => gw.close());
    return gw;
  };
  return { a: await start('gw-a'), b: await start('gw-b'), meters };
}

async function busy(): Promise<Record<string, number>> {
  return (await new RedisPoolQueue({ redis: redis.client, keys: stateKeys(redis.prefix), poolId: 'demo' }).figures()).busy;
}

const startedOn = (events: ReceivedEvent[]) => events.filter((e) => e.event === 'started').map((e) => e.data.replica_id);
const idOf = (body: unknown) => (body as { task_id: string }).task_id;

describe('a hard pin across gateway replicas', () => {
  // ORCH-0505
  it('keeps a task pinned to a busy replica queued while later tasks run on the free one, then runs it there once the replica frees', async () => {
    const { a, b, meters } = await cluster();
    const long = await b.post('/v1/tasks', { model: 'demo', prompt: 'long', max_tokens: 2_000, placement: { pin: 'v1' } });
    await expect.poll(async () => (await busy()).v1).toBe(1);
    const pinned = await a.post('/v1/tasks', { model: 'demo', prompt: 'waits for v1', max_tokens: 4, placement: { pin: 'v1' } });
    expect(pinned.status).toBe(202);
    const pinnedId = idOf(pinned.body);
    const reading = openStream(`${a.url}/v1/tasks/${pinnedId}/stream`, { timeoutMs: 20_000 });
    // Admitted after it, by either gateway: they run on v0 while the pinned task waits.
    for (const gw of [a, b, a]) {
      const later = await openStream(`${gw.url}/v1/tasks`, { method: 'POST', body: { model: 'demo', prompt: 'free', max_tokens: 4 } });
      expect(later.events.at(-1)).toMatchObject({ event: 'end' });
      expect(startedOn(later.events)).toEqual(['v0']);
    }
    expect((await b.get(`/v1/tasks/${pinnedId}`)).body).toMatchObject({ state: 'queued' });
    expect(await busy()).toEqual({ v0: 0, v1: 1 });
    await b.post(`/v1/tasks/${idOf(long.body)}/cancel`, undefined);
    const stream = await reading;
    expect(stream.events.at(-1)).toMatchObject({ event: 'end', data: { tokens_out: 4 } });
    expect(startedOn(stream.events)).toEqual(['v1']);
    for (const meter of meters) expect(meter.peak).toBe(1);
    await expect.poll(() => busy()).toEqual({ v0: 0, v1: 0 });
  }, 30_000);

  // ORCH-0505
  it('ends a queued task whose pinned replica became unusable after its admission with REPLICA_EXHAUSTED, once, and runs the rest', async () => {
    const { a, b } = await cluster();
    const long = await b.post('/v1/tasks', { model: 'demo', prompt: 'long', max_tokens: 2_000, placement: { pin: 'v1' } });
    await expect.poll(async () => (await busy()).v1).toBe(1);
    const pinned = await a.post('/v1/tasks', { model: 'demo', prompt: 'waits for v1', max_tokens: 4, placement: { pin: 'v1' } });
    expect(pinned.status).toBe(202);
    const pinnedId = idOf(pinned.body);
    const reading = openStream(`${b.url}/v1/tasks/${pinnedId}/stream`, { timeoutMs: 20_000 });
    // v1 leaves placement as a gateway publishes an unready or drained replica: no capacity.
    await new RedisPoolQueue({ redis: redis.client, keys: stateKeys(redis.prefix), poolId: 'demo' }).setCapacity('v1', 0);
    // The next claim (this admission's wake-up) hands the pinned task out to be ended, then runs this one.
    const later = await openStream(`${b.url}/v1/tasks`, { method: 'POST', body: { model: 'demo', prompt: 'free', max_tokens: 4 } });
    expect(later.events.at(-1)).toMatchObject({ event: 'end' });
    expect(startedOn(later.events)).toEqual(['v0']);
    const stream = await reading;
    const terminal = stream.events.filter((e) => e.event === 'end' || e.event === 'error');
    expect(terminal).toEqual([expect.objectContaining({ event: 'error', data: expect.objectContaining({ code: 'REPLICA_EXHAUSTED', retriable: true }) })]);
    expect(startedOn(stream.events)).toEqual([]);
    expect((await a.get(`/v1/tasks/${pinnedId}`)).body).toMatchObject({ state: 'failed' });
    expect(await new RedisPoolQueue({ redis: redis.client, keys: stateKeys(redis.prefix), poolId: 'demo' }).figures()).toMatchObject({ interactive: 0, batch: 0 });
    await b.post(`/v1/tasks/${idOf(long.body)}/cancel`, undefined);
  }, 30_000);

  // ORCH-0505
  it('refuses a pin to a replica the admitting gateway cannot use with 503 REPLICA_EXHAUSTED, and queues nothing', async () => {
    const { a } = await cluster();
    const v1 = a.pools.get('demo')?.replica('v1');
    if (v1) v1.state = 'unready';
    const refused = await a.post('/v1/tasks', { model: 'demo', prompt: 'pinned', max_tokens: 4, placement: { pin: 'v1' } });
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: { code: 'REPLICA_EXHAUSTED', retriable: true } });
    expect(await new RedisPoolQueue({ redis: redis.client, keys: stateKeys(redis.prefix), poolId: 'demo' }).figures()).toMatchObject({ interactive: 0, batch: 0 });
    const fallback = await openStream(`${a.url}/v1/tasks`, { method: 'POST', body: { model: 'demo', prompt: 'pinned', max_tokens: 4, placement: { pin: 'v1', allow_fallback: true } } });
    expect(startedOn(fallback.events)).toEqual(['v0']);
  }, 30_000);

  it('leaves the published capacity of a replica alone while a starting gateway has not probed it yet', async () => {
    const { a } = await cluster();
    const capacity = stateKeys(redis.prefix).pool('demo').capacity;
    await expect.poll(async () => redis.client.hgetall(capacity)).toEqual({ v0: '1', v1: '1' });
    // A gateway whose probes of v0 and v1 never answer: its replicas stay `starting`.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise<void>((resolve) => { silent.closeAllConnections(); silent.close(() => resolve()); }));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const c = await startGateway(testConfig({
      pools: [{ id: 'demo', engine: 'vllm', model: 'demo', engine_model: 'fake-model', replicas: [{ id: 'v0', url, slots: 1 }, { id: 'v1', url, slots: 1 }], health: { interval_ms: 60_000 } }],
      state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: 'gw-c' },
    }));
    cleanups.push(() => c.close());
    expect(c.pools.get('demo')?.replica('v0')?.state).toBe('starting');
    expect(await redis.client.hgetall(capacity)).toEqual({ v0: '1', v1: '1' });
    // So a task pinned to v1 still runs there.
    const pinned = await openStream(`${a.url}/v1/tasks`, { method: 'POST', body: { model: 'demo', prompt: 'pinned', max_tokens: 4, placement: { pin: 'v1' } } });
    expect(startedOn(pinned.events)).toEqual(['v1']);
  }, 30_000);
});

