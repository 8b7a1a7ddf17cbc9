// A replica that loses its lease while it runs a task (state.backend redis): a survivor takes
// over (or already took over) its tasks, so its own copies must not go on emitting tokens. The
// task ends at once with one retriable WORKER_RESET, on the local stream and in Redis, the engine
// call is aborted, and the replica admits again once it rejoined.

import { afterEach, describe, expect, it } from 'vitest';
import type { TerminalFact } from '../../src/core/observer.ts';
import { stateKeys } from '../../src/state/redis/keys.ts';
import { startVllmFake } from '../fakes/vllm/fake.ts';
import { startGateway, testConfig } from '../support/gateway.ts';
import { redisForTest } from '../support/redis.ts';
import { openStream } from '../support/sse-client.ts';
import { until } from '../support/until.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});


describe('a replica that loses its lease while it runs a task', () => {
  it('ends the task at once with one retriable WORKER_RESET, aborts the engine call, and admits again after rejoining', async () => {
    const redis = await redisForTest();
    cleanups.push(() => redis.cleanup());
    const fake = await startVllmFake({ tokensPerS: 20, firstTokenDelayMs: 2 });
    cleanups.push(() => fake.close());
    const finished: TerminalFact[] = [];
    const a = await startGateway(testConfig({
      pools: [{ id: 'demo', engine: 'vllm', model: 'demo', engine_model: 'fake-model', replicas: [{ id: 'v0', url: fake.url, slots: 2 }] }],
      state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: 'gw-a', lease_ms: 1_500 },
    }), { observers: [{ finished: (f) => void finished.push(f) }] });
    cleanups.push(() => a.close());
    await until(async () => ((await a.get('/v1/pools/demo')).body as { ready?: boolean }).ready ? true : undefined);
    const accepted = await a.post('/v1/tasks', { model: 'demo', prompt: 'a long answer', max_tokens: 400 });
    expect(accepted.status).toBe(202);
    const id = (accepted.body as { task_id: string }).task_id;
    const streamed = openStream(`${a.url}/v1/tasks/${id}/stream`, { timeoutMs: 20_000 });
    await until(async () => ((await a.get(`/v1/tasks/${id}`)).body as { tokens_out?: number }).tokens_out ? true : undefined);
    // The lease expires as if the replica had paused: its next renewal reports LEASE_LOST.
    const keys = stateKeys(redis.prefix);
    await redis.client.del(keys.lease('gw-a'));
    const stream = await streamed;
    const last = stream.events.at(-1);
    expect(last).toMatchObject({ event: 'error', data: { code: 'WORKER_RESET', retriable: true } });
    expect(stream.events.filter((e) => e.event === 'error' || e.event === 'end')).toHaveLength(1);
    // Far fewer than the 400 tokens asked for: it stopped, it did not run to the end.
    expect(stream.events.filter((e) => e.event === 'token').length).toBeLessThan(200);
    await until(async () => (fake.seen.some((r) => r.method === 'POST' && r.aborted) ? true : undefined));
    const [[, fields] = ['', []]] = await redis.client.xrevrange(keys.events(id), '+', '-', 'COUNT', 1);
    expect(fields).toContain('error');
    expect(finished.find((f) => f.task_id === id)).toMatchObject({ state: 'failed', error_code: 'WORKER_RESET', cancel_reason: 'lease_lost' });
    // The slot went back: nothing counted busy on the engine.
    await until(async () => ((await redis.client.hget(keys.pool('demo').busy, 'v0')) ?? '0') === '0' ? true : undefined);
    // Rejoined with a new lease: admits again.
    const again = await until(async () => {
      const res = await a.post('/v1/tasks', { model: 'demo', prompt: 'after rejoining', max_tokens: 2 });
      return res.status === 202 ? res : undefined;
    });
    expect(again.status).toBe(202);
  }, 40_000);
});
