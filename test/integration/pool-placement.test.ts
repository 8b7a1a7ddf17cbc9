// Placement end to end through POST /v1/tasks on mock replicas: pin (never a silent fallback),
// prefer in order, avoid, allow_fallback, accelerator labels; the circuit breaker (opens after
// consecutive failures, one half-open trial); require_same_engine_version; capabilities.

import { systemClock } from '../../src/system-clock.ts';
import { afterEach, describe, expect, it } from 'vitest';
import type { PlacedFact } from '../../src/core/observer.ts';
import { expectResponseMatches } from '../support/contract.ts';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream } from '../support/sse-client.ts';
import { waitFor } from './engines-support.ts';

let gw: TestGateway | undefined;
let placed: PlacedFact[] = [];
afterEach(async () => {
  await gw?.close();
  gw = undefined;
  placed = [];
});

/** Real time plus an offset the test can jump forward (breaker waits without sleeping). */
const skew = { ms: 0 };
const clock = { now: () => Date.now() + skew.ms, monotonic: () => performance.now() + skew.ms, setTimer: systemClock.setTimer };

async function gateway(replicas: Array<Record<string, unknown>>, over: Record<string, unknown> = {}, mock: Record<string, unknown> = {}) {
  gw = await startGateway(testConfig({ pools: [mockPool({ replicas, ...over }, mock)] }), { clock, observers: [{ placed: (f) => void placed.push(f) }] });
  return gw;
}

const three = [{ id: 'a', slots: 1 }, { id: 'b', slots: 1 }, { id: 'c', slots: 1 }];
const body = (placement?: Record<string, unknown>, over: Record<string, unknown> = {}) => ({
  model: 'demo',
  prompt: 'place me',
  max_tokens: 3,
  ...(placement ? { placement } : {}),
  ...over,
});

/** Runs one task to its end and answers the replica that served it. */
async function servedBy(g: TestGateway, placement?: Record<string, unknown>): Promise<string> {
  const stream = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: body(placement) });
  expect(stream.status, JSON.stringify(stream.body)).toBe(200);
  expect(stream.events.at(-1)?.event).toBe('end');
  const status = await g.get(`/v1/tasks/${stream.headers['x-task-id'] as string}`);
  return (status.body as { replica_id: string }).replica_id;
}

const errorOf = (res: { body: unknown }) => (res.body as { error: Record<string, unknown> }).error;

describe('placement overrides', () => {
  // ORCH-0505 ORCH-0514
  it('pin, prefer (in order) and avoid choose the replica; without overrides the lowest id wins a tie', async () => {
    const g = await gateway(three);
    expect(await servedBy(g)).toBe('a');
    expect(await servedBy(g, { pin: 'c' })).toBe('c');
    expect(await servedBy(g, { prefer: ['c', 'b'] })).toBe('c');
    expect(await servedBy(g, { prefer: ['x-unknown-is-refused'] }).catch(() => 'refused')).toBe('refused');
    expect(await servedBy(g, { prefer: ['b', 'c'] })).toBe('b');
    expect(await servedBy(g, { avoid: ['a', 'c'] })).toBe('b');
    expect(await servedBy(g, { avoid: ['a', 'b'] })).toBe('c');
  });

  // ORCH-0505
  it('never falls back silently from a pin: a busy pin waits, an unready pin is 503 REPLICA_EXHAUSTED, unknown is 400', async () => {
    const g = await gateway(three, {}, { tokens_per_s: 40 });
    const long = await g.post('/v1/tasks', body({ pin: 'b' }, { max_tokens: 8 }));
    expect(long.status).toBe(202);
    const waiting = await g.post('/v1/tasks', body({ pin: 'b' }));
    const waitingId = (waiting.body as { task_id: string }).task_id;
    expect(((await g.get(`/v1/tasks/${waitingId}`)).body as { state: string }).state).toBe('queued');
    const stream = await openStream(`${g.url}/v1/tasks/${waitingId}/stream`);
    expect(stream.events[0]).toMatchObject({ event: 'started', data: { replica_id: 'b' } });
    const unknown = await g.post('/v1/tasks', body({ pin: 'zz' }));
    expect(unknown.status).toBe(400);
    expect(errorOf(unknown)).toMatchObject({ code: 'INVALID_PARAMS', field: 'placement.pin' });
    // Take b out (a drain marks every replica; here only b's state changes).
    const b = g.pools.get('demo')?.replica('b');
    if (b) b.state = 'unready';
    const refused = await g.post('/v1/tasks', body({ pin: 'b' }));
    expect(refused.status).toBe(503);
    expectResponseMatches('createTask', 503, refused.body, { headers: refused.headers });
    expect(errorOf(refused)).toMatchObject({ code: 'REPLICA_EXHAUSTED', retriable: true });
    expect(await servedBy(g, { pin: 'b', allow_fallback: true })).toBe('a');
  });

  it('with allow_fallback a busy pin or an avoided replica only ranks: work goes where there is room', async () => {
    const g = await gateway([{ id: 'a', slots: 1 }, { id: 'b', slots: 1 }], {}, { tokens_per_s: 40 });
    const busy = await g.post('/v1/tasks', body({ pin: 'a' }, { max_tokens: 8 }));
    expect(busy.status).toBe(202);
    await waitFor(() => g.pools.get('demo')?.replica('a')?.slotsBusy === 1);
    expect(await servedBy(g, { pin: 'a', allow_fallback: true })).toBe('b');
    expect(await servedBy(g, { avoid: ['b'], allow_fallback: true })).toBe('b');
    const strict = await g.post('/v1/tasks', body({ avoid: ['a', 'b'] }));
    expect(strict.status).toBe(503);
  });

  // ORCH-0513
  it('filters by the accelerator label of the replica', async () => {
    const g = await gateway([
      { id: 'cpu-0', slots: 1, labels: { accelerator: 'cpu' } },
      { id: 'gpu-0', slots: 1, labels: { accelerator: 'nvidia', device_mask: '0,1', memory_bytes: 85_899_345_920 } },
    ]);
    expect(await servedBy(g, { accelerator: 'nvidia' })).toBe('gpu-0');
    expect(await servedBy(g, { accelerator: 'cpu' })).toBe('cpu-0');
    const pool = (await g.get('/v1/pools/demo')).body as { replicas: Array<{ labels: unknown }> };
    expect(pool.replicas[1]?.labels).toEqual({ accelerator: 'nvidia', device_mask: '0,1', memory_bytes: 85_899_345_920 });
    const caps = (await g.get('/v1/capabilities')).body as { pools: Array<{ accelerators: string[] }> };
    expect(caps.pools[0]?.accelerators).toEqual(['cpu', 'nvidia']);
  });
});

describe('circuit breaker', () => {
  // ORCH-0502
  it('opens after consecutive failures (tasks move on), then lets exactly one half-open trial through', async () => {
    const health = { interval_ms: 60_000, breaker_failures: 2, breaker_open_ms: 60_000 };
    const g = await gateway([{ id: 'a', slots: 2, mock: { reset_before_first_token: true } }, { id: 'b', slots: 2 }], { health });
    // Every task asks for a first; a fails before the first token and the task moves to b.
    const wantA = { prefer: ['a'] };
    expect(await servedBy(g, wantA)).toBe('b');
    expect(await servedBy(g, wantA)).toBe('b');
    const triedA = () => placed.filter((p) => p.replica_id === 'a').length;
    expect(triedA()).toBe(2);
    const pool = (await g.get('/v1/pools/demo')).body as { replicas: Array<{ id: string; state: string; breaker: string }> };
    expect(pool.replicas[0]).toMatchObject({ id: 'a', state: 'failed', breaker: 'open' });
    // While open, placement skips a: no third attempt there.
    expect(await servedBy(g, wantA)).toBe('b');
    expect(triedA()).toBe(2);
    skew.ms += 60_000;
    expect(((await g.get('/v1/pools/demo')).body as { replicas: Array<{ breaker: string }> }).replicas[0]?.breaker).toBe('half_open');
    // Two tasks at once: only one may be the trial on a; the trial fails and re-opens it.
    expect(await Promise.all([servedBy(g, wantA), servedBy(g, wantA)])).toEqual(['b', 'b']);
    expect(triedA()).toBe(3);
    expect(((await g.get('/v1/pools/demo')).body as { replicas: Array<{ breaker: string }> }).replicas[0]?.breaker).toBe('open');
  });

  it('a single replica that fails before the first token ends the task with its own retriable error', async () => {
    const g = await gateway([{ id: 'a', slots: 1, mock: { reset_before_first_token: true } }]);
    const stream = await openStream(`${g.url}/v1/tasks`, { method: 'POST', body: body() });
    expect(stream.events.at(-1)).toMatchObject({ event: 'error', data: { code: 'WORKER_RESET', retriable: true } });
  });
});

describe('engine versions', () => {
  // ORCH-0510
  it('require_same_engine_version keeps the replica that differs from the majority out and says why', async () => {
    const g = await gateway(
      [
        { id: 'a', slots: 1, mock: { engine_version: 'mock-2' } },
        { id: 'b', slots: 1, mock: { engine_version: 'mock-1' } },
        { id: 'c', slots: 1, mock: { engine_version: 'mock-1' } },
      ],
      { require_same_engine_version: true },
    );
    const pool = (await g.get('/v1/pools/demo')).body as { engine_version: string; slots: { total: number }; replicas: Array<Record<string, unknown>> };
    expectResponseMatches('getPool', 200, pool);
    expect(pool.engine_version).toBe('mock-1');
    expect(pool.slots.total).toBe(2);
    expect(pool.replicas[0]).toMatchObject({ id: 'a', state: 'unready', engine_version: 'mock-2', last_error: expect.stringMatching(/mock-2 differs from the version its peers run mock-1/) });
    expect(await servedBy(g)).toBe('b');
    expect(await servedBy(g, { prefer: ['a'] })).toBe('b');
  });

  it('without the requirement, mixed versions all serve and the pool reports no single version', async () => {
    const g = await gateway([
      { id: 'a', slots: 1, mock: { engine_version: 'mock-2' } },
      { id: 'b', slots: 1, mock: { engine_version: 'mock-1' } },
    ]);
    const pool = (await g.get('/v1/pools/demo')).body as Record<string, unknown>;
    expect(pool.engine_version).toBeUndefined();
    expect(await servedBy(g)).toBe('a');
  });
});
