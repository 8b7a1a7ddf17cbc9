// The gateway in front of two protocol-faithful fake replicas of each real engine (llama.cpp,
// vLLM, TGI, Triton), through the public HTTP API: spread, session affinity, crash before and
// after the first token, loading → ready, drain with work in flight, overload backoff, version
// pin, and cancel reaching the engine as a disconnect the fake observes.

import { afterEach, describe, expect, it } from 'vitest';
import { fakeCompletion } from '../fakes/http/fake-tokens.ts';
import { expectResponseMatches, expectSseEventMatches } from '../support/contract.ts';
import { startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream, terminal, tokens } from '../support/sse-client.ts';
import { ENGINE_KITS, enginePool, generations, waitFor, type EngineKit, type FakeEngine, type FakeStart } from './engines-support.ts';

let gw: TestGateway | undefined;
let fakes: FakeEngine[] = [];
afterEach(async () => {
  await gw?.close();
  await Promise.all(fakes.map((f) => f.close()));
  gw = undefined;
  fakes = [];
});

async function setup(k: EngineKit, starts: FakeStart[] = [{}, {}], pool: Record<string, unknown> = {}) {
  fakes = await Promise.all(starts.map((s) => k.start(s)));
  gw = await startGateway(testConfig({ pools: [enginePool(k, fakes, pool)] }));
  return { g: gw, f: fakes };
}

const body = (over: Record<string, unknown> = {}) => ({ model: 'm', prompt: 'tell me a story', max_tokens: 6, seed: 7, ...over });
const statusOf = async (g: TestGateway, id: string) => (await g.get(`/v1/tasks/${id}`)).body as Record<string, unknown>;
const submit = async (g: TestGateway, over: Record<string, unknown> = {}) => {
  const res = await g.post('/v1/tasks', body(over));
  expect(res.status, res.text).toBe(202);
  return (res.body as { task_id: string }).task_id;
};

describe.each(ENGINE_KITS.map((k) => [k.engine, k] as const))('%s behind the gateway', (_name, k) => {
  it('spreads concurrent tasks across both replicas and streams the engine tokens unchanged', async () => {
    // A first-token delay keeps the first task on its replica while the second is placed.
    const slow = { tokensPerS: 100, firstTokenDelayMs: 250 };
    const { g, f } = await setup(k, [slow, slow]);
    const ids = [await submit(g, { seed: 1 }), await submit(g, { seed: 2 })];
    const streams = await Promise.all(ids.map((id) => openStream(`${g.url}/v1/tasks/${id}/stream`)));
    streams.forEach((s, i) => {
      expect(tokens(s.events)).toEqual(fakeCompletion('tell me a story', i + 1, 6));
      expect(s.events.at(-1)).toMatchObject({ event: 'end', data: { finish_reason: 'length', tokens_out: 6 } });
      for (const e of s.events) expectSseEventMatches(e.event, e.data);
    });
    const replicas = await Promise.all(ids.map(async (id) => (await statusOf(g, id)).replica_id));
    expect(replicas.sort()).toEqual(['r0', 'r1']);
    expect(generations(k, f[0] as FakeEngine)).toHaveLength(1);
    expect(generations(k, f[1] as FakeEngine)).toHaveLength(1);
  });

  it('keeps a session on the replica that served its previous turn', async () => {
    const { g, f } = await setup(k);
    const first = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: body({ session_id: 's-1', placement: { pin: 'r1' } }) });
    expect(first.events.at(-1)?.event).toBe('end');
    const second = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: body({ session_id: 's-1', prompt: 'and then?' }) });
    expect(second.events[0]).toMatchObject({ event: 'started', data: { replica_id: 'r1' } });
    expect(second.events.at(-1)?.event).toBe('end');
    expect(generations(k, f[0] as FakeEngine)).toHaveLength(0);
    expect(generations(k, f[1] as FakeEngine)).toHaveLength(2);
    expect((await g.get('/v1/sessions/s-1')).body).toMatchObject({ turns: 2, pool_id: 'p', replica_id: 'r1' });
  });

  // ORCH-0506
  it('re-places a task transparently when a replica drops it before the first token', async () => {
    const { g, f } = await setup(k, [{ mode: { kind: 'reset-at-token', at: 0 } }, {}]);
    const stream = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: body() });
    expect(tokens(stream.events)).toEqual(fakeCompletion('tell me a story', 7, 6));
    expect(terminal(stream.events)).toEqual([expect.objectContaining({ event: 'end', data: expect.objectContaining({ finish_reason: 'length' }) })]);
    // The second `started` names the replica that now serves the task; no error is shown.
    expect(stream.events.filter((e) => e.event === 'started').map((e) => e.data.replica_id)).toEqual(['r0', 'r1']);
    expect(generations(k, f[0] as FakeEngine)).toHaveLength(1);
    expect(generations(k, f[1] as FakeEngine)).toHaveLength(1);
    expect(await statusOf(g, stream.headers['x-task-id'] as string)).toMatchObject({ state: 'completed', replica_id: 'r1' });
  });

  // ORCH-0506 ORCH-0602 ORCH-0603
  it('ends with a retriable WORKER_RESET when a replica crashes mid-stream, never retrying silently', async () => {
    const { g, f } = await setup(k, [{ mode: { kind: 'reset-at-token', at: 3 } }, {}]);
    const stream = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: body() });
    expect(tokens(stream.events)).toEqual(fakeCompletion('tell me a story', 7, 3));
    const end = terminal(stream.events);
    expect(end).toHaveLength(1);
    expect(end[0]).toMatchObject({ event: 'error', data: { code: 'WORKER_RESET', retriable: true } });
    expectSseEventMatches('error', end[0]?.data);
    expect(generations(k, f[1] as FakeEngine)).toHaveLength(0);
    expect(await statusOf(g, stream.headers['x-task-id'] as string)).toMatchObject({ state: 'failed', replica_id: 'r0', tokens_out: 3 });
  });

  // ORCH-0104 ORCH-0501
  it('answers 503 POOL_UNREADY while every replica loads, then serves once one is ready', async () => {
    const { g, f } = await setup(k, [{ mode: 'loading' }, { mode: 'loading' }]);
    const pool = (await g.get('/v1/pools/p')).body as { ready: boolean; replicas: Array<{ state: string }> };
    expect(pool.ready).toBe(false);
    for (const r of pool.replicas) expect(['starting', 'unready']).toContain(r.state);
    const refused = await g.post('/v1/tasks', body());
    expect(refused.status).toBe(503);
    expect((refused.body as { error: { code: string } }).error.code).toBe('POOL_UNREADY');
    expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    await (f[1] as FakeEngine).setMode('ready');
    await waitFor(async () => ((await g.get('/v1/pools/p')).body as { ready: boolean }).ready, 5_000, 'pool ready');
    const stream = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: body() });
    expect(stream.events.at(-1)?.event).toBe('end');
    expect(stream.events[0]).toMatchObject({ event: 'started', data: { replica_id: 'r1' } });
  });

  // ORCH-0507
  it('drains with work in flight: running work finishes, new work gets 503 DRAINING', async () => {
    const { g } = await setup(k, [{ tokensPerS: 60 }, { tokensPerS: 60 }]);
    const id = await submit(g, { max_tokens: 12 });
    const streaming = openStream(`${g.url}/v1/tasks/${id}/stream`);
    await waitFor(async () => ((await statusOf(g, id)).tokens_out as number) >= 2, 5_000, 'first tokens');
    const drain = await g.post('/v1/pools/p/drain', { deadline_ms: 10_000 });
    expect(drain.status).toBe(202);
    expectResponseMatches('drainPool', 202, drain.body, { headers: drain.headers });
    expect(drain.body).toMatchObject({ pool_id: 'p', draining: true });
    const refused = await g.post('/v1/tasks', body());
    expect(refused.status).toBe(503);
    expect((refused.body as { error: { code: string; retriable: boolean } }).error).toMatchObject({ code: 'DRAINING', retriable: true });
    const pool = (await g.get('/v1/pools/p')).body as { draining: boolean; replicas: Array<{ state: string }> };
    expect(pool.draining).toBe(true);
    expect(pool.replicas.map((r) => r.state)).toEqual(['draining', 'draining']);
    const stream = await streaming;
    expect(stream.events.at(-1)).toMatchObject({ event: 'end', data: { finish_reason: 'length', tokens_out: 12 } });
  });

  // ORCH-0507 ORCH-0402
  it('ends running work at the drain deadline with a retriable DRAINING and aborts the engine call', async () => {
    const { g, f } = await setup(k, [{ tokensPerS: 40 }, { tokensPerS: 40 }]);
    const id = await submit(g, { max_tokens: 400 });
    const streaming = openStream(`${g.url}/v1/tasks/${id}/stream`);
    await waitFor(async () => ((await statusOf(g, id)).tokens_out as number) >= 1, 5_000, 'first token');
    expect((await g.post('/v1/pools/p/drain', { deadline_ms: 50 })).status).toBe(202);
    const stream = await streaming;
    expect(terminal(stream.events)).toEqual([expect.objectContaining({ event: 'error', data: expect.objectContaining({ code: 'DRAINING', retriable: true }) })]);
    const seen = generations(k, f[0] as FakeEngine)[0];
    await waitFor(() => seen?.aborted === true, 2_000, 'the fake observed the disconnect');
    expect(await statusOf(g, id)).toMatchObject({ state: 'canceled', error: { code: 'DRAINING' } });
  });

  it('moves a task off an overloaded replica transparently and backs that replica off', async () => {
    const { g, f } = await setup(k, [{ mode: 'overloaded' }, {}]);
    const moved = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: body() });
    expect(terminal(moved.events)).toEqual([expect.objectContaining({ event: 'end' })]);
    expect(await statusOf(g, moved.headers['x-task-id'] as string)).toMatchObject({ state: 'completed', replica_id: 'r1' });
    // r0 backs off: the next task goes straight to r1 without asking r0 again.
    await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: body({ seed: 8 }) });
    expect(generations(k, f[0] as FakeEngine)).toHaveLength(1);
    expect(generations(k, f[1] as FakeEngine)).toHaveLength(2);
  });

  // ORCH-0603
  it('ends REPLICA_EXHAUSTED when every replica is overloaded, then refuses new work with 503 and a retry hint', async () => {
    const { g } = await setup(k, [{ mode: 'overloaded' }, { mode: 'overloaded' }]);
    const exhausted = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: body() });
    const end = terminal(exhausted.events);
    expect(end).toEqual([expect.objectContaining({ event: 'error', data: expect.objectContaining({ code: 'REPLICA_EXHAUSTED', retriable: true }) })]);
    expect(end[0]?.data.retry_after_ms).toBeGreaterThanOrEqual(1);
    const refused = await g.post('/v1/tasks', body());
    expect(refused.status).toBe(503);
    expectResponseMatches('createTask', 503, refused.body, { headers: refused.headers });
    expect((refused.body as { error: { code: string } }).error.code).toBe('REPLICA_EXHAUSTED');
    expect(Number(refused.headers['x-backoff-ms'])).toBeGreaterThanOrEqual(1);
  });

  // ORCH-0510
  it('keeps a replica whose engine version differs from the pin out of placement and reports why', async () => {
    const { g, f } = await setup(k, [{ version: '9.1.0' }, { version: '9.2.0' }], { engine_version: '9.1.0' });
    const pool = (await g.get('/v1/pools/p')).body as { engine_version: string; replicas: Array<Record<string, unknown>> };
    expectResponseMatches('getPool', 200, pool);
    expect(pool.engine_version).toBe('9.1.0');
    expect(pool.replicas[0]).toMatchObject({ id: 'r0', state: 'ready', engine_version: '9.1.0' });
    expect(pool.replicas[1]).toMatchObject({ id: 'r1', state: 'unready', engine_version: '9.2.0' });
    expect(pool.replicas[1]?.last_error).toMatch(/9\.2\.0 differs from the pool's pinned version 9\.1\.0/);
    const ids = [await submit(g), await submit(g), await submit(g, { placement: { avoid: ['r0'], allow_fallback: true } })];
    for (const id of ids) await openStream(`${g.url}/v1/tasks/${id}/stream`);
    expect(generations(k, f[1] as FakeEngine)).toHaveLength(0);
    expect(generations(k, f[0] as FakeEngine)).toHaveLength(3);
    const pinned = await g.post('/v1/tasks', body({ placement: { pin: 'r1' } }));
    expect(pinned.status).toBe(503);
    expect((pinned.body as { error: { code: string } }).error.code).toBe('REPLICA_EXHAUSTED');
  });

  // ORCH-0204 ORCH-0601
  it('cancel through the gateway aborts the engine connection and the fake sees the disconnect', async () => {
    const { g, f } = await setup(k, [{ tokensPerS: 40 }, { tokensPerS: 40 }]);
    const id = await submit(g, { max_tokens: 400 });
    await waitFor(async () => ((await statusOf(g, id)).tokens_out as number) >= 2, 5_000, 'first tokens');
    const ack = await g.post(`/v1/tasks/${id}/cancel`, undefined);
    expect(ack.body).toEqual({ task_id: id, state: 'canceled', canceled: true });
    const seen = generations(k, f[0] as FakeEngine)[0];
    await waitFor(() => seen?.aborted === true, 2_000, 'the fake observed the disconnect');
    expect(seen?.finished).toBe(false);
    expect(seen?.tokensSent).toBeLessThan(400);
  });
});
