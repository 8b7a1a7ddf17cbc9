// The orphan grace with the redis backend: readers on every replica count. Gateway B's engine
// replica gets no capacity in Redis, so every task runs on A; readers follow it on A (the local
// task) or on B (its Redis stream), and the grace judges the readers left anywhere; a replica
// that dies with readers attached starts the grace when a survivor takes it over.

import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import type { TerminalFact } from '../../src/core/observer.ts';
import type { StateKeys } from '../../src/state/redis/keys.ts';
import { ReaderCount } from '../../src/state/redis/reader-count.ts';
import { ReplicaLease } from '../../src/state/redis/replica-lease.ts';
import { systemClock } from '../../src/system-clock.ts';
import type { VllmFake } from '../fakes/vllm/fake.ts';
import { gatewayPair } from '../support/cluster-pair.ts';
import type { TestGateway } from '../support/gateway.ts';
import type { RedisTestContext } from '../support/redis.ts';
import { openStream, terminal, type ReceivedEvent } from '../support/sse-client.ts';
import { until } from '../support/until.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

interface Runner {
  a: TestGateway;
  b: TestGateway;
  /** A's engine (every task runs there). */
  fake: VllmFake;
  redis: RedisTestContext;
  keys: StateKeys;
  /** Audit rows of ended tasks, both gateways. */
  rows: TerminalFact[];
}

async function runnerAndReader(graceMs: number): Promise<Runner> {
  const rows: TerminalFact[] = [];
  const observers = [{ finished: (fact: TerminalFact) => rows.push(fact) }];
  const { a, b, fakes, redis, keys } = await gatewayPair({ parked: 'vb', server: { orphan_grace_ms: graceMs }, compose: { observers }, cleanups });
  return { a, b, fake: fakes[0], redis, keys, rows };
}

/** A task admitted on B that runs on A. */
async function runningOnA({ a, b }: Runner, maxTokens: number): Promise<string> {
  const accepted = await b.post('/v1/tasks', { model: 'demo', prompt: 'followed from anywhere', max_tokens: maxTokens });
  expect(accepted.status).toBe(202);
  const id = (accepted.body as { task_id: string }).task_id;
  await until(async () => (a.tasks.get(id) ? true : undefined));
  return id;
}

/** A's engine call for the task (the fake's probes come first). */
const engineCall = ({ fake }: Runner) => fake.settled(fake.seen.findIndex((r) => r.method === 'POST'));
/** Both of A's engine slots taken by long tasks; returns their ids. */
async function slotsTaken(cluster: Runner): Promise<string[]> {
  const ids = [await runningOnA(cluster, 400), await runningOnA(cluster, 400)];
  await until(async () => (cluster.fake.seen.filter((r) => r.method === 'POST').length === 2 ? true : undefined));
  return ids;
}

/** A reader opens the stream on `gw` (a queued task sends nothing yet) and leaves once it is counted there. */
async function readAndLeave(cluster: Runner, gw: TestGateway, replica: string, id: string): Promise<void> {
  const ac = new AbortController();
  const res = await request(`${gw.url}/v1/tasks/${id}/stream`, { headers: { accept: 'text/event-stream' }, signal: ac.signal });
  expect(res.statusCode).toBe(200);
  await until(async () => ((await readersOn(cluster, id, replica)) === 1 ? true : undefined));
  ac.abort();
  await res.body.text().catch(() => undefined);
  await until(async () => ((await cluster.redis.client.exists(cluster.keys.readers(id))) === 0 ? true : undefined));
}

const firstToken = (events: ReceivedEvent[]) => events.some((e) => e.event === 'token');
const readersOn = async ({ redis, keys }: Runner, id: string, replica: string) => Number((await redis.client.hget(keys.readers(id), replica)) ?? 0);

describe('the orphan grace of a task whose readers follow it from another replica', () => {
  it('cancels the task on its runner, engine call aborted, once the reader on the other replica has been gone for the grace', async () => {
    const cluster = await runnerAndReader(300);
    const id = await runningOnA(cluster, 400);
    const left = await openStream(`${cluster.b.url}/v1/tasks/${id}/stream`, { until: firstToken, timeoutMs: 10_000 });
    expect(left.ended).toBe(false);
    const aborted = await engineCall(cluster);
    expect(aborted.aborted).toBe(true);
    expect(cluster.a.tasks.get(id)?.state).toBe('canceled');
    expect((await cluster.b.get(`/v1/tasks/${id}`)).body).toMatchObject({ state: 'canceled', finish_reason: 'canceled' });
    expect(await readersOn(cluster, id, 'gw-b')).toBe(0);
  }, 30_000);

  it('keeps the task running when its reader comes back on the runner within the grace', async () => {
    const cluster = await runnerAndReader(1_500);
    const id = await runningOnA(cluster, 80);
    const left = await openStream(`${cluster.b.url}/v1/tasks/${id}/stream`, { until: firstToken, timeoutMs: 10_000 });
    const back = await openStream(`${cluster.a.url}/v1/tasks/${id}/stream`, { headers: { 'last-event-id': String(left.events.at(-1)?.id ?? 0) }, timeoutMs: 20_000 });
    expect(terminal(back.events)).toEqual([expect.objectContaining({ event: 'end', data: expect.objectContaining({ finish_reason: 'length' }) })]);
    expect((await engineCall(cluster)).aborted).toBe(false);
  }, 30_000);

  it('keeps the task running while a reader on the other replica follows it, after every reader on the runner left', async () => {
    const cluster = await runnerAndReader(300);
    const id = await runningOnA(cluster, 40);
    const following = openStream(`${cluster.b.url}/v1/tasks/${id}/stream`, { timeoutMs: 20_000 });
    await until(async () => ((await readersOn(cluster, id, 'gw-b')) === 1 ? true : undefined));
    const local = await openStream(`${cluster.a.url}/v1/tasks/${id}/stream`, { until: firstToken, timeoutMs: 10_000 });
    expect(local.ended).toBe(false);
    const followed = await following;
    expect(terminal(followed.events)).toEqual([expect.objectContaining({ event: 'end', data: expect.objectContaining({ finish_reason: 'length' }) })]);
    expect(cluster.a.tasks.get(id)?.state).toBe('completed');
    expect((await engineCall(cluster)).aborted).toBe(false);
  }, 30_000);

  it('withdraws a queued task on its admitter once its reader on another replica has been gone for the grace', async () => {
    const cluster = await runnerAndReader(300);
    await slotsTaken(cluster);
    const accepted = await cluster.b.post('/v1/tasks', { model: 'demo', prompt: 'waits, read once', max_tokens: 5 });
    const id = (accepted.body as { task_id: string }).task_id;
    await readAndLeave(cluster, cluster.a, 'gw-a', id);
    const status = await until(async () => {
      const body = (await cluster.a.get(`/v1/tasks/${id}`)).body as { state?: string };
      return body.state === 'canceled' ? body : undefined;
    });
    expect(status).toMatchObject({ state: 'canceled', finish_reason: 'canceled' });
    expect(cluster.rows.filter((r) => r.task_id === id)).toEqual([expect.objectContaining({ state: 'canceled', cancel_reason: 'orphaned' })]);
    expect(await cluster.redis.client.hlen(cluster.keys.pool('demo').entries)).toBe(0);
    expect(cluster.fake.seen.filter((r) => r.method === 'POST')).toHaveLength(2);
  }, 30_000);

  it('cancels a task claimed after every reader left while it was queued, on its runner after the grace', async () => {
    const cluster = await runnerAndReader(1_000);
    const [long = ''] = await slotsTaken(cluster);
    const accepted = await cluster.b.post('/v1/tasks', { model: 'demo', prompt: 'read while queued', max_tokens: 400 });
    const id = (accepted.body as { task_id: string }).task_id;
    // The leave is told to its admitter B while it waits; then A claims it (a slot frees).
    await readAndLeave(cluster, cluster.a, 'gw-a', id);
    expect((await cluster.b.post(`/v1/tasks/${long}/cancel`, undefined)).status).toBe(200);
    const index = await until(async () => {
      const i = cluster.fake.seen.findIndex((r) => r.method === 'POST' && JSON.stringify(r.body).includes('read while queued'));
      return i >= 0 ? i : undefined;
    });
    const call = await cluster.fake.settled(index);
    expect(call.aborted).toBe(true);
    expect(cluster.a.tasks.get(id)?.state).toBe('canceled');
    expect(cluster.rows.filter((r) => r.task_id === id)).toEqual([expect.objectContaining({ cancel_reason: 'orphaned' })]);
  }, 30_000);
});

describe('the orphan grace of a task whose last reader was on a replica that died', () => {
  // ORCH-0206
  it('cancels the task on its runner after the grace once a survivor took the dead replica over', async () => {
    const cluster = await runnerAndReader(300);
    const id = await runningOnA(cluster, 400);
    // A third replica whose reader follows the task, then dies: its lease lapses, its reader never detaches.
    const dead = new ReplicaLease({ redis: cluster.redis.client, keys: cluster.keys, replicaId: 'gw-dead', token: randomUUID(), clock: systemClock, leaseMs: 300, onLost: () => undefined, onTakeover: () => undefined });
    await dead.acquire();
    dead.stop();
    await new ReaderCount({ redis: cluster.redis.client, keys: cluster.keys, replicaId: 'gw-dead', ttlMs: 60_000 }).attach(id);
    expect(await readersOn(cluster, id, 'gw-dead')).toBe(1);
    // A or B sweeps within a third of its 5 s lease and tells A; A's grace (300 ms) then finds nobody.
    const aborted = await engineCall(cluster);
    expect(aborted.aborted).toBe(true);
    expect(cluster.a.tasks.get(id)?.state).toBe('canceled');
    expect(cluster.rows.filter((r) => r.task_id === id)).toEqual([expect.objectContaining({ state: 'canceled', cancel_reason: 'orphaned' })]);
    expect(await readersOn(cluster, id, 'gw-dead')).toBe(0);
    expect(await cluster.redis.client.exists(cluster.keys.followedTasks('gw-dead'))).toBe(0);
  }, 30_000);
});
