// Pins the SSE framing byte for byte: complete transcripts (headers that matter, `id:`,
// `event:`, `data:` lines, blank-line separators) of the real gateway on the deterministic mock
// engine with fixed seeds, compared with a committed snapshot file. Only decode timings are
// normalised. An accidental framing change fails here loudly; an intended one updates the
// snapshot (`vitest run -u test/integration/sse-snapshot.test.ts`) in the same commit as the
// contract and docs/api.md.

import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';

const TIMINGS = /"(queue_wait_ms|ttft_ms|tokens_per_s|decode_time_ms)":\d+(\.\d+)?/g;
const FRAMING_HEADERS = ['content-type', 'cache-control', 'x-accel-buffering', 'x-task-id'];

let gw: TestGateway;
beforeAll(async () => {
  gw = await startGateway(
    testConfig({
      server: { heartbeat_ms: 60_000 },
      pools: [
        mockPool({ replicas: [{ id: 'mock-0', slots: 1 }] }),
        mockPool({ id: 'faulty', model: 'faulty', replicas: [{ id: 'faulty-0', slots: 1 }] }, { fail_at_token: 2 }),
      ],
    }),
  );
});
afterAll(async () => gw?.close());

/** One response as it went over the wire: status, the headers that define the framing, the raw body. */
async function transcript(method: 'GET' | 'POST', path: string, opts: { body?: unknown; headers?: Record<string, string> } = {}): Promise<string> {
  const res = await request(`${gw.url}${path}`, {
    method,
    headers: { accept: 'text/event-stream', ...(opts.body ? { 'content-type': 'application/json' } : {}), ...opts.headers },
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const body = await res.body.text();
  const headers = FRAMING_HEADERS.map((name) => `${name}: ${String(res.headers[name] ?? '(absent)')}`);
  return [`HTTP ${res.statusCode}`, ...headers, '', body.replace(TIMINGS, '"$1":<timing>')].join('\n');
}

const id = (n: number) => `5e55e5e5-0000-4000-8000-${String(n).padStart(12, '0')}`;

describe('SSE transcripts (framing snapshot)', () => {
  // ORCH-0400 ORCH-0401 ORCH-0402 ORCH-0403 ORCH-0407: event names, one data line each, ids 1..n
  // without gaps, exactly one terminal event, resume after Last-Event-ID.
  it('ORCH-0400 ORCH-0401 ORCH-0402 keep their framing: submit-and-stream, replay, resume, cancel and error endings', async () => {
    const sections: [string, string][] = [];
    const submit = { model: 'demo', prompt: 'Write a haiku about queues.', max_tokens: 6, seed: 42, task_id: id(1) };
    sections.push(['POST /v1/tasks (Accept: text/event-stream), seed 42, 6 tokens', await transcript('POST', '/v1/tasks', { body: submit })]);
    sections.push(['GET /v1/tasks/{id}/stream of the finished task (full replay)', await transcript('GET', `/v1/tasks/${id(1)}/stream`)]);
    sections.push(['GET /v1/tasks/{id}/stream with Last-Event-ID: 4', await transcript('GET', `/v1/tasks/${id(1)}/stream`, { headers: { 'last-event-id': '4' } })]);
    sections.push(['GET /v1/tasks/{id}/stream with Last-Event-ID past the end', await transcript('GET', `/v1/tasks/${id(1)}/stream`, { headers: { 'last-event-id': '99' } })]);

    // A task canceled while queued behind a long one: a lone terminal `end`.
    await gw.post('/v1/tasks', { model: 'demo', prompt: 'occupy the slot', max_tokens: 2_000, task_id: id(2) });
    await gw.post('/v1/tasks', { model: 'demo', prompt: 'never starts', max_tokens: 4, task_id: id(3) });
    await gw.post(`/v1/tasks/${id(3)}/cancel`, undefined);
    await gw.post(`/v1/tasks/${id(2)}/cancel`, undefined);
    sections.push(['GET /v1/tasks/{id}/stream of a task canceled while queued', await transcript('GET', `/v1/tasks/${id(3)}/stream`)]);

    const failing = { model: 'faulty', prompt: 'break after two', max_tokens: 5, seed: 7, task_id: id(4) };
    sections.push(['POST /v1/tasks (Accept: text/event-stream) on an engine failing at token 2', await transcript('POST', '/v1/tasks', { body: failing })]);

    const file = sections.map(([title, text]) => `=== ${title}\n${text}`).join('\n');
    await expect(file).toMatchFileSnapshot('__snapshots__/sse-transcripts.txt');
  });
});
