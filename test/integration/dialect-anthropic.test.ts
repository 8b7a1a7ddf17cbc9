// The official `@anthropic-ai/sdk`, unmodified, against a real gateway on an ephemeral port with
// the built-in mock engine behind it (issue 11): messages streaming and not, system prompt and
// stop_sequences, a tool_use / tool_result round trip, an SDK abort that cancels the task, the
// key as x-api-key, and 429/503 with the backoff headers the SDK reads.

import Anthropic, { APIError } from '@anthropic-ai/sdk';
import type { MessageParam, Tool } from '@anthropic-ai/sdk/resources/messages';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { anthropicClient, clientTransport, factRecorder, recordingFetch, taskView } from '../support/dialect-clients.ts';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';

const facts = factRecorder();
const transport = clientTransport();
let gw: TestGateway;

beforeAll(async () => {
  gw = await startGateway(
    testConfig({
      pools: [
        mockPool(),
        // 20 tokens/s: a long answer is still streaming when the test aborts it.
        mockPool({ id: 'slow', model: 'slow', replicas: [{ id: 'slow-0', slots: 1 }] }, { tokens_per_s: 20 }),
      ],
    }),
    { observers: [facts.observer] },
  );
});
afterAll(async () => {
  await transport.close();
  await gw?.close();
});

const client = (opts: ConstructorParameters<typeof Anthropic>[0] = {}) => anthropicClient(gw, { fetch: transport.fetch, ...opts });
const hello: MessageParam[] = [{ role: 'user', content: 'Say hello to the queue.' }];
const weather: Tool = { name: 'get_weather', description: 'current weather', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };

function textOf(content: Anthropic.Messages.ContentBlock[]): string {
  return content.map((b) => (b.type === 'text' ? b.text : '')).join('');
}

describe('Anthropic messages through the SDK', () => {
  // ORCH-1108 ORCH-1105
  it('answers a non-streaming message with output_tokens equal to the task tokens_out', async () => {
    const { data, response } = await client().messages.create({ model: 'demo', max_tokens: 7, system: 'Be brief.', messages: hello }).withResponse();
    const task = await taskView(gw, response.headers.get('x-task-id'));
    expect(task).toMatchObject({ state: 'completed', tokens_out: 7, finish_reason: 'length' });
    expect(data).toMatchObject({ type: 'message', role: 'assistant', model: 'demo', stop_reason: 'max_tokens', stop_sequence: null });
    expect(data.id).toBe(`msg_${task.task_id.replaceAll('-', '')}`);
    expect(data.content).toEqual([{ type: 'text', text: expect.stringMatching(/\S/) }]);
    expect(data.usage.output_tokens).toBe(task.tokens_out);
    expect(data.usage.input_tokens).toBeGreaterThan(0);
  });

  // ORCH-1108 ORCH-1105
  it("streams the same text with the SDK's stream helper, message_delta usage equal to tokens_out", async () => {
    const request = { model: 'demo', max_tokens: 9, messages: hello } as const;
    const whole = await client().messages.create(request);
    const { data: stream, response } = await client().messages.create({ ...request, stream: true }).withResponse();
    const kinds: string[] = [];
    let text = '';
    let outputTokens: number | undefined;
    for await (const event of stream) {
      kinds.push(event.type);
      if (event.type === 'content_block_delta' && event.delta.type === 'text_delta') text += event.delta.text;
      if (event.type === 'message_delta') outputTokens = event.usage.output_tokens;
    }
    const task = await taskView(gw, response.headers.get('x-task-id'));
    expect(text).toBe(textOf(whole.content));
    expect(outputTokens).toBe(task.tokens_out);
    expect(kinds[0]).toBe('message_start');
    expect(kinds.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);

    const helper = client().messages.stream(request);
    const final = await helper.finalMessage();
    expect(textOf(final.content)).toBe(textOf(whole.content));
    expect(final.usage.output_tokens).toBe(9);
  });

  // ORCH-1108
  it('ends the answer at a stop sequence, before max_tokens, naming it', async () => {
    const request = { model: 'demo', max_tokens: 12, messages: hello } as const;
    const whole = textOf((await client().messages.create(request)).content);
    const words = whole.trim().split(/\s+/);
    const stop = words[3] ?? '';
    expect(stop).not.toBe('');
    const cut = await client().messages.create({ ...request, stop_sequences: ['never appears', stop] });
    // The mock engine names the stop it matched, as llama.cpp and vLLM do.
    expect(cut).toMatchObject({ stop_reason: 'stop_sequence', stop_sequence: stop });
    expect(textOf(cut.content).length).toBeLessThan(whole.length);
    expect(whole.startsWith(textOf(cut.content))).toBe(true);
  });

  // ORCH-1108 ORCH-1105
  it('round-trips a tool call: tool_use, then a tool_result block, then a text answer', async () => {
    const ask: MessageParam[] = [{ role: 'user', content: 'Use get_weather for Paris, please.' }];
    const { data: first, response } = await client().messages.create({ model: 'demo', max_tokens: 64, tools: [weather], messages: ask }).withResponse();
    expect(first.stop_reason).toBe('tool_use');
    const uses = first.content.filter((b) => b.type === 'tool_use');
    expect(uses).toHaveLength(1);
    const use = uses[0];
    if (use?.type !== 'tool_use') throw new Error('expected a tool_use block');
    expect(use).toMatchObject({ name: 'get_weather', input: { city: expect.any(String) } });
    expect(use.id).toMatch(/\S/);
    const callTask = await taskView(gw, response.headers.get('x-task-id'));
    expect(first.usage.output_tokens).toBe(callTask.tokens_out);

    const answered = await client().messages.create({
      model: 'demo',
      max_tokens: 6,
      tools: [weather],
      messages: [...ask, { role: 'assistant', content: first.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18°C and clear' }] }],
    });
    expect(answered.stop_reason).toBe('max_tokens');
    expect(answered.content.map((b) => b.type)).toEqual(['text']);
  });

  // ORCH-1108
  it("assembles a streamed tool_use with the SDK's stream helper under tool_choice any", async () => {
    const final = await client()
      .messages.stream({ model: 'demo', max_tokens: 64, tools: [weather], tool_choice: { type: 'any' }, messages: [{ role: 'user', content: 'Weather in Oslo?' }] })
      .finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content).toEqual([expect.objectContaining({ type: 'tool_use', name: 'get_weather', input: { city: expect.any(String) } })]);
  });
});

describe('an SDK abort cancels the task', () => {
  // ORCH-1104
  it('ends a task canceled (client_disconnect) within a few ms of an AbortController abort mid-stream', async () => {
    const controller = new AbortController();
    const { data: stream, response } = await client()
      .messages.create({ model: 'slow', max_tokens: 200, messages: hello, stream: true }, { signal: controller.signal })
      .withResponse();
    const taskId = response.headers.get('x-task-id');
    let deltas = 0;
    let abortedAtMs = 0;
    const consume = async () => {
      for await (const event of stream) {
        if (event.type === 'content_block_delta') deltas += 1;
        if (deltas === 2 && abortedAtMs === 0) {
          abortedAtMs = performance.now();
          controller.abort();
        }
      }
    };
    // The SDK either ends the iteration or throws its abort error; both are an abort.
    await consume().catch((e: unknown) => expect(e).toBeInstanceOf(Anthropic.APIUserAbortError));
    expect(deltas).toBe(2);
    const { atMs, fact } = await facts.finishedOf(String(taskId));
    expect(fact).toMatchObject({ state: 'canceled', cancel_reason: 'client_disconnect' });
    const lagMs = atMs - abortedAtMs;
    expect(lagMs, `cancel observed ${lagMs.toFixed(1)} ms after the abort`).toBeLessThan(250);
    expect(await taskView(gw, taskId)).toMatchObject({ state: 'canceled', finish_reason: 'canceled' });
  });
});

describe('keys, refusals and backoff headers', () => {
  // ORCH-1108 ORCH-1103
  it('accepts the data key as x-api-key and as a bearer token, and refuses a missing key with 401 in the Anthropic envelope', async () => {
    const guarded = await startGateway(testConfig({ auth: { data_tokens: ['data-secret'], control_tokens: [] } }));
    try {
      const viaApiKey = await anthropicClient(guarded, { fetch: transport.fetch, apiKey: 'data-secret' }).messages.create({ model: 'demo', max_tokens: 2, messages: hello });
      expect(viaApiKey.usage.output_tokens).toBe(2);
      const viaBearer = await anthropicClient(guarded, { fetch: transport.fetch, apiKey: null, authToken: 'data-secret' }).messages.create({ model: 'demo', max_tokens: 2, messages: hello });
      expect(viaBearer.usage.output_tokens).toBe(2);
      const res = await guarded.post('/v1/messages', { model: 'demo', max_tokens: 2, messages: hello }, { 'x-correlation-id': 'no-key-1' });
      expect(res.status).toBe(401);
      expect(res.headers['x-correlation-id']).toBe('no-key-1');
      expect(res.body).toEqual({ type: 'error', error: { type: 'authentication_error', message: expect.any(String) }, request_id: 'no-key-1' });
      const wrong = await anthropicClient(guarded, { fetch: transport.fetch, apiKey: 'wrong' }).messages.create({ model: 'demo', max_tokens: 2, messages: hello }).then(() => undefined, (e: unknown) => e);
      expect(wrong).toBeInstanceOf(APIError);
      expect((wrong as APIError).status).toBe(401);
      expect(guarded.tasks.size).toBe(2);
    } finally {
      await guarded.close();
    }
  });

  // ORCH-1103
  it('answers a draining pool with 503 overloaded_error, Retry-After and retry-after-ms, keeping X-Correlation-Id', async () => {
    const draining = await startGateway(testConfig());
    try {
      expect((await draining.post('/v1/pools/demo/drain', { deadline_ms: 60_000 })).status).toBe(202);
      const { fetch, attempts } = recordingFetch(transport.fetch);
      const refused = await anthropicClient(draining, { fetch })
        .messages.create({ model: 'demo', max_tokens: 2, messages: hello }, { headers: { 'x-correlation-id': 'drain-1' } })
        .then(() => undefined, (e: unknown) => e);
      expect(refused).toBeInstanceOf(APIError);
      const error = refused as APIError;
      expect(error.status).toBe(503);
      expect(error.error).toEqual({ type: 'error', error: { type: 'overloaded_error', message: expect.any(String) }, request_id: 'drain-1' });
      expect(error.headers?.get('x-correlation-id')).toBe('drain-1');
      expect(error.headers?.get('retry-after-ms')).toBe('5000');
      expect(error.headers?.get('retry-after')).toBe('5');
      expect(attempts).toHaveLength(1);
      expect(draining.tasks.size).toBe(0);
    } finally {
      await draining.close();
    }
  });

  // ORCH-1103
  it('answers a full queue with 429 rate_limit_error and the backoff headers the SDK waits on', async () => {
    const busy = await startGateway(
      testConfig({ pools: [mockPool({ replicas: [{ id: 'mock-0', slots: 1 }], queue: { max_queued: 1 } }, { tokens_per_s: 20 })] }),
    );
    try {
      expect((await busy.post('/v1/tasks', { model: 'demo', prompt: 'occupy', max_tokens: 20 })).status).toBe(202);
      expect((await busy.post('/v1/tasks', { model: 'demo', prompt: 'wait', max_tokens: 2 })).status).toBe(202);
      const { fetch, attempts } = recordingFetch(transport.fetch);
      const answer = await anthropicClient(busy, { fetch, maxRetries: 8 }).messages.create({ model: 'demo', max_tokens: 3, messages: hello });
      expect(answer.usage.output_tokens).toBe(3);
      expect(attempts[0]?.status).toBe(429);
      expect(attempts.at(-1)?.status).toBe(200);
      for (let i = 1; i < attempts.length; i++) {
        const previous = attempts[i - 1];
        const current = attempts[i];
        if (previous === undefined || current === undefined) throw new Error('unreachable');
        const advertisedMs = Number(previous.retryAfterMs);
        expect(advertisedMs).toBeGreaterThan(0);
        expect(current.sentAtMs - previous.answeredAtMs).toBeGreaterThanOrEqual(advertisedMs - 1);
      }
    } finally {
      await busy.close();
    }
  });
});
