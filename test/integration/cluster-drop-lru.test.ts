// Drop-lru across two gateways on one Redis (ORCH-0115, as in memory): the victim is only set
// aside at the newcomer's admission; a newcomer refused at its commit (audit.fail_closed) leaves
// it queued and later run, and a committed newcomer evicts it with exactly one terminal event,
// which a reader on the victim's own replica sees and which is there before the newcomer's 202.

import { afterEach, describe, expect, it } from 'vitest';
import type { AdmissionRecorder, AdmittedFact } from '../../src/core/observer.ts';
import { stateKeys } from '../../src/state/redis/keys.ts';
import { startVllmFake } from '../fakes/vllm/fake.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { redisForTest } from '../support/redis.ts';
import { openStream } from '../support/sse-client.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** B's audit store: its commits fail while `failing`. */
class SwitchableRecorder implements AdmissionRecorder {
  failing = false;
  readonly committed: string[] = [];
  accepting(): boolean {
    return true;
  }
  async commitAdmission(fact: AdmittedFact): Promise<void> {
    if (this.failing) throw new Error('audit store went away');
    this.committed.push(fact.task_id);
  }
}

/** A's busy task holds the pool's one slot; A's batch task waits in its one queue place. */
async function fullQueue() {
  const redis = await redisForTest();
  cleanups.push(() => redis.cleanup());
  const fake = await startVllmFake({ tokensPerS: 40 });
  cleanups.push(() => fake.close());
  const config = (replicaId: string) => testConfig({
    pools: [{ id: 'demo', engine: 'vllm', model: 'demo', engine_model: 'fake-model', replicas: [{ id: 'v0', url: fake.url, slots: 1 }], queue: { max_queued: 1, policy: 'drop-lru' } }],
    state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: replicaId },
    audit: { backend: 'off', fail_closed: true },
  });
  const recorder = new SwitchableRecorder();
  const a: TestGateway = await startGateway(config('gw-a'));
  cleanups.push(() => a.close());
  const b: TestGateway = await startGateway(config('gw-b'), { recorder });
  cleanups.push(() => b.close());
  const busy = await a.post('/v1/tasks', { model: 'demo', prompt: 'holds the only slot', max_tokens: 400 });
  expect(busy.status).toBe(202);
  const busyId = (busy.body as { task_id: string }).task_id;
  expect((await a.get(`/v1/tasks/${busyId}`)).body).toMatchObject({ state: 'running' });
  const victim = await a.post('/v1/tasks', { model: 'demo', prompt: 'waits', max_tokens: 3, priority: 'batch' });
  expect(victim.status).toBe(202);
  return { a, b, recorder, busyId, victimId: (victim.body as { task_id: string }).task_id, entries: stateKeys(redis.prefix).pool('demo').entries, redis };
}

describe('drop-lru with the redis backend', () => {
  it('leaves the victim queued in its place when the newcomer is refused at its commit, and runs it later', async () => {
    const { a, b, recorder, busyId, victimId, entries, redis } = await fullQueue();
    recorder.failing = true;
    const refused = await b.post('/v1/tasks', { model: 'demo', prompt: 'newer', max_tokens: 3 });
    expect(refused.status).toBe(503);
    expect((refused.body as { error: { code: string } }).error.code).toBe('AUDIT_UNAVAILABLE');
    // Back in the shared queue before the refusal was answered, readable as queued from both replicas.
    expect(await redis.client.hkeys(entries)).toEqual([victimId]);
    expect((await b.get(`/v1/tasks/${victimId}`)).body).toMatchObject({ state: 'queued' });
    expect((await a.get(`/v1/tasks/${victimId}`)).body).toMatchObject({ state: 'queued' });
    expect(recorder.committed).toEqual([]);
    // The slot frees: the victim runs to its end, followed from the replica that refused the newcomer.
    expect((await a.post(`/v1/tasks/${busyId}/cancel`, undefined)).status).toBe(200);
    const stream = await openStream(`${b.url}/v1/tasks/${victimId}/stream`, { timeoutMs: 15_000 });
    expect(stream.events.filter((e) => e.event === 'token').length).toBeGreaterThan(0);
    expect(stream.events.at(-1)).toMatchObject({ event: 'end' });
  }, 30_000);

  it('evicts the victim when the newcomer commits, with exactly one terminal event seen by a reader on the other replica', async () => {
    const { a, b, recorder, busyId, victimId, entries, redis } = await fullQueue();
    const reader = openStream(`${a.url}/v1/tasks/${victimId}/stream`, { timeoutMs: 15_000 });
    const newer = await b.post('/v1/tasks', { model: 'demo', prompt: 'newer', max_tokens: 3 });
    expect(newer.status).toBe(202);
    const newerId = (newer.body as { task_id: string }).task_id;
    expect(recorder.committed).toEqual([newerId]);
    // Evicted before the 202 was sent.
    expect((await a.get(`/v1/tasks/${victimId}`)).body).toMatchObject({ state: 'evicted' });
    expect(await redis.client.hkeys(entries)).toEqual([newerId]);
    const stream = await reader;
    const terminal = stream.events.filter((e) => e.event === 'end' || e.event === 'error');
    expect(terminal).toHaveLength(1);
    expect(terminal[0]).toMatchObject({ event: 'error', data: { code: 'QUEUE_FULL_DROP_LRU', retriable: true } });
    // A cancel of the evicted task changes nothing.
    expect((await b.post(`/v1/tasks/${victimId}/cancel`, undefined)).body).toMatchObject({ state: 'evicted', canceled: false });
    await a.post(`/v1/tasks/${busyId}/cancel`, undefined);
  }, 30_000);
});
