// Control plane through the real server: drain (queued work waits for the deadline, a reload
// rescues it, the deadline ends everything with DRAINING), pool reload (atomic swap, running
// work finishes on the old replicas, rollback when nothing new comes up, one at a time), and the
// control facts every action hands to the observers with its actor.

import { afterEach, describe, expect, it } from 'vitest';
import { startLlamacppFake, type LlamacppFake } from '../fakes/llamacpp/fake.ts';
import type { ControlFact } from '../../src/core/observer.ts';
import { expectResponseMatches } from '../support/contract.ts';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream, terminal } from '../support/sse-client.ts';
import { waitFor } from './engines-support.ts';

let gw: TestGateway | undefined;
let fake: LlamacppFake | undefined;
let controls: ControlFact[] = [];
afterEach(async () => {
  await gw?.close();
  await fake?.close();
  gw = undefined;
  fake = undefined;
  controls = [];
});

const recorder = { control: (f: ControlFact) => void controls.push(f) };

/** One replica, one slot, a slow engine: the second task queues behind the first. */
async function slowGateway(over: Record<string, unknown> = {}, auth?: Record<string, unknown>) {
  const pool = mockPool({ replicas: [{ id: 'mock-0', slots: 1 }], ...over }, { tokens_per_s: 50, first_token_delay_ms: 1 });
  gw = await startGateway(testConfig({ pools: [pool], ...(auth ? { auth } : {}) }), { observers: [recorder] });
  return gw;
}

const body = (over: Record<string, unknown> = {}) => ({ model: 'demo', prompt: 'hello', max_tokens: 10, ...over });
const state = async (g: TestGateway, id: string) => ((await g.get(`/v1/tasks/${id}`)).body as { state: string }).state;
async function submit(g: TestGateway, over: Record<string, unknown> = {}): Promise<string> {
  const res = await g.post('/v1/tasks', body(over));
  expect(res.status, res.text).toBe(202);
  return (res.body as { task_id: string }).task_id;
}

describe('drain', () => {
  // ORCH-0507
  it('keeps queued work until the deadline, then ends queued and running tasks with a retriable DRAINING', async () => {
    const g = await slowGateway();
    const running = await submit(g, { max_tokens: 500 });
    const queued = await submit(g);
    await waitFor(async () => (await state(g, running)) === 'running');
    const drain = await g.post('/v1/pools/demo/drain', { deadline_ms: 60_000 });
    expect(drain.status).toBe(202);
    expectResponseMatches('drainPool', 202, drain.body, { headers: drain.headers });
    expect(Date.parse((drain.body as { deadline_at: string }).deadline_at)).toBeGreaterThan(Date.now());
    // Before the deadline nothing is ended: the queued task waits, the running one runs on.
    await new Promise((r) => setTimeout(r, 50));
    expect(await state(g, queued)).toBe('queued');
    expect(await state(g, running)).toBe('running');
    expect((await g.post('/v1/pools/demo/drain', { deadline_ms: 300 })).status).toBe(202);
    const [a, b] = await Promise.all([running, queued].map((id) => openStream(`${g.url}/v1/tasks/${id}/stream`)));
    for (const s of [a, b]) {
      expect(terminal(s?.events ?? [])).toEqual([expect.objectContaining({ event: 'error', data: expect.objectContaining({ code: 'DRAINING', retriable: true }) })]);
    }
    expect((await g.get(`/v1/tasks/${queued}`)).body).toMatchObject({ state: 'canceled', error: { code: 'DRAINING' } });
    await waitFor(() => g.pools.get('demo')?.replicas[0]?.slotsBusy === 0, 1_000);
    expect(controls).toEqual([
      expect.objectContaining({ action: 'drain', actor: 'anonymous', target: 'demo', outcome: 'accepted', detail: { deadline_ms: 60_000 } }),
      expect.objectContaining({ action: 'drain', detail: { deadline_ms: 300 } }),
    ]);
  });

  // ORCH-0507
  it('draining again moves the deadline: 0 ends the work at once', async () => {
    const g = await slowGateway();
    const running = await submit(g, { max_tokens: 500 });
    const queued = await submit(g);
    expect((await g.post('/v1/pools/demo/drain', { deadline_ms: 60_000 })).status).toBe(202);
    expect((await g.post('/v1/pools/demo/drain', { deadline_ms: 0 })).status).toBe(202);
    await waitFor(async () => (await state(g, running)) === 'canceled' && (await state(g, queued)) === 'canceled', 2_000);
    // Still draining after the deadline: new work is refused, not queued forever.
    const refused = await g.post('/v1/tasks', body());
    expect(refused.status).toBe(503);
    expect((refused.body as { error: { code: string } }).error.code).toBe('DRAINING');
    expect(refused.headers['retry-after']).toBeDefined();
  });

  it('a pool reload before the deadline ends the drain and serves the queued work', async () => {
    const g = await slowGateway();
    const running = await submit(g);
    const queued = await submit(g);
    expect((await g.post('/v1/pools/demo/drain', { deadline_ms: 30_000 })).status).toBe(202);
    const reload = await g.post('/v1/pools/demo/reload', undefined);
    expect(reload.status).toBe(200);
    expect(reload.body).toMatchObject({ draining: false, ready: true });
    const [a, b] = await Promise.all([running, queued].map((id) => openStream(`${g.url}/v1/tasks/${id}/stream`)));
    expect(a?.events.at(-1)).toMatchObject({ event: 'end', data: { finish_reason: 'length', tokens_out: 10 } });
    expect(b?.events.at(-1)).toMatchObject({ event: 'end', data: { finish_reason: 'length', tokens_out: 10 } });
  });

  // ORCH-0507 ORCH-0500
  it('answers 404 for an unknown pool and 400 for a missing deadline, and needs a control token', async () => {
    const g = await slowGateway({}, { control_tokens: ['control-secret-1'], data_tokens: ['data-secret-1'] });
    const control = { authorization: 'Bearer control-secret-1' };
    expect((await g.post('/v1/pools/nope/drain', { deadline_ms: 1 }, control)).status).toBe(404);
    const bad = await g.post('/v1/pools/demo/drain', {}, control);
    expect(bad.status).toBe(400);
    expect((bad.body as { error: { field: string } }).error.field).toBe('deadline_ms');
    expect((await g.post('/v1/pools/demo/drain', { deadline_ms: 1 })).status).toBe(401);
    expect((await g.post('/v1/pools/demo/drain', { deadline_ms: 1 }, { authorization: 'Bearer data-secret-1' })).status).toBe(403);
    expect((await g.post('/v1/pools/demo/drain', { deadline_ms: 60_000 }, control)).status).toBe(202);
    expect(controls).toEqual([expect.objectContaining({ action: 'drain', actor: expect.stringMatching(/^token:[0-9a-f]{12}$/) })]);
  });
});

describe('pool reload', () => {
  // ORCH-0508
  it('swaps in new replicas atomically while running work finishes on the old ones', async () => {
    const g = await slowGateway();
    const running = await submit(g, { max_tokens: 15 });
    await waitFor(async () => (await state(g, running)) === 'running');
    const pool = g.pools.get('demo');
    const old = pool?.replicas[0];
    const res = await g.post('/v1/pools/demo/reload', undefined);
    expect(res.status).toBe(200);
    expectResponseMatches('reloadPool', 200, res.body, { headers: res.headers });
    expect(res.body).toMatchObject({ id: 'demo', ready: true, replicas: [{ id: 'mock-0', state: 'ready', slots_busy: 0 }] });
    expect(pool?.replicas[0]).not.toBe(old);
    expect(old?.slotsBusy).toBe(1);
    const stream = await openStream(`${g.url}/v1/tasks/${running}/stream`);
    expect(stream.events.at(-1)).toMatchObject({ event: 'end', data: { tokens_out: 15 } });
    await waitFor(() => old?.slotsBusy === 0, 1_000);
    expect(controls).toEqual([expect.objectContaining({ action: 'reload', target: 'demo', outcome: 'done' })]);
  });

  // ORCH-0508
  it('rolls back when no new replica becomes ready: the old replicas keep serving and the call says why', async () => {
    fake = await startLlamacppFake({ slots: 1 });
    const pool = { id: 'lc', engine: 'llamacpp', model: 'lc', replicas: [{ id: 'r0', url: fake.url }], health: { interval_ms: 60_000 } };
    gw = await startGateway(testConfig({ pools: [pool] }), { observers: [recorder] });
    const before = gw.pools.get('lc')?.replicas;
    await fake.setMode('loading');
    const res = await gw.post('/v1/pools/lc/reload', undefined);
    expect(res.status).toBe(503);
    expectResponseMatches('reloadPool', 503, res.body, { headers: res.headers });
    expect((res.body as { error: { code: string; message: string } }).error).toMatchObject({ code: 'POOL_UNREADY', message: expect.stringMatching(/rolled back.*r0: engine is loading its model/) });
    expect(gw.pools.get('lc')?.replicas).toBe(before);
    await fake.setMode('ready');
    const stream = await openStream(`${gw.url}/v1/tasks`, { method: 'POST', body: { model: 'lc', prompt: 'still here', max_tokens: 3 } });
    expect(stream.events.at(-1)?.event).toBe('end');
    expect(controls).toEqual([expect.objectContaining({ action: 'reload', target: 'lc', outcome: 'refused', detail: expect.objectContaining({ code: 'POOL_UNREADY' }) })]);
  });

  // ORCH-0508
  it('runs one reload of a pool at a time (409 CONFLICT for the second) and 404 for an unknown pool', async () => {
    const g = await slowGateway();
    const [first, second] = await Promise.all([g.pools.reload('demo'), g.pools.reload('demo')]);
    expect(first?.ok).toBe(true);
    expect(second).toMatchObject({ ok: false, error: { code: 'CONFLICT' } });
    const unknown = await g.post('/v1/pools/nope/reload', undefined);
    expect(unknown.status).toBe(404);
    expectResponseMatches('reloadPool', 404, unknown.body);
  });
});
