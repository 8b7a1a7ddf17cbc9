// Cancel (queued and running, race-free), drop-lru eviction, 429 with honest backoff headers,
// and deadlines — each through the real server, with the state checked afterwards.

import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { expectResponseMatches } from '../support/contract.ts';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { openStream, terminal, tokens } from '../support/sse-client.ts';
import { waitFor } from './task-lifecycle.test.ts';

let gw: TestGateway | undefined;
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

/** One slot, a short queue, a slow engine: work piles up predictably. */
async function slowGateway(queue: Record<string, unknown>, mock: Record<string, unknown> = {}) {
  gw = await startGateway(
    testConfig({ pools: [mockPool({ replicas: [{ id: 'mock-0', slots: 1 }], queue }, { tokens_per_s: 40, first_token_delay_ms: 1, ...mock })] }),
  );
  return gw;
}

const body = (over: Record<string, unknown> = {}) => ({ model: 'demo', prompt: 'hello', max_tokens: 200, ...over });

describe('cancel', () => {
  // ORCH-0200 ORCH-0201 ORCH-0203 ORCH-0204 ORCH-0402
  it('cancels a running task: the ack comes after the terminal event and no token follows it', async () => {
    const g = await slowGateway({ max_queued: 4 });
    const res = await g.post('/v1/tasks', body());
    const { task_id } = res.body as { task_id: string };
    let ackedAtEvents = -1;
    const streaming = openStream(`${g.url}/v1/tasks/${task_id}/stream`);
    await waitFor(async () => ((await g.get(`/v1/tasks/${task_id}`)).body as { tokens_out: number }).tokens_out >= 3);
    const ack = await g.post(`/v1/tasks/${task_id}/cancel`, undefined);
    expect(ack.status).toBe(200);
    expectResponseMatches('cancelTask', 200, ack.body);
    expect(ack.body).toEqual({ task_id, state: 'canceled', canceled: true });
    const status = (await g.get(`/v1/tasks/${task_id}`)).body as { tokens_out: number; last_event_id: number };
    ackedAtEvents = status.last_event_id;
    const stream = await streaming;
    // Everything the stream carries was in the log at the ack: nothing was appended after it.
    expect(stream.events.at(-1)?.id).toBe(ackedAtEvents);
    expect(stream.events.at(-1)).toMatchObject({ event: 'end', data: { finish_reason: 'canceled' } });
    expect(tokens(stream.events)).toHaveLength(status.tokens_out);
    expect(terminal(stream.events)).toHaveLength(1);
    // The engine call was aborted: the slot frees at once.
    await waitFor(() => g.pools.get('demo')?.replicas[0]?.slotsBusy === 0, 1_000);
    const again = await g.post(`/v1/tasks/${task_id}/cancel`, undefined);
    expect(again.body).toEqual({ task_id, state: 'canceled', canceled: true });
  });

  // ORCH-0200 ORCH-0202 ORCH-0402
  it('cancels a queued task: it leaves the queue without ever starting', async () => {
    const g = await slowGateway({ max_queued: 4 });
    const running = (await g.post('/v1/tasks', body())).body as { task_id: string };
    const queued = (await g.post('/v1/tasks', body())).body as { task_id: string; queue_position: number };
    expect(queued.queue_position).toBe(0);
    expect(((await g.get(`/v1/tasks/${queued.task_id}`)).body as { state: string }).state).toBe('queued');
    const ack = await g.post(`/v1/tasks/${queued.task_id}/cancel`, undefined);
    expect(ack.body).toEqual({ task_id: queued.task_id, state: 'canceled', canceled: true });
    const stream = await openStream(`${g.url}/v1/tasks/${queued.task_id}/stream`);
    expect(stream.events.map((e) => e.event)).toEqual(['end']);
    expect(stream.events[0]?.data).toEqual({ tokens_out: 0, decode_time_ms: 0, finish_reason: 'canceled' });
    expect(((await g.get('/v1/pools/demo')).body as { queue: { depth: number } }).queue.depth).toBe(0);
    expect(((await g.get(`/v1/tasks/${running.task_id}`)).body as { state: string }).state).toBe('running');
  });

  // ORCH-0200 ORCH-0201
  it('answers 404 for an unknown task and reports canceled=false for a task that already completed', async () => {
    gw = await startGateway();
    const unknown = await gw.post('/v1/tasks/00000000-0000-4000-8000-000000000000/cancel', undefined);
    expect(unknown.status).toBe(404);
    expectResponseMatches('cancelTask', 404, unknown.body);
    const done = await openStream(`${gw.url}/v1/tasks`, { method: 'POST', body: body({ max_tokens: 2 }) });
    const id = done.headers['x-task-id'] as string;
    const ack = await gw.post(`/v1/tasks/${id}/cancel`, undefined);
    expect(ack.body).toEqual({ task_id: id, state: 'completed', canceled: false });
  });
});

describe('bodiless cancel', () => {
  it('accepts a cancel POST sent chunked with no Content-Type and an empty body', async () => {
    gw = await startGateway();
    const { task_id } = (await gw.post('/v1/tasks', body({ max_tokens: 2 }))).body as { task_id: string };
    // Written by hand: Transfer-Encoding chunked, no Content-Type, a zero-length body.
    const raw = await rawHttp(gw.url, `POST /v1/tasks/${task_id}/cancel HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n`);
    expect(raw.split('\r\n')[0]).toBe('HTTP/1.1 200 OK');
    expect(raw).toContain(`"task_id":"${task_id}"`);
  });
});

describe('full queue', () => {
  // ORCH-0107 ORCH-0115 ORCH-0006
  it('rejects with 429, Retry-After in whole seconds, X-Backoff-Ms and a typed body, changing nothing', async () => {
    const g = await slowGateway({ max_queued: 1, policy: 'reject' });
    await g.post('/v1/tasks', body());
    await g.post('/v1/tasks', body());
    const before = (await g.get('/v1/pools/demo')).body;
    const res = await g.post('/v1/tasks', body({ task_id: '9d2f6a55-8d5f-4a8e-9a63-3f0c1b2e4d01' }));
    expect(res.status).toBe(429);
    expectResponseMatches('createTask', 429, res.body, { headers: res.headers });
    const err = (res.body as { error: Record<string, unknown> }).error;
    expect(err).toMatchObject({ code: 'ADMISSION_REJECT', retriable: true, policy_label: 'reject', pool_id: 'demo' });
    const backoff = Number(res.headers['x-backoff-ms']);
    expect(backoff).toBeGreaterThanOrEqual(1);
    expect(res.headers['retry-after']).toBe(String(Math.ceil(backoff / 1000)));
    expect(err.retry_after_ms).toBe(backoff);
    // The envelope is serialised by sendError itself: the same type and bytes Fastify would send.
    expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(res.text).toBe(JSON.stringify({ error: { ...err, correlation_id: res.headers['x-correlation-id'] } }));
    expect((await g.get('/v1/pools/demo')).body).toEqual(before);
    expect((await g.get('/v1/tasks/9d2f6a55-8d5f-4a8e-9a63-3f0c1b2e4d01')).status).toBe(404);
  });

  // ORCH-0108 ORCH-0402
  it('drop-lru admits the newcomer and ends the evicted task with a retriable QUEUE_FULL_DROP_LRU', async () => {
    const g = await slowGateway({ max_queued: 1, policy: 'drop-lru' });
    await g.post('/v1/tasks', body());
    const victim = (await g.post('/v1/tasks', body({ priority: 'batch' }))).body as { task_id: string };
    const newcomer = await g.post('/v1/tasks', body());
    expect(newcomer.status).toBe(202);
    const stream = await openStream(`${g.url}/v1/tasks/${victim.task_id}/stream`);
    expect(stream.events).toHaveLength(1);
    expect(stream.events[0]).toMatchObject({ event: 'error', data: { code: 'QUEUE_FULL_DROP_LRU', retriable: true } });
    expect((stream.events[0]?.data as { retry_after_ms: number }).retry_after_ms).toBeGreaterThanOrEqual(1);
    const status = (await g.get(`/v1/tasks/${victim.task_id}`)).body;
    expectResponseMatches('getTask', 200, status);
    expect(status).toMatchObject({ state: 'evicted', error: { code: 'QUEUE_FULL_DROP_LRU' } });
  });

  // ORCH-0108
  it('drop-lru never lets a batch newcomer evict interactive work', async () => {
    const g = await slowGateway({ max_queued: 1, policy: 'drop-lru' });
    await g.post('/v1/tasks', body());
    await g.post('/v1/tasks', body());
    const res = await g.post('/v1/tasks', body({ priority: 'batch' }));
    expect(res.status).toBe(429);
    expect((res.body as { error: { policy_label: string } }).error.policy_label).toBe('drop-lru');
  });
});

describe('deadlines', () => {
  // ORCH-0109 ORCH-0115
  it('refuses with DEADLINE_UNMET when the predicted finish is past the deadline, admitting nothing', async () => {
    const g = await slowGateway({ max_queued: 4 });
    await g.post('/v1/tasks', body());
    const res = await g.post('/v1/tasks', body({ deadline_ms: 5 }));
    expect(res.status).toBe(422);
    expectResponseMatches('createTask', 422, res.body);
    expect((res.body as { error: { code: string } }).error.code).toBe('DEADLINE_UNMET');
    expect(((await g.get('/v1/pools/demo')).body as { queue: { depth: number } }).queue.depth).toBe(0);
  });

  // ORCH-0109 ORCH-0402
  it('expires a running task at its deadline with a terminal DEADLINE_EXCEEDED', async () => {
    // The engine hangs after two tokens; the deadline, feasible at admission, passes mid-stream.
    const g = await slowGateway({ max_queued: 4 }, { tokens_per_s: 1_000, hang_at_token: 2 });
    const res = await g.post('/v1/tasks', body({ max_tokens: 5, deadline_ms: 400 }));
    expect(res.status).toBe(202);
    const { task_id } = res.body as { task_id: string };
    const stream = await openStream(`${g.url}/v1/tasks/${task_id}/stream`);
    expect(tokens(stream.events)).toHaveLength(2);
    expect(terminal(stream.events)).toEqual([expect.objectContaining({ event: 'error', data: expect.objectContaining({ code: 'DEADLINE_EXCEEDED', retriable: false }) })]);
    expect((await g.get(`/v1/tasks/${task_id}`)).body).toMatchObject({ state: 'expired', error: { code: 'DEADLINE_EXCEEDED' } });
    await waitFor(() => g.pools.get('demo')?.replicas[0]?.slotsBusy === 0, 1_000);
  });
});

/** Sends raw bytes to the server and returns everything it answers until it closes. */
function rawHttp(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.end(text));
    let out = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (out += chunk));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}
