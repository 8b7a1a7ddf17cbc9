// A drain's deadline with the redis backend: what waits in the shared queue ends as in memory
// (DRAINING, cancel reason drain, one audit row), once, wherever its readers are, and gives back
// its quota reservation and session turn. Two gateways composed in this process share one Redis
// key prefix and one vLLM fake whose two slots are taken by long tasks, so the rest wait.

import { afterEach, describe, expect, it } from 'vitest';
import type { TerminalFact } from '../../src/core/observer.ts';
import { stateKeys } from '../../src/state/redis/keys.ts';
import { startVllmFake } from '../fakes/vllm/fake.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { redisForTest, type RedisTestContext } from '../support/redis.ts';
import { openStream, terminal } from '../support/sse-client.ts';
import { until } from '../support/until.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function twoGateways(): Promise<{ a: TestGateway; b: TestGateway; redis: RedisTestContext; rows: TerminalFact[] }> {
  const redis = await redisForTest();
  cleanups.push(() => redis.cleanup());
  const fake = await startVllmFake({ tokensPerS: 20, firstTokenDelayMs: 2 });
  cleanups.push(() => fake.close());
  const rows: TerminalFact[] = [];
  const config = (replicaId: string) => testConfig({
    pools: [{ id: 'demo', engine: 'vllm', model: 'demo', engine_model: 'fake-model', replicas: [{ id: 'v0', url: fake.url, slots: 2 }], queue: { max_queued: 10, policy: 'reject' } }],
    state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: replicaId, lease_ms: 5_000 },
  });
  const observers = [{ finished: (fact: TerminalFact) => rows.push(fact) }];
  const a = await startGateway(config('gw-a'), { observers });
  cleanups.push(() => a.close());
  const b = await startGateway(config('gw-b'), { observers });
  cleanups.push(() => b.close());
  for (const g of [a, b]) await until(async () => ((await g.get('/v1/pools/demo')).body as { ready?: boolean }).ready ? true : undefined);
  // Both slots busy for 20 s: everything admitted after waits in the shared queue.
  for (const g of [a, b]) expect((await g.post('/v1/tasks', { model: 'demo', prompt: 'a long one', max_tokens: 400 })).status).toBe(202);
  await until(async () => (fake.seen.filter((r) => r.method === 'POST').length === 2 ? true : undefined));
  return { a, b, redis, rows };
}

const idOf = (body: unknown) => (body as { task_id: string }).task_id;

describe('the drain deadline of a pool whose queue is shared in Redis', () => {
  it('ends each queued task once at the deadline with DRAINING, seen by readers on both replicas, with its audit row, quota and session turn given back', async () => {
    const { a, b, redis, rows } = await twoGateways();
    const keys = stateKeys(redis.prefix);
    expect((await a.post('/v1/sessions', { session_id: 'drained', max_turns: 1 })).status).toBe(201);
    const queued = [
      idOf((await a.post('/v1/tasks', { model: 'demo', prompt: 'waits on a', max_tokens: 5, session_id: 'drained' })).body),
      idOf((await b.post('/v1/tasks', { model: 'demo', prompt: 'waits on b', max_tokens: 5 })).body),
      idOf((await a.post('/v1/tasks', { model: 'demo', prompt: 'waits too', max_tokens: 5, priority: 'batch' })).body),
    ];
    expect(await redis.client.hlen(keys.pool('demo').entries)).toBe(3);
    const [first = ''] = queued;
    const readers = [a, b].map((g) => openStream(`${g.url}/v1/tasks/${first}/stream`, { timeoutMs: 15_000 }));
    await until(async () => {
      const counts = await redis.client.hgetall(keys.readers(first));
      return counts['gw-a'] === '1' && counts['gw-b'] === '1' ? true : undefined;
    });

    const drained = await b.post('/v1/pools/demo/drain', { deadline_ms: 1_000 });
    expect(drained.status).toBe(202);
    for (const stream of await Promise.all(readers)) {
      expect(terminal(stream.events)).toEqual([expect.objectContaining({ event: 'error', data: expect.objectContaining({ code: 'DRAINING', message: 'pool demo is draining: the drain deadline passed' }) })]);
    }
    await until(async () => (rows.length === 5 ? true : undefined));
    for (const id of queued) {
      const ended = rows.filter((r) => r.task_id === id);
      expect(ended).toEqual([expect.objectContaining({ state: 'canceled', error_code: 'DRAINING', cancel_reason: 'drain', tokens_out: 0 })]);
      expect((await a.get(`/v1/tasks/${id}`)).body).toMatchObject({ state: 'canceled', error: { code: 'DRAINING' } });
      expect(await redis.client.hget(keys.owner(id), 'state')).toBe('ended');
    }
    // The running tasks end on their runners as in memory; the queue is empty.
    expect(rows.filter((r) => !queued.includes(r.task_id))).toEqual([
      expect.objectContaining({ error_code: 'DRAINING', cancel_reason: 'drain' }),
      expect.objectContaining({ error_code: 'DRAINING', cancel_reason: 'drain' }),
    ]);
    expect(await redis.client.hlen(keys.pool('demo').entries)).toBe(0);
    expect(await redis.client.zcard(keys.pool('demo').interactive)).toBe(0);
    const quota = await until(async () => {
      const q = await redis.client.hmget(keys.quota('tenant:default'), 'queued', 'inflight');
      return q.every((v) => Number(v ?? 0) === 0) ? q : undefined;
    });
    expect(quota.map(Number)).toEqual([0, 0]);
    // The one-turn session got its turn back: after a reload, a turn is admitted and runs.
    expect(((await a.get('/v1/sessions/drained')).body as { turns: number }).turns).toBe(0);
    expect((await a.post('/v1/pools/demo/reload', {})).status).toBe(200);
    const again = await b.post('/v1/tasks', { model: 'demo', prompt: 'after the drain', max_tokens: 2, session_id: 'drained' });
    expect(again.status).toBe(202);
    const done = await openStream(`${a.url}/v1/tasks/${idOf(again.body)}/stream`, { timeoutMs: 15_000 });
    expect(terminal(done.events)).toEqual([expect.objectContaining({ event: 'end' })]);
  }, 60_000);
});
