// Consumer side of the CLI ↔ gateway contract: the CLI's HTTP client (src/cli/client.ts)
// against pact's mock server, one interaction per answer the CLI depends on. The pact is
// written to a fresh directory and then replaces contracts/pacts/ atomically (only when it
// changed and every interaction passed), so a removed interaction never lingers and the
// provider test never reads half a file. The provider side (gateway-provider.pact.test.ts) verifies the same file.

import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MatchersV3, PactV4, type Rules } from '@pact-foundation/pact';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { mockTokens } from '../../src/adapters/mock/tokens.ts';
import { ApiError, createClient, type StreamEvent } from '../../src/cli/client.ts';
import { CONSUMER, MODELS, PACT_DIR, PACT_FILE, PROVIDER, TRANSCRIPT, transcript, transcriptRegex } from './pact-fixtures.ts';

const { integer, like, regex, number } = MatchersV3;
const workDir = mkdtempSync(join(tmpdir(), 'orchqueue-pact-'));
const pact = new PactV4({ consumer: CONSUMER, provider: PROVIDER, dir: workDir, logLevel: 'error' });

// A failed interaction is missing from the new pact: keep the committed file then.
let failed = false;
beforeEach((ctx) => {
  ctx.onTestFailed(() => {
    failed = true;
  });
});

afterAll(() => {
  if (failed) {
    rmSync(workDir, { recursive: true, force: true });
    return;
  }
  const written = readFileSync(join(workDir, `${CONSUMER}-${PROVIDER}.json`), 'utf8');
  let committed: string | undefined;
  try {
    committed = readFileSync(PACT_FILE, 'utf8');
  } catch {
    committed = undefined;
  }
  if (committed !== written) {
    mkdirSync(PACT_DIR, { recursive: true });
    writeFileSync(`${PACT_FILE}.tmp`, written);
    renameSync(`${PACT_FILE}.tmp`, PACT_FILE);
  }
  rmSync(workDir, { recursive: true, force: true });
});

const ids = {
  enqueue: '0b6f1d9e-3c1a-4a5e-9d7e-2f4b8c6a1e01',
  stream: '0b6f1d9e-3c1a-4a5e-9d7e-2f4b8c6a1e02',
  resume: '0b6f1d9e-3c1a-4a5e-9d7e-2f4b8c6a1e03',
  status: '0b6f1d9e-3c1a-4a5e-9d7e-2f4b8c6a1e04',
  cancel: '0b6f1d9e-3c1a-4a5e-9d7e-2f4b8c6a1e05',
  rejected: '0b6f1d9e-3c1a-4a5e-9d7e-2f4b8c6a1e06',
  invalid: '0b6f1d9e-3c1a-4a5e-9d7e-2f4b8c6a1e07',
  unready: '0b6f1d9e-3c1a-4a5e-9d7e-2f4b8c6a1e08',
  unknown: '00000000-0000-4000-8000-000000000000',
};
const json = { 'Content-Type': regex('application/json.*', 'application/json; charset=utf-8') };
const sseType = regex('text/event-stream.*', 'text/event-stream; charset=utf-8');
const correlated = { 'X-Correlation-Id': regex('[A-Za-z0-9._:-]{1,128}', '5b0c6c1e4f0a4d7c') };

/** The error envelope every refusal carries (ORCH-0006), with the fields this answer must have. */
function errorBody(code: string, retriable: boolean, extra: Record<string, unknown> = {}) {
  return { error: { code, message: like('a message written by the gateway'), retriable, correlation_id: like('5b0c6c1e4f0a4d7c'), ...extra } };
}

/**
 * An SSE body as text (readable in the pact file) whose whole content must match `pattern`.
 * pact-js 17's V4 builder only offers `body()` for non-JSON media, which stores bytes plus a
 * `contentType` matcher that sniffs an event stream as text/plain and fails verification; the
 * builder's (protected) FFI interaction stores it as text instead, so it is reached by a cast.
 */
function sseBody(builder: { matchingRules(rules: Rules): unknown }, text: string): void {
  const { interaction } = builder as unknown as { interaction: { withResponseBody(body: string, contentType: string): unknown } };
  interaction.withResponseBody(text, 'text/event-stream');
  builder.matchingRules({ body: [{ path: '$', rules: [regex(transcriptRegex(text), text)] }] });
}

async function collect(events: AsyncIterable<StreamEvent>): Promise<StreamEvent[]> {
  const out: StreamEvent[] = [];
  for await (const e of events) out.push(e);
  return out;
}

async function refusal(call: Promise<unknown>): Promise<ApiError> {
  const err = await call.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof ApiError)) throw new Error(`expected an ApiError, got ${String(err)}`);
  return err;
}

const expectedTokens = mockTokens(TRANSCRIPT.prompt, TRANSCRIPT.seed, TRANSCRIPT.maxTokens);

describe('orchqueue CLI client as a pact consumer of the gateway', () => {
  it('ORCH-0100 submits a task and reads the 202 admission', async () => {
    await pact
      .addInteraction()
      .uponReceiving('a task submission')
      .withRequest('POST', '/v1/tasks', (b) => b.headers({ 'Content-Type': 'application/json' }).jsonBody({ model: MODELS.fast, prompt: 'hello', max_tokens: 16, task_id: ids.enqueue }))
      .willRespondWith(202, (b) =>
        b.headers({ ...json, ...correlated, Location: `/v1/tasks/${ids.enqueue}` }).jsonBody({
          task_id: ids.enqueue,
          queue_position: integer(0),
          predicted_start_ms: integer(0),
          backoff_ms: integer(0),
          streams: { sse: `/v1/tasks/${ids.enqueue}/stream`, status: `/v1/tasks/${ids.enqueue}` },
        }),
      )
      .executeTest(async (server) => {
        const accepted = await createClient({ url: server.url }).submit({ model: MODELS.fast, prompt: 'hello', max_tokens: 16, task_id: ids.enqueue });
        expect(accepted.task_id).toBe(ids.enqueue);
        expect(accepted.streams.sse).toBe(`/v1/tasks/${ids.enqueue}/stream`);
      });
  });

  it('ORCH-0101 ORCH-0400 ORCH-0401 streams the whole SSE transcript in the submit round trip', async () => {
    const body = { model: MODELS.fast, prompt: TRANSCRIPT.prompt, max_tokens: TRANSCRIPT.maxTokens, seed: TRANSCRIPT.seed, task_id: ids.stream };
    const text = transcript();
    await pact
      .addInteraction()
      .uponReceiving('a task submission that asks for the event stream')
      .withRequest('POST', '/v1/tasks', (b) => b.headers({ 'Content-Type': 'application/json', Accept: 'text/event-stream' }).jsonBody(body))
      .willRespondWith(200, (b) =>
        sseBody(b.headers({ 'Content-Type': sseType, 'X-Task-Id': ids.stream, ...correlated }), text),
      )
      .executeTest(async (server) => {
        const stream = await createClient({ url: server.url }).submitStream(body);
        expect(stream.taskId).toBe(ids.stream);
        const events = await collect(stream.events);
        expect(events.map((e) => e.event)).toEqual(['started', 'token', 'token', 'token', 'metrics', 'end']);
        expect(events.map((e) => e.id)).toEqual([1, 2, 3, 4, 5, 6]);
        expect(events.filter((e) => e.event === 'token').map((e) => e.data.t)).toEqual(expectedTokens);
      });
  });

  it('ORCH-0403 resumes a finished task stream after Last-Event-ID', async () => {
    const text = transcript(2);
    await pact
      .addInteraction()
      .given('a completed task exists', { task_id: ids.resume, model: MODELS.fast, prompt: TRANSCRIPT.prompt, seed: TRANSCRIPT.seed, max_tokens: TRANSCRIPT.maxTokens })
      .uponReceiving('a stream request resuming after event 2')
      .withRequest('GET', `/v1/tasks/${ids.resume}/stream`, (b) => b.headers({ Accept: 'text/event-stream', 'Last-Event-ID': '2' }))
      .willRespondWith(200, (b) => sseBody(b.headers({ 'Content-Type': sseType, ...correlated }), text))
      .executeTest(async (server) => {
        const stream = await createClient({ url: server.url }).stream(ids.resume, { lastEventId: 2 });
        const events = await collect(stream.events);
        expect(events.map((e) => e.id)).toEqual([3, 4, 5, 6]);
        expect(events.at(-1)).toMatchObject({ event: 'end', data: { finish_reason: 'length', tokens_out: TRANSCRIPT.maxTokens } });
      });
  });

  it('ORCH-0114 reads the status of a running task', async () => {
    await pact
      .addInteraction()
      .given('a task exists', { task_id: ids.status, model: MODELS.slow })
      .uponReceiving('a status request for a running task')
      .withRequest('GET', `/v1/tasks/${ids.status}`)
      .willRespondWith(200, (b) =>
        b.headers({ ...json, ...correlated }).jsonBody({
          task_id: ids.status,
          state: regex('queued|running', 'running'),
          model: MODELS.slow,
          pool_id: like('slow'),
          priority: 'interactive',
          created_at: regex('\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?Z', '2025-01-01T12:00:00.000Z'),
          tokens_out: integer(3),
          last_event_id: integer(4),
        }),
      )
      .executeTest(async (server) => {
        const status = await createClient({ url: server.url }).status(ids.status);
        expect(status).toMatchObject({ task_id: ids.status, state: 'running', model: MODELS.slow });
      });
  });

  it('ORCH-0200 cancels a running task', async () => {
    await pact
      .addInteraction()
      .given('a task exists', { task_id: ids.cancel, model: MODELS.slow })
      .uponReceiving('a cancel request for a running task')
      .withRequest('POST', `/v1/tasks/${ids.cancel}/cancel`, (b) => b.headers({ 'Content-Type': 'application/json' }))
      .willRespondWith(200, (b) => b.headers({ ...json, ...correlated }).jsonBody({ task_id: ids.cancel, state: 'canceled', canceled: true }))
      .executeTest(async (server) => {
        expect(await createClient({ url: server.url }).cancel(ids.cancel)).toEqual({ task_id: ids.cancel, state: 'canceled', canceled: true });
      });
  });

  it('ORCH-0200 gets 404 NOT_FOUND when cancelling an unknown task', async () => {
    await pact
      .addInteraction()
      .uponReceiving('a cancel request for an unknown task')
      .withRequest('POST', `/v1/tasks/${ids.unknown}/cancel`, (b) => b.headers({ 'Content-Type': 'application/json' }))
      .willRespondWith(404, (b) => b.headers({ ...json, ...correlated }).jsonBody(errorBody('NOT_FOUND', false)))
      .executeTest(async (server) => {
        const err = await refusal(createClient({ url: server.url }).cancel(ids.unknown));
        expect([err.status, err.code]).toEqual([404, 'NOT_FOUND']);
      });
  });

  it('ORCH-0305 reads a session', async () => {
    await pact
      .addInteraction()
      .given('a session exists', { session_id: 'chat-42', max_turns: 8 })
      .uponReceiving('a session read')
      .withRequest('GET', '/v1/sessions/chat-42')
      .willRespondWith(200, (b) =>
        b.headers({ ...json, ...correlated }).jsonBody({
          session_id: 'chat-42',
          ttl_ms_remaining: integer(600000),
          turns: 0,
          max_turns: 8,
          kv_warmth: regex('cold|warm|hot', 'cold'),
          budgets: { tokens: { used: integer(0) }, time_ms: { used: integer(0) }, cost: { used: number(0) } },
          created_at: regex('\\d{4}-\\d{2}-\\d{2}T.+Z', '2025-01-01T12:00:00.000Z'),
          expires_at: regex('\\d{4}-\\d{2}-\\d{2}T.+Z', '2025-01-01T12:10:00.000Z'),
        }),
      )
      .executeTest(async (server) => {
        expect(await createClient({ url: server.url }).getSession('chat-42')).toMatchObject({ session_id: 'chat-42', turns: 0, max_turns: 8, kv_warmth: 'cold' });
      });
  });

  it('ORCH-0306 deletes a session with 204', async () => {
    await pact
      .addInteraction()
      .given('a session exists', { session_id: 'chat-43' })
      .uponReceiving('a session delete')
      .withRequest('DELETE', '/v1/sessions/chat-43')
      .willRespondWith(204, (b) => b.headers(correlated))
      .executeTest(async (server) => {
        await expect(createClient({ url: server.url }).deleteSession('chat-43')).resolves.toBeUndefined();
      });
  });

  it('ORCH-0305 gets 404 NOT_FOUND for an unknown session', async () => {
    await pact
      .addInteraction()
      .uponReceiving('a read of an unknown session')
      .withRequest('GET', '/v1/sessions/never-created')
      .willRespondWith(404, (b) => b.headers({ ...json, ...correlated }).jsonBody(errorBody('NOT_FOUND', false)))
      .executeTest(async (server) => {
        expect((await refusal(createClient({ url: server.url }).getSession('never-created'))).status).toBe(404);
      });
  });

  it('ORCH-0114 gets 404 NOT_FOUND for the status of an unknown task', async () => {
    await pact
      .addInteraction()
      .uponReceiving('a status request for an unknown task')
      .withRequest('GET', `/v1/tasks/${ids.unknown}`)
      .willRespondWith(404, (b) => b.headers({ ...json, ...correlated }).jsonBody(errorBody('NOT_FOUND', false)))
      .executeTest(async (server) => {
        expect((await refusal(createClient({ url: server.url }).status(ids.unknown))).code).toBe('NOT_FOUND');
      });
  });

  it('ORCH-0107 gets 429 ADMISSION_REJECT with Retry-After and X-Backoff-Ms when the queue is full', async () => {
    await pact
      .addInteraction()
      .given('the queue is full', { model: MODELS.busy })
      .uponReceiving('a task submission to a full queue')
      .withRequest('POST', '/v1/tasks', (b) => b.headers({ 'Content-Type': 'application/json' }).jsonBody({ model: MODELS.busy, prompt: 'hello', max_tokens: 8, task_id: ids.rejected }))
      .willRespondWith(429, (b) =>
        b.headers({ ...json, ...correlated, 'Retry-After': regex('[1-9][0-9]*', '2'), 'X-Backoff-Ms': regex('[1-9][0-9]*', '1200') }).jsonBody(
          errorBody('ADMISSION_REJECT', true, { pool_id: like('busy'), retry_after_ms: integer(1200), policy_label: 'reject' }),
        ),
      )
      .executeTest(async (server) => {
        const err = await refusal(createClient({ url: server.url }).submit({ model: MODELS.busy, prompt: 'hello', max_tokens: 8, task_id: ids.rejected }));
        expect([err.status, err.code, err.retryAfterMs, err.backoffMs]).toEqual([429, 'ADMISSION_REJECT', 2000, 1200]);
        expect(err.error?.policy_label).toBe('reject');
      });
  });

  it('ORCH-0016 gets 400 INVALID_PARAMS naming the field', async () => {
    await pact
      .addInteraction()
      .uponReceiving('a task submission with max_tokens 0')
      .withRequest('POST', '/v1/tasks', (b) => b.headers({ 'Content-Type': 'application/json' }).jsonBody({ model: MODELS.fast, prompt: 'hello', max_tokens: 0, task_id: ids.invalid }))
      .willRespondWith(400, (b) => b.headers({ ...json, ...correlated }).jsonBody(errorBody('INVALID_PARAMS', false, { field: 'max_tokens' })))
      .executeTest(async (server) => {
        const err = await refusal(createClient({ url: server.url }).submit({ model: MODELS.fast, prompt: 'hello', max_tokens: 0, task_id: ids.invalid }));
        expect([err.status, err.code, err.error?.field]).toEqual([400, 'INVALID_PARAMS', 'max_tokens']);
      });
  });

  it('ORCH-0104 gets 503 POOL_UNREADY when the pool has no ready replica', async () => {
    await pact
      .addInteraction()
      .given('the pool is unready', { model: MODELS.cold })
      .uponReceiving('a task submission to an unready pool')
      .withRequest('POST', '/v1/tasks', (b) => b.headers({ 'Content-Type': 'application/json' }).jsonBody({ model: MODELS.cold, prompt: 'hello', max_tokens: 8, task_id: ids.unready }))
      .willRespondWith(503, (b) => b.headers({ ...json, ...correlated }).jsonBody(errorBody('POOL_UNREADY', true, { pool_id: like('cold') })))
      .executeTest(async (server) => {
        const err = await refusal(createClient({ url: server.url }).submit({ model: MODELS.cold, prompt: 'hello', max_tokens: 8, task_id: ids.unready }));
        expect([err.status, err.code, err.error?.retriable]).toEqual([503, 'POOL_UNREADY', true]);
      });
  });

  it('ORCH-0500 lists the pools', async () => {
    await pact
      .addInteraction()
      .uponReceiving('a pool listing')
      .withRequest('GET', '/v1/pools')
      .willRespondWith(200, (b) =>
        b.headers({ ...json, ...correlated }).jsonBody({
          pools: MatchersV3.atLeastOneLike({
            id: like('demo'), engine: regex('mock|llamacpp|vllm|tgi|triton', 'mock'), model: like('demo'), aliases: [],
            live: like(true), ready: like(true), draining: like(false),
            slots: { total: integer(4), busy: integer(0) },
            queue: { depth: integer(0), interactive: integer(0), batch: integer(0), max_queued: integer(256), policy: regex('reject|drop-lru', 'reject') },
          }),
        }),
      )
      .executeTest(async (server) => {
        const pools = await createClient({ url: server.url }).listPools();
        expect(pools[0]).toMatchObject({ id: 'demo', engine: 'mock', slots: { total: 4 } });
      });
  });
});
