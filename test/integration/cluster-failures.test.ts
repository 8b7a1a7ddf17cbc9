// The redis backend when things go wrong, with gateways composed in this process: a cancel sent
// to the replica that does not run the task, a Redis that stops and comes back (on a private
// server), and a replica whose lease expires while it runs a task.

import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import type { AdmissionRecorder, PlacedFact, TerminalFact } from '../../src/core/observer.ts';
import { stateKeys } from '../../src/state/redis/keys.ts';
import { RedisPoolQueue } from '../../src/state/redis/pool-queue.ts';
import { ReplicaLease } from '../../src/state/redis/replica-lease.ts';
import { systemClock } from '../../src/system-clock.ts';
import { startVllmFake, type VllmFake } from '../fakes/vllm/fake.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { redisForTest, startRedisServer, type RedisServer, type RedisTestContext } from '../support/redis.ts';
import { openStream } from '../support/sse-client.ts';
import { until } from '../support/until.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

async function fakeEngine(tokensPerS: number): Promise<VllmFake> {
  const fake = await startVllmFake({ tokensPerS, firstTokenDelayMs: 2 });
  cleanups.push(() => fake.close());
  return fake;
}

async function redisContext(url?: string): Promise<RedisTestContext> {
  const context = await redisForTest(url);
  cleanups.push(() => context.cleanup());
  return context;
}

async function gateway(fake: VllmFake, redis: { url: string; prefix: string }, replicaId: string, over: { slots?: number; observers?: TerminalFact[]; leaseMs?: number; pools?: unknown[] } = {}): Promise<TestGateway> {
  const config = testConfig({
    pools: [{ id: 'demo', engine: 'vllm', model: 'demo', engine_model: 'fake-model', replicas: [{ id: 'v0', url: fake.url, slots: over.slots ?? 2 }] }, ...(over.pools ?? [])],
    state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: replicaId, lease_ms: over.leaseMs ?? 5_000 },
  });
  const finished = over.observers;
  const g = await startGateway(config, finished ? { observers: [{ finished: (f) => void finished.push(f) }] } : {});
  cleanups.push(() => g.close());
  return g;
}

const task = (prompt: string, maxTokens: number) => ({ model: 'demo', prompt, max_tokens: maxTokens });


describe('cancel from the other replica', () => {
  it('stops a running task on its owner: acked once its log is closed, no token after, engine abort observed', async () => {
    const fake = await fakeEngine(40);
    const redis = await redisContext();
    const a = await gateway(fake, redis, 'gw-a');
    const b = await gateway(fake, redis, 'gw-b');
    const accepted = await a.post('/v1/tasks', task('long one', 400));
    const id = (accepted.body as { task_id: string }).task_id;
    const runner = await until(async () => (a.tasks.get(id) ? a : b.tasks.get(id) ? b : undefined));
    const other = runner === a ? b : a;
    // Read it where it runs until a few tokens went by, then cancel it on the other replica.
    const reading = openStream(`${runner.url}/v1/tasks/${id}/stream`, { timeoutMs: 20_000 });
    await until(async () => ((runner.tasks.get(id)?.tokensOut ?? 0) >= 3 ? true : undefined));
    const canceled = await other.post(`/v1/tasks/${id}/cancel`, undefined);
    expect(canceled.status, canceled.text).toBe(200);
    expect(canceled.body).toEqual({ task_id: id, state: 'canceled', canceled: true });
    const tokensAtAck = runner.tasks.get(id)?.tokensOut;
    const stream = await reading;
    const tokens = stream.events.filter((e) => e.event === 'token');
    expect(tokens).toHaveLength(tokensAtAck as number);
    expect(stream.events.at(-1)).toMatchObject({ event: 'end', data: { finish_reason: 'canceled' } });
    const engineCall = await fake.settled(fake.seen.findIndex((r) => r.method === 'POST'));
    expect(engineCall.aborted).toBe(true);
    expect((await other.get(`/v1/tasks/${id}`)).body).toMatchObject({ state: 'canceled' });
  }, 40_000);

  it('withdraws a task still queued, admitted by the other replica: one canceled end, the slot never used', async () => {
    const fake = await fakeEngine(40);
    const redis = await redisContext();
    const a = await gateway(fake, redis, 'gw-a', { slots: 1 });
    const b = await gateway(fake, redis, 'gw-b', { slots: 1 });
    const first = await a.post('/v1/tasks', task('occupies the slot', 400));
    const queued = await a.post('/v1/tasks', task('waits', 10));
    expect(queued.body).toMatchObject({ queue_position: 0 });
    const id = (queued.body as { task_id: string }).task_id;
    const canceled = await b.post(`/v1/tasks/${id}/cancel`, undefined);
    expect(canceled.body).toEqual({ task_id: id, state: 'canceled', canceled: true });
    const stream = await openStream(`${b.url}/v1/tasks/${id}/stream`);
    expect(stream.events).toEqual([{ id: 1, event: 'end', data: { tokens_out: 0, decode_time_ms: 0, finish_reason: 'canceled' } }]);
    await a.post(`/v1/tasks/${(first.body as { task_id: string }).task_id}/cancel`, undefined);
    expect(fake.seen.filter((r) => r.method === 'POST')).toHaveLength(1);
  }, 40_000);
});

describe('Redis gone', () => {
  let server: RedisServer | undefined;
  afterEach(async () => {
    await server?.kill();
    server = undefined;
  });

  it('refuses new work with a typed 503 and Retry-After, lets a running stream finish from the local log, lets a remote reader go to resume, and admits again once Redis is back', async () => {
    server = await startRedisServer();
    const fake = await fakeEngine(100);
    const a = await gateway(fake, { url: server.url, prefix: 'gone:' }, 'gw-a');
    const b = await gateway(fake, { url: server.url, prefix: 'gone:' }, 'gw-b');
    const accepted = await a.post('/v1/tasks', task('runs through the outage', 60));
    const id = (accepted.body as { task_id: string }).task_id;
    const runner = await until(async () => (a.tasks.get(id) ? a : b.tasks.get(id) ? b : undefined));
    const other = runner === a ? b : a;
    const reading = openStream(`${runner.url}/v1/tasks/${id}/stream`, { timeoutMs: 20_000 });
    const following = openStream(`${other.url}/v1/tasks/${id}/stream`, { timeoutMs: 20_000 });
    await until(async () => ((runner.tasks.get(id)?.tokensOut ?? 0) >= 2 ? true : undefined));
    await server.kill();
    const refused = await a.post('/v1/tasks', task('during the outage', 5));
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: { code: 'STATE_UNAVAILABLE', retriable: true } });
    expect(refused.headers['retry-after']).toBe('1');
    const stream = await reading;
    expect(stream.events.at(-1)).toMatchObject({ event: 'end', data: { tokens_out: 60 } });
    // The reader on the other replica is let go without a terminal event: it resumes with its last id.
    const followed = await following;
    expect(followed.ended).toBe(true);
    expect(followed.events.some((e) => e.event === 'end' || e.event === 'error')).toBe(false);
    await server.restart();
    const admitted = await until(async () => {
      const r = await a.post('/v1/tasks', task('after the outage', 5));
      return r.status === 202 ? r : undefined;
    }, 15_000);
    const after = await openStream(`${a.url}/v1/tasks/${(admitted.body as { task_id: string }).task_id}/stream`);
    expect(after.events.at(-1)).toMatchObject({ event: 'end', data: { tokens_out: 5 } });
  }, 60_000);
});

describe('a replica whose lease expires', () => {
  it('has its running task ended by a survivor with one retriable WORKER_RESET naming it, and an audit row', async () => {
    const fake = await fakeEngine(100);
    const redis = await redisContext();
    const finished: TerminalFact[] = [];
    // Sweeps every second (a third of its lease): the lease is long enough for a loaded machine.
    // Its pool "lost" has no engine it can reach, so only the lost replica's claim runs the task there.
    const unreachable = { id: 'lost', engine: 'vllm', model: 'lost', replicas: [{ id: 'nowhere', url: 'http://127.0.0.1:9' }] };
    const b = await gateway(fake, redis, 'gw-b', { observers: finished, leaseMs: 3_000, pools: [unreachable] });
    // A replica that admitted and claimed a task, then went silent: its lease is left to expire.
    const keys = stateKeys(redis.prefix);
    const dead = new ReplicaLease({ redis: redis.client, keys, replicaId: 'gw-dead', token: randomUUID(), clock: systemClock, leaseMs: 300, onLost: () => undefined, onTakeover: () => undefined });
    await dead.acquire();
    dead.stop();
    const queue = new RedisPoolQueue({ redis: redis.client, keys, poolId: 'lost' });
    await queue.setCapacity('engine-of-the-dead', 1);
    const id = randomUUID();
    const spec = { id, submission: { model: 'lost', prompt: 'lost', max_tokens: 50 }, owner: { tenant: 'default', keyId: 'anonymous' }, correlationId: 'c-1', poolId: 'lost', job: { promptTokens: 2, maxTokens: 50, allowFallback: false }, promptTokens: 2, createdAt: Date.now(), admittedBy: 'gw-dead' };
    const admitted = await queue.admit({ taskId: id, priority: 'interactive', tenant: 'default', admittedBy: 'gw-dead', maxTokens: 50, budgetTokens: 52, budgetCost: 0, subjects: [] }, { maxQueued: 10, policy: 'reject', interactiveWeight: 3, batchWeight: 1 }, { key: keys.spec(id), value: JSON.stringify(spec), ttlMs: 60_000 });
    expect(admitted.kind).toBe('queued');
    expect((await queue.claim('gw-dead', ['engine-of-the-dead'], { interactiveWeight: 3, batchWeight: 1 })).kind).toBe('claimed');
    const stream = await openStream(`${b.url}/v1/tasks/${id}/stream`, { timeoutMs: 15_000 });
    expect(stream.events).toHaveLength(1);
    expect(stream.events[0]).toMatchObject({ event: 'error', data: { code: 'WORKER_RESET', retriable: true } });
    expect(String(stream.events[0]?.data.message)).toMatch(/gw-dead/);
    const row = await until(async () => finished.find((f) => f.task_id === id));
    expect(row).toMatchObject({ state: 'failed', error_code: 'WORKER_RESET', cancel_reason: 'replica_lost:gw-dead' });
    expect((await b.get(`/v1/tasks/${id}`)).body).toMatchObject({ state: 'failed', error: { code: 'WORKER_RESET' } });
  }, 40_000);
});

describe('the commit point across replicas', () => {
  /** Gateway A commits its admissions through `recorder`; either replica may claim what A admits. */
  async function admitterAndRunner(recorder: AdmissionRecorder) {
    const fake = await fakeEngine(200);
    const redis = await redisContext();
    const placed: Array<{ task_id: string; at: number }> = [];
    const observers = [{ placed: (f: PlacedFact) => void placed.push({ task_id: f.task_id, at: Date.now() }) }];
    const config = (replicaId: string) => testConfig({
      pools: [{ id: 'demo', engine: 'vllm', model: 'demo', engine_model: 'fake-model', replicas: [{ id: 'v0', url: fake.url, slots: 2 }] }],
      state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: replicaId, lease_ms: 5_000 },
    });
    const a = await startGateway(config('gw-a'), { recorder, observers });
    cleanups.push(() => a.close());
    const b = await startGateway(config('gw-b'), { observers });
    cleanups.push(() => b.close());
    return { a, b, fake, placed };
  }

  it('runs a task, on whichever replica claimed it, only after its admitter committed the audit row', async () => {
    let committedAt = 0;
    const recorder: AdmissionRecorder = {
      accepting: () => true,
      commitAdmission: () => new Promise((resolve) => setTimeout(() => { committedAt = Date.now(); resolve(); }, 400)),
    };
    const { a, b, placed } = await admitterAndRunner(recorder);
    const accepted = await a.post('/v1/tasks', task('slow commit', 5));
    expect(accepted.status).toBe(202);
    const id = (accepted.body as { task_id: string }).task_id;
    const stream = await openStream(`${b.url}/v1/tasks/${id}/stream`);
    expect(stream.events.at(-1)).toMatchObject({ event: 'end' });
    const fact = placed.find((p) => p.task_id === id);
    expect(fact).toBeDefined();
    expect(fact?.at).toBeGreaterThanOrEqual(committedAt);
  }, 30_000);

  it('never runs a task whose admission the audit refused (fail_closed), though a replica claimed it meanwhile', async () => {
    const recorder: AdmissionRecorder = {
      accepting: () => true,
      commitAdmission: () => new Promise((_resolve, reject) => setTimeout(() => reject(new Error('audit store down')), 300)),
    };
    const { a, b, fake, placed } = await admitterAndRunner(recorder);
    await until(async () => ((await b.get('/v1/pools/demo')).body as { ready?: boolean }).ready ? true : undefined);
    const refused = await a.post('/v1/tasks', task('refused by the audit', 5));
    expect(refused.status).toBe(503);
    expect(refused.body).toMatchObject({ error: { code: 'AUDIT_UNAVAILABLE' } });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(placed).toEqual([]);
    expect(fake.seen.filter((r) => r.method === 'POST')).toEqual([]);
    expect(a.tasks.size + b.tasks.size).toBe(0);
    // The slot it was claimed on is free again.
    const next = await b.post('/v1/tasks', task('after the refusal', 3));
    expect(next.status).toBe(202);
  }, 30_000);
});

describe('leaving and evicting', () => {
  it('releases its lease and closes its Redis connections when it shuts down', async () => {
    const fake = await fakeEngine(200);
    const redis = await redisContext();
    const config = testConfig({
      pools: [{ id: 'demo', engine: 'vllm', model: 'demo', engine_model: 'fake-model', replicas: [{ id: 'v0', url: fake.url, slots: 2 }] }],
      state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: 'gw-leaving', lease_ms: 5_000 },
    });
    const g = await startGateway(config);
    const lease = `${redis.prefix}{replicas}:lease:gw-leaving`;
    expect(await redis.client.exists(lease)).toBe(1);
    const connections = async () => String(await redis.client.client('LIST')).split('\n').filter((line) => line.includes('name=orchqueue:gw-leaving:')).length;
    expect(await connections()).toBe(4);
    await g.close();
    expect(await redis.client.exists(lease)).toBe(0);
    expect(await redis.client.zscore(`${redis.prefix}{replicas}:live`, 'gw-leaving')).toBeNull();
    expect(await until(async () => ((await connections()) === 0 ? true : undefined))).toBe(true);
  }, 30_000);

  it('ends a queued task evicted by drop-lru on the other replica with one QUEUE_FULL_DROP_LRU error', async () => {
    const fake = await fakeEngine(40);
    const redis = await redisContext();
    const config = (replicaId: string) => testConfig({
      pools: [{ id: 'demo', engine: 'vllm', model: 'demo', engine_model: 'fake-model', replicas: [{ id: 'v0', url: fake.url, slots: 1 }], queue: { max_queued: 1, policy: 'drop-lru' } }],
      state: { backend: 'redis', url: redis.url, key_prefix: redis.prefix, replica_id: replicaId, lease_ms: 5_000 },
    });
    const a = await startGateway(config('gw-a'));
    cleanups.push(() => a.close());
    const b = await startGateway(config('gw-b'));
    cleanups.push(() => b.close());
    const running = await a.post('/v1/tasks', task('runs', 400));
    const victim = await a.post('/v1/tasks', { ...task('waits', 5), priority: 'batch' });
    expect(victim.status).toBe(202);
    const newer = await b.post('/v1/tasks', task('evicts', 5));
    expect(newer.status).toBe(202);
    const id = (victim.body as { task_id: string }).task_id;
    const stream = await openStream(`${b.url}/v1/tasks/${id}/stream`);
    expect(stream.events).toHaveLength(1);
    expect(stream.events[0]).toMatchObject({ event: 'error', data: { code: 'QUEUE_FULL_DROP_LRU' } });
    expect((await a.get(`/v1/tasks/${id}`)).body).toMatchObject({ state: 'evicted' });
    await a.post(`/v1/tasks/${(running.body as { task_id: string }).task_id}/cancel`, undefined);
  }, 30_000);
});
