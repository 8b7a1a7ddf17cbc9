// Two gateways composed in this process on one Redis key prefix (state.backend redis) in front
// of one vLLM fake with 2 slots: admission, claims and streams shared. The fake counts the
// requests it serves at once, so oversubscription is seen where it would hurt.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inFlight } from '../fakes/http/fake-metrics.ts';
import { startVllmFake, type VllmFake } from '../fakes/vllm/fake.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { redisForTest, type RedisTestContext } from '../support/redis.ts';
import { openStream } from '../support/sse-client.ts';

const GENERATE = '/v1/completions';
const CLIENT_ID = '0b7c6a9e-4f1d-4c47-9f4e-2d1c3b5a6e70';

interface Cluster {
  a: TestGateway;
  b: TestGateway;
  fake: VllmFake;
  /** Most requests the fake served at once. */
  peak(): number;
}

let redis: RedisTestContext;
let running: Cluster | undefined;

beforeEach(async () => {
  redis = await redisForTest();
});

afterEach(async () => {
  const cluster = running;
  running = undefined;
  if (cluster) {
    await Promise.all([cluster.a.close(), cluster.b.close()]);
    await cluster.fake.close();
  }
  await redis.cleanup();
});

async function startCluster(over: { slots?: number; maxQueued?: number; tokensPerS?: number; limits?: Record<string, unknown> } = {}): Promise<Cluster> {
  const fake = await startVllmFake({ tokensPerS: over.tokensPerS ?? 400, firstTokenDelayMs: 2 });
  let peak = 0;
  // Peaks happen when a request arrives: count the open ones each time.
  const seen = fake.seen;
  const push = seen.push.bind(seen);
  seen.push = (...records) => {
    const n = push(...records);
    peak = Math.max(peak, inFlight(seen, GENERATE));
    return n;
  };
  const config = (replicaId: string) => testConfig({
    pools: [{
      id: 'demo', engine: 'vllm', model: 'demo', engine_model: 'fake-model',
      replicas: [{ id: 'v0', url: fake.url, slots: over.slots ?? 2 }],
      queue: { max_queued: over.maxQueued ?? 100, policy: 'reject' },
    }],
    state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: replicaId },
    ...(over.limits ? { tenancy: { default_tenant: { limits: over.limits } } } : {}),
  });
  const a = await startGateway(config('gw-a'));
  const b = await startGateway(config('gw-b'));
  running = { a, b, fake, peak: () => peak };
  return running;
}

const task = (prompt: string, maxTokens = 12) => ({ model: 'demo', prompt, max_tokens: maxTokens });

describe('two gateways on one Redis', () => {
  it('never runs more requests on an engine than its slots under 40 concurrent submissions, and every task completes', async () => {
    const { a, b, peak } = await startCluster();
    const submissions = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).raw('POST', '/v1/tasks', JSON.stringify(task(`p${i}`)), { 'content-type': 'application/json', accept: 'text/event-stream' }));
    const results = await Promise.all(submissions);
    for (const result of results) {
      expect(result.status).toBe(200);
      expect(result.text).toMatch(/event: end\n/);
      expect(result.text.match(/event: (end|error)\n/g)).toHaveLength(1);
    }
    expect(peak()).toBeGreaterThan(0);
    expect(peak()).toBeLessThanOrEqual(2);
    // Both replicas ran tasks (each holds the ones it claimed).
    expect(a.tasks.size).toBeGreaterThan(0);
    expect(b.tasks.size).toBeGreaterThan(0);
    expect(a.tasks.size + b.tasks.size).toBe(40);
  }, 60_000);

  it('serves a task admitted and run by one replica from the other: status, stream, and resume after Last-Event-ID once each', async () => {
    const { a, b } = await startCluster();
    const accepted = await a.post('/v1/tasks', task('hello there', 8));
    expect(accepted.status).toBe(202);
    const id = (accepted.body as { task_id: string }).task_id;
    const whole = await openStream(`${b.url}/v1/tasks/${id}/stream`);
    expect(whole.status).toBe(200);
    expect(whole.events.at(-1)?.event).toBe('end');
    expect(whole.events.map((e) => e.id)).toEqual(whole.events.map((_, i) => i + 1));
    const resumed = await openStream(`${b.url}/v1/tasks/${id}/stream`, { headers: { 'last-event-id': '3' } });
    expect(resumed.events.map((e) => e.id)).toEqual(whole.events.slice(3).map((e) => e.id));
    expect(resumed.events).toEqual(whole.events.slice(3));
    const status = await b.get(`/v1/tasks/${id}`);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ task_id: id, state: 'completed', tokens_out: 8, finish_reason: 'length', pool_id: 'demo' });
    expect((await b.get('/v1/tasks/no-such-task')).status).toBe(404);
  }, 30_000);

  it('refuses over the shared queue\'s room with 429 wherever the task arrives', async () => {
    const { a, b } = await startCluster({ slots: 1, maxQueued: 2, tokensPerS: 50 });
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await (i % 2 === 0 ? a : b).post('/v1/tasks', task(`q${i}`, 40)));
    const statuses = answers.map((r) => r.status);
    // One runs, two wait: the rest are refused by whichever replica they reached.
    expect(statuses.filter((s) => s === 202)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
    expect(answers.find((r) => r.status === 429)?.body).toMatchObject({ error: { code: 'ADMISSION_REJECT' } });
  }, 30_000);

  it('replays a client task_id admitted on one replica when it is retried on the other, and refuses another body with 409', async () => {
    const { a, b } = await startCluster();
    const first = await a.post('/v1/tasks', { ...task('same'), task_id: CLIENT_ID });
    expect(first.status, first.text).toBe(202);
    const again = await b.post('/v1/tasks', { ...task('same'), task_id: CLIENT_ID });
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    const other = await b.post('/v1/tasks', { ...task('different'), task_id: CLIENT_ID });
    expect(other.status).toBe(409);
  }, 30_000);

  it('answers OpenAI completions through either replica, streamed or not, wherever the task runs', async () => {
    const { a, b } = await startCluster();
    const plain = await Promise.all(Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? a : b).post('/v1/completions', { model: 'demo', prompt: `c${i}`, max_tokens: 6 })));
    for (const r of plain) {
      expect(r.status).toBe(200);
      expect(r.body).toMatchObject({ object: 'text_completion', choices: [{ finish_reason: 'length' }], usage: { completion_tokens: 6 } });
    }
    const streamed = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 === 0 ? b : a).post('/v1/completions', { model: 'demo', prompt: `s${i}`, max_tokens: 6, stream: true })));
    for (const r of streamed) {
      expect(r.status).toBe(200);
      expect(r.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    }
  }, 60_000);

  it('counts a tenant\'s requests per minute once across both replicas, not once per replica', async () => {
    const { a, b } = await startCluster({ limits: { requests_per_min: 5 } });
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).post('/v1/tasks', task(`r${i}`, 4))));
    expect(answers.filter((r) => r.status === 202)).toHaveLength(5);
    const refused = answers.filter((r) => r.status === 429);
    expect(refused).toHaveLength(5);
    expect(refused[0]?.body).toMatchObject({ error: { code: 'RATE_LIMITED', limit: 'requests_per_min' } });
    expect(refused[0]?.headers['retry-after']).toBeDefined();
  }, 30_000);
});
