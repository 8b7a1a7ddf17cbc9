// Placement with the redis backend, through two gateways composed in this process on one Redis
// key prefix: a session's turn claimed by a replica that did not admit it runs on the session's
// affinity replica when that one has a slot; a claimed task whose engine replica refuses the
// connection or answers 503 before its first token is re-placed on another replica, or hopped to
// the fallback pool, through the shared slot count: no slot leaked, none oversubscribed.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PlacedFact } from '../../src/core/observer.ts';
import type { ComposeOptions } from '../../src/main.ts';
import type { Lease } from '../../src/pool/replica.ts';
import { stateKeys } from '../../src/state/redis/keys.ts';
import { RedisPoolQueue } from '../../src/state/redis/pool-queue.ts';
import { startVllmFake, type VllmFake } from '../fakes/vllm/fake.ts';
import { meterEngine, type EngineMeter } from '../support/engine-meter.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { redisForTest, type RedisTestContext } from '../support/redis.ts';
import { openStream, type ReceivedEvent } from '../support/sse-client.ts';
import { until } from '../support/until.ts';

let redis: RedisTestContext;
const cleanups: Array<() => Promise<void>> = [];
beforeEach(async () => {
  redis = await redisForTest();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
  await redis.cleanup();
});

async function fake(): Promise<VllmFake> {
  const f = await startVllmFake({ tokensPerS: 400, firstTokenDelayMs: 2 });
  cleanups.push(() => f.close());
  return f;
}

/** A vLLM front that passes the probes through to `to` and answers every generation 503. */
async function unavailableFront(to: VllmFake): Promise<string> {
  const server: Server = createServer((req, res) => {
    if (req.method !== 'GET') {
      req.resume();
      res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'Service Unavailable', code: 503 } }));
      return;
    }
    void request(`${to.url}${req.url ?? '/'}`).then(async (answer) => {
      res.writeHead(answer.statusCode, { 'content-type': String(answer.headers['content-type'] ?? 'application/json') }).end(await answer.body.text());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

interface Replica { id: string; url: string; slots: number }
interface PoolSpec { id: string; replicas: Replica[]; fallbacks?: string[] }

/** Gateways gw-a and gw-b on this test's key prefix; probes far apart, so a replica that fails stays ready to be claimed. */
async function gateways(pools: PoolSpec[], opts: ComposeOptions = {}, health: Record<string, number> = {}): Promise<[TestGateway, TestGateway]> {
  const config = (replicaId: string) => testConfig({
    pools: pools.map((p) => ({
      id: p.id, engine: 'vllm', model: p.id, engine_model: 'fake-model', replicas: p.replicas,
      health: { interval_ms: 60_000, ...health }, queue: { max_queued: 100, policy: 'reject' },
      ...(p.fallbacks ? { fallbacks: p.fallbacks } : {}),
    })),
    state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: replicaId },
  });
  const a = await startGateway(config('gw-a'), opts);
  cleanups.push(() => a.close());
  const b = await startGateway(config('gw-b'), opts);
  cleanups.push(() => b.close());
  return [a, b];
}

/** Engine slots in use cluster-wide, per engine replica of `poolId`. */
async function busy(poolId: string): Promise<Record<string, number>> {
  return (await new RedisPoolQueue({ redis: redis.client, keys: stateKeys(redis.prefix), poolId }).figures()).busy;
}

const startedOn = (events: ReceivedEvent[]) => events.filter((e) => e.event === 'started').map((e) => e.data.replica_id);
const idOf = (body: unknown) => (body as { task_id: string }).task_id;

describe('session affinity in every claim', () => {
  /** Takes every local slot of `gw`'s pool (work outside the cluster's count): it admits, but claims nothing. */
  function occupyLocalSlots(gw: TestGateway): Lease[] {
    const leases = (gw.pools.get('demo')?.replicas ?? []).flatMap((r) => Array.from({ length: r.slotsTotal }, () => r.lease({ maxTokens: 1, tokensOut: () => 0 })));
    expect(leases.length).toBeGreaterThan(0);
    return leases;
  }

  it('runs a turn claimed by the replica that did not admit it on the session\'s affinity replica, listed after a free one', async () => {
    const engine = await fake();
    const [a, b] = await gateways([{ id: 'demo', replicas: [{ id: 'v0', url: engine.url, slots: 1 }, { id: 'v1', url: engine.url, slots: 1 }] }]);
    // Turn 1, pinned to v1: the session's KV cache is there now.
    const first = await openStream(`${b.url}/v1/tasks`, { method: 'POST', body: { model: 'demo', prompt: 'turn one', max_tokens: 4, session_id: 's1', placement: { pin: 'v1' } } });
    expect(startedOn(first.events)).toEqual(['v1']);
    await expect.poll(async () => ((await a.get('/v1/sessions/s1')).body as { replica_id?: string }).replica_id).toBe('v1');
    // Turn 2 admitted by A, which has no local slot to claim onto: B claims it, with v0 and v1 free.
    const leases = occupyLocalSlots(a);
    const admitted = await a.post('/v1/tasks', { model: 'demo', prompt: 'turn two', max_tokens: 4, session_id: 's1' });
    expect(admitted.status).toBe(202);
    const second = await openStream(`${b.url}/v1/tasks/${idOf(admitted.body)}/stream`);
    expect(second.events.at(-1)).toMatchObject({ event: 'end' });
    expect(startedOn(second.events)).toEqual(['v1']);
    expect(b.tasks.get(idOf(admitted.body))).toBeDefined();
    for (const lease of leases) lease.release();
  }, 30_000);

  it('runs the turn on another replica when the affinity replica has no free slot, instead of waiting for it', async () => {
    const engine = await fake();
    const [a, b] = await gateways([{ id: 'demo', replicas: [{ id: 'v0', url: engine.url, slots: 1 }, { id: 'v1', url: engine.url, slots: 1 }] }]);
    await openStream(`${b.url}/v1/tasks`, { method: 'POST', body: { model: 'demo', prompt: 'turn one', max_tokens: 4, session_id: 's2', placement: { pin: 'v1' } } });
    await expect.poll(async () => ((await a.get('/v1/sessions/s2')).body as { replica_id?: string }).replica_id).toBe('v1');
    // v1 busy with a long task of another client (B runs it), A claims nothing.
    const long = await b.post('/v1/tasks', { model: 'demo', prompt: 'long', max_tokens: 2_000, placement: { pin: 'v1' } });
    await expect.poll(async () => (await busy('demo')).v1).toBe(1);
    const leases = occupyLocalSlots(a);
    const admitted = await a.post('/v1/tasks', { model: 'demo', prompt: 'turn two', max_tokens: 4, session_id: 's2' });
    const second = await openStream(`${b.url}/v1/tasks/${idOf(admitted.body)}/stream`);
    expect(second.events.at(-1)).toMatchObject({ event: 'end' });
    expect(startedOn(second.events)).toEqual(['v0']);
    await b.post(`/v1/tasks/${idOf(long.body)}/cancel`, undefined);
    for (const lease of leases) lease.release();
    await expect.poll(() => busy('demo')).toEqual({ v0: 0, v1: 0 });
  }, 30_000);
});

describe('re-placement of a claimed task', () => {
  for (const failure of ['refuses the connection', 'answers 503'] as const) {
    it(`runs a task whose engine replica ${failure} before the first token to completion on another replica; every slot comes back`, async () => {
      const broken = await fake();
      const healthy = await fake();
      const brokenUrl = failure === 'answers 503' ? await unavailableFront(broken) : broken.url;
      const placed: PlacedFact[] = [];
      const [a, b] = await gateways(
        [{ id: 'demo', replicas: [{ id: 'v0', url: brokenUrl, slots: 1 }, { id: 'v1', url: healthy.url, slots: 1 }] }],
        { observers: [{ placed: (f) => void placed.push(f) }] },
      );
      // Probed ready; from now on v0's port refuses connections (vLLM while it loads).
      if (failure === 'refuses the connection') await broken.setMode('loading');
      const admitted = await a.post('/v1/tasks', { model: 'demo', prompt: 'first on v0', max_tokens: 12 });
      expect(admitted.status).toBe(202);
      const id = idOf(admitted.body);
      const stream = await openStream(`${b.url}/v1/tasks/${id}/stream`);
      expect(stream.events.at(-1)).toMatchObject({ event: 'end', data: { tokens_out: 12 } });
      expect(startedOn(stream.events)).toEqual(['v0', 'v1']);
      const facts = placed.filter((f) => f.task_id === id);
      expect(facts.map((f) => [f.replica_id, f.attempt])).toEqual([['v0', 1], ['v1', 2]]);
      expect(healthy.seen.filter((r) => r.method === 'POST')).toHaveLength(1);
      await expect.poll(() => busy('demo')).toEqual({ v0: 0, v1: 0 });
      expect((await (a.tasks.get(id) ? a : b).get(`/v1/tasks/${id}`)).body).toMatchObject({ state: 'completed' });
    }, 30_000);
  }

  it('waits, holding its failed slot, for a slot to free on another replica (as the memory backend\'s retry list), then runs there', async () => {
    const broken = await fake();
    const healthy = await fake();
    const [a, b] = await gateways([{ id: 'demo', replicas: [{ id: 'v0', url: broken.url, slots: 1 }, { id: 'v1', url: healthy.url, slots: 1 }] }], {}, { breaker_failures: 1 });
    await broken.setMode('loading');
    const long = await b.post('/v1/tasks', { model: 'demo', prompt: 'long', max_tokens: 2_000, placement: { pin: 'v1' } });
    await expect.poll(async () => (await busy('demo')).v1).toBe(1);
    const admitted = await a.post('/v1/tasks', { model: 'demo', prompt: 'waits for v1', max_tokens: 5 });
    const id = idOf(admitted.body);
    const reading = openStream(`${a.url}/v1/tasks/${id}/stream`, { timeoutMs: 20_000 });
    // Failed on v0 (its breaker opens at the first fault) and waiting: still counted there.
    const claimer = await until(async () => (a.tasks.get(id) ? a : b.tasks.get(id) ? b : undefined));
    await expect.poll(() => claimer.pools.get('demo')?.replica('v0')?.status().breaker).toBe('open');
    expect(await busy('demo')).toEqual({ v0: 1, v1: 1 });
    expect(claimer.tasks.get(id)?.attempt).toBe(1);
    expect(healthy.seen.filter((r) => r.method === 'POST')).toHaveLength(1);
    await b.post(`/v1/tasks/${idOf(long.body)}/cancel`, undefined);
    const stream = await reading;
    expect(stream.events.at(-1)).toMatchObject({ event: 'end', data: { tokens_out: 5 } });
    expect(startedOn(stream.events)).toEqual(['v0', 'v1']);
    await expect.poll(() => busy('demo')).toEqual({ v0: 0, v1: 0 });
  }, 30_000);

  it('hops a claimed task to the fallback pool when no replica of its pool can take it, on a slot counted there', async () => {
    const broken = await fake();
    const backup = await fake();
    const placed: PlacedFact[] = [];
    const [a] = await gateways(
      [
        { id: 'demo', replicas: [{ id: 'v0', url: broken.url, slots: 1 }], fallbacks: ['spare'] },
        { id: 'spare', replicas: [{ id: 's0', url: backup.url, slots: 1 }] },
      ],
      { observers: [{ placed: (f) => void placed.push(f) }] },
    );
    await broken.setMode('loading');
    const stream = await openStream(`${a.url}/v1/tasks`, { method: 'POST', body: { model: 'demo', prompt: 'hop', max_tokens: 6 } });
    expect(stream.events.at(-1)).toMatchObject({ event: 'end', data: { tokens_out: 6 } });
    // As in memory: once more on v0 while it still serves (its breaker not open yet), then the hop.
    expect(startedOn(stream.events)).toEqual(['v0', 'v0', 's0']);
    const hop = placed.filter((f) => f.replica_id === 's0');
    expect(hop).toHaveLength(1);
    expect(hop[0]?.attempt).toBe(3);
    expect(hop[0]?.decision).toMatch(/^fallback 1: pool demo → spare after POOL_UNREADY/);
    await expect.poll(async () => [await busy('demo'), await busy('spare')]).toEqual([{ v0: 0 }, { s0: 0 }]);
  }, 30_000);

  it('never runs more generations on an engine replica than its slots while many failed tasks re-place at once; each task ends once and every slot comes back', async () => {
    const broken = await fake();
    const engines = [await fake(), await fake()];
    const meters: EngineMeter[] = [];
    for (const e of engines) {
      const meter = await meterEngine(e.url);
      cleanups.push(() => meter.close());
      meters.push(meter);
    }
    const url = (i: number, gw: string) => (meters[i] as EngineMeter).frontFor(gw);
    const pools = async (gw: string): Promise<PoolSpec[]> => [{ id: 'demo', replicas: [{ id: 'v0', url: broken.url, slots: 6 }, { id: 'v1', url: await url(0, gw), slots: 1 }, { id: 'v2', url: await url(1, gw), slots: 1 }] }];
    // Each gateway reaches the metered engines through its own front (same replica ids, same slots).
    const config = async (replicaId: string) => testConfig({
      pools: (await pools(replicaId)).map((p) => ({ id: p.id, engine: 'vllm', model: p.id, engine_model: 'fake-model', replicas: p.replicas, health: { interval_ms: 60_000, breaker_failures: 100 }, queue: { max_queued: 100, policy: 'reject' } })),
      state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: replicaId },
    });
    const a = await startGateway(await config('gw-a'));
    cleanups.push(() => a.close());
    const b = await startGateway(await config('gw-b'));
    cleanups.push(() => b.close());
    await broken.setMode('loading');
    const admitted = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).post('/v1/tasks', { model: 'demo', prompt: `task ${i}`, max_tokens: 20 })));
    const streams = await Promise.all(admitted.map((r, i) => openStream(`${(i % 2 === 0 ? a : b).url}/v1/tasks/${idOf(r.body)}/stream`, { timeoutMs: 25_000 })));
    for (const s of streams) {
      expect(s.events.filter((e) => e.event === 'end' || e.event === 'error')).toHaveLength(1);
      expect(s.events.at(-1)).toMatchObject({ event: 'end', data: { tokens_out: 20 } });
    }
    // Some of them failed on v0 first and waited for a slot there: the contention was real.
    expect(streams.filter((s) => startedOn(s.events)[0] === 'v0').length).toBeGreaterThan(2);
    for (const meter of meters) expect(meter.peak).toBe(1);
    await expect.poll(() => busy('demo')).toEqual({ v0: 0, v1: 0, v2: 0 });
  }, 60_000);
});
