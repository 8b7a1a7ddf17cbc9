// The official `openai` SDK, unmodified, against a real gateway on an ephemeral port with the
// built-in mock engine behind it (issue 11): chat and legacy completions, streaming and not,
// a tool round trip, an SDK abort that cancels the task, the SDK's own retry on a full queue,
// and the model list. Usage is checked against the task's own record.

import { APIError, APIUserAbortError } from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionTool } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientTransport, factRecorder, metricValue, openAiClient, recordingFetch, taskView } from '../support/dialect-clients.ts';
import { mockPool, startGateway, testConfig, type TestGateway } from '../support/gateway.ts';
import { createTestDatabase, databaseUrl } from './audit-backends.ts';

const facts = factRecorder();
const transport = clientTransport();
let gw: TestGateway;
let db: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  db = await createTestDatabase();
  gw = await startGateway(
    testConfig({
      audit: { backend: 'postgres', database_url: databaseUrl(db.name) },
      pools: [
        mockPool({ aliases: ['demo-latest', 'house-model'] }),
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
  await db?.drop();
});

const client = (opts: Parameters<typeof openAiClient>[1] = {}) => openAiClient(gw, { fetch: transport.fetch, ...opts });
const hello: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Say hello to the queue.' }];
const weather: ChatCompletionTool = {
  type: 'function',
  function: { name: 'get_weather', description: 'current weather', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};

describe('OpenAI chat completions through the SDK', () => {
  // ORCH-1100 ORCH-1105
  it('answers a non-streaming chat with usage equal to the task tokens_out, the task readable by its X-Task-Id', async () => {
    const { data, response } = await client().chat.completions.create({ model: 'demo', messages: hello, max_tokens: 7, seed: 11 }).withResponse();
    const task = await taskView(gw, response.headers.get('x-task-id'));
    expect(task).toMatchObject({ state: 'completed', tokens_out: 7, finish_reason: 'length' });
    expect(data.object).toBe('chat.completion');
    expect(data.id).toBe(`chatcmpl-${task.task_id}`);
    expect(data.model).toBe('demo');
    expect(data.choices).toHaveLength(1);
    expect(data.choices[0]).toMatchObject({ index: 0, finish_reason: 'length', message: { role: 'assistant' } });
    expect(data.choices[0]?.message.content).toEqual(expect.stringMatching(/\S/));
    expect(data.usage?.completion_tokens).toBe(task.tokens_out);
    expect(data.usage?.total_tokens).toBe((data.usage?.prompt_tokens ?? NaN) + task.tokens_out);
  });

  // ORCH-1100 ORCH-1105
  it('streams chunks whose text equals the non-streaming answer for the same seed, then a usage chunk equal to tokens_out', async () => {
    const request = { model: 'demo', messages: hello, max_tokens: 9, seed: 5 } as const;
    const whole = await client().chat.completions.create(request);
    const { data: stream, response } = await client()
      .chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    let text = '';
    const finishes: Array<string | null> = [];
    const usages = [];
    for await (const chunk of stream) {
      expect(chunk.object).toBe('chat.completion.chunk');
      for (const choice of chunk.choices) {
        text += choice.delta.content ?? '';
        finishes.push(choice.finish_reason);
      }
      if (chunk.usage) usages.push(chunk.usage);
    }
    const task = await taskView(gw, response.headers.get('x-task-id'));
    expect(task).toMatchObject({ state: 'completed', tokens_out: 9 });
    expect(text).toBe(whole.choices[0]?.message.content);
    expect(finishes.filter((f) => f !== null)).toEqual(['length']);
    expect(usages).toHaveLength(1);
    expect(usages[0]?.completion_tokens).toBe(task.tokens_out);
  });

  // ORCH-1100
  // ORCH-1100
  it('ends finish_reason stop at a stop sequence, streaming and not, with no field naming it (OpenAI has none)', async () => {
    const request = { model: 'demo', messages: hello, max_tokens: 12, seed: 3 } as const;
    const words = (await client().chat.completions.create(request)).choices[0]?.message.content?.trim().split(/\s+/) ?? [];
    const stop = words[3] ?? '';
    expect(stop).not.toBe('');
    const { data, response } = await client().chat.completions.create({ ...request, stop: [stop] }).withResponse();
    expect(Object.keys(data.choices[0] ?? {}).sort()).toEqual(['finish_reason', 'index', 'logprobs', 'message']);
    expect(data.choices[0]?.finish_reason).toBe('stop');
    // The task names the stop; the OpenAI body has nowhere to say it.
    expect(await taskView(gw, response.headers.get('x-task-id'))).toMatchObject({ finish_reason: 'stop', stop_sequence: stop });
    const finishes: Array<string | null> = [];
    for await (const chunk of await client().chat.completions.create({ ...request, stop: [stop], stream: true })) {
      for (const choice of chunk.choices) {
        expect(choice).not.toHaveProperty('stop_reason');
        finishes.push(choice.finish_reason);
      }
    }
    expect(finishes.filter((f) => f !== null)).toEqual(['stop']);
  });

  it('applies server.default_max_tokens when the request gives no max_tokens', async () => {
    const { data, response } = await client().chat.completions.create({ model: 'demo', messages: hello }).withResponse();
    const task = await taskView(gw, response.headers.get('x-task-id'));
    expect(task.tokens_out).toBe(gw.config.server.default_max_tokens);
    expect(data.usage?.completion_tokens).toBe(gw.config.server.default_max_tokens);
  });

  // ORCH-1100 ORCH-1105
  it('round-trips a tool call: the assistant calls get_weather, the tool result goes back, the answer is text', async () => {
    const sdk = client();
    const ask: ChatCompletionMessageParam[] = [{ role: 'user', content: 'Use get_weather for Paris, please.' }];
    const { data: first, response } = await sdk.chat.completions.create({ model: 'demo', messages: ask, tools: [weather], max_tokens: 64, seed: 3 }).withResponse();
    const choice = first.choices[0];
    expect(choice?.finish_reason).toBe('tool_calls');
    const calls = choice?.message.tool_calls ?? [];
    expect(calls).toHaveLength(1);
    const call = calls[0];
    if (call?.type !== 'function') throw new Error('expected a function tool call');
    expect(call.function.name).toBe('get_weather');
    expect(call.id).toMatch(/\S/);
    expect(JSON.parse(call.function.arguments)).toEqual({ city: expect.any(String) });
    const callTask = await taskView(gw, response.headers.get('x-task-id'));
    expect(callTask).toMatchObject({ state: 'completed', finish_reason: 'tool_calls' });
    expect(first.usage?.completion_tokens).toBe(callTask.tokens_out);

    const answered = await sdk.chat.completions.create({
      model: 'demo',
      tools: [weather],
      max_tokens: 6,
      messages: [...ask, { role: 'assistant', content: null, tool_calls: calls }, { role: 'tool', tool_call_id: call.id, content: '18°C and clear' }],
    });
    expect(answered.choices[0]?.finish_reason).toBe('length');
    expect(answered.choices[0]?.message.tool_calls ?? []).toEqual([]);
    expect(answered.choices[0]?.message.content).toEqual(expect.stringMatching(/\S/));
  });

  // ORCH-1100
  it("assembles a streamed tool call with the SDK's own stream helper", async () => {
    const stream = client().chat.completions.stream({
      model: 'demo',
      messages: [{ role: 'user', content: 'Weather in Oslo?' }],
      tools: [weather],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      max_tokens: 64,
      seed: 8,
    });
    const final = await stream.finalChatCompletion();
    const call = final.choices[0]?.message.tool_calls?.[0];
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    if (call?.type !== 'function') throw new Error('expected a function tool call');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ city: expect.any(String) });
  });
});

describe('OpenAI legacy completions through the SDK', () => {
  // ORCH-1106 ORCH-1105
  it('answers a non-streaming completion with usage equal to tokens_out', async () => {
    const { data, response } = await client().completions.create({ model: 'demo', prompt: 'Once upon a queue', max_tokens: 6, seed: 2 }).withResponse();
    const task = await taskView(gw, response.headers.get('x-task-id'));
    expect(task).toMatchObject({ state: 'completed', tokens_out: 6 });
    expect(data).toMatchObject({ object: 'text_completion', id: `cmpl-${task.task_id}`, model: 'demo' });
    expect(data.choices[0]).toMatchObject({ index: 0, finish_reason: 'length', text: expect.stringMatching(/\S/) });
    expect(data.usage?.completion_tokens).toBe(task.tokens_out);
  });

  // ORCH-1106 ORCH-1105
  it('streams the same text as the non-streaming completion, with a usage chunk equal to tokens_out', async () => {
    const request = { model: 'demo', prompt: 'Once upon a queue', max_tokens: 8, seed: 4 } as const;
    const whole = await client().completions.create(request);
    const { data: stream, response } = await client().completions.create({ ...request, stream: true, stream_options: { include_usage: true } }).withResponse();
    let text = '';
    let completionTokens: number | undefined;
    for await (const chunk of stream) {
      text += chunk.choices.map((c) => c.text).join('');
      if (chunk.usage) completionTokens = chunk.usage.completion_tokens;
    }
    const task = await taskView(gw, response.headers.get('x-task-id'));
    expect(text).toBe(whole.choices[0]?.text);
    expect(completionTokens).toBe(task.tokens_out);
    expect(task.tokens_out).toBe(8);
  });
});

describe('an SDK abort cancels the task', () => {
  async function terminalAuditRow(taskId: string): Promise<Record<string, unknown> | undefined> {
    for (let i = 0; i < 100; i++) {
      const page = (await gw.get(`/v1/audit?task_id=${taskId}&kind=terminal`)).body as { rows: Array<{ data: Record<string, unknown> }> };
      if (page.rows.length > 0) return page.rows[0]?.data;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return undefined;
  }

  // ORCH-1104
  it('ends a task canceled (client_disconnect) within a few ms of an AbortController abort mid-stream', async () => {
    const metricsBefore = (await gw.get('/metrics')).text;
    const controller = new AbortController();
    const { data: stream, response } = await client()
      .chat.completions.create({ model: 'slow', messages: hello, max_tokens: 200, stream: true }, { signal: controller.signal })
      .withResponse();
    const taskId = response.headers.get('x-task-id');
    let chunks = 0;
    let abortedAtMs = 0;
    // The SDK ends the iteration quietly when its signal aborts the stream.
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta.content) chunks += 1;
      if (chunks === 2 && abortedAtMs === 0) {
        abortedAtMs = performance.now();
        controller.abort();
      }
    }
    expect(chunks).toBe(2);

    const { atMs, fact } = await facts.finishedOf(String(taskId));
    expect(fact).toMatchObject({ state: 'canceled', cancel_reason: 'client_disconnect', finish_reason: 'canceled' });
    expect(fact.tokens_out).toBeLessThan(200);
    // 20 tokens/s: without the cancel this task would run for about ten more seconds.
    const lagMs = atMs - abortedAtMs;
    expect(lagMs, `cancel observed ${lagMs.toFixed(1)} ms after the abort`).toBeLessThan(250);

    expect(await taskView(gw, taskId)).toMatchObject({ state: 'canceled', finish_reason: 'canceled' });
    expect(await terminalAuditRow(String(taskId))).toMatchObject({ state: 'canceled', cancel_reason: 'client_disconnect' });
    const metricsAfter = (await gw.get('/metrics')).text;
    const canceled = (text: string) => metricValue(text, 'orchqueue_tasks_canceled_total', { pool: 'slow', reason: 'client_disconnect' });
    expect(canceled(metricsAfter) - canceled(metricsBefore)).toBe(1);
  });

  // ORCH-1104
  it('cancels a non-streaming request whose client aborts before the answer', async () => {
    const controller = new AbortController();
    const admitted = facts.admitted.length;
    const pending = client().chat.completions.create({ model: 'slow', messages: hello, max_tokens: 200 }, { signal: controller.signal });
    pending.catch(() => undefined);
    // Abort once the task exists (its admission was observed), while it is still decoding.
    for (let i = 0; i < 200 && facts.admitted.length === admitted; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    const taskId = facts.admitted.at(-1)?.task_id;
    await new Promise((resolve) => setTimeout(resolve, 150));
    controller.abort();
    await expect(pending).rejects.toBeInstanceOf(APIUserAbortError);
    const { fact } = await facts.finishedOf(String(taskId));
    expect(fact).toMatchObject({ state: 'canceled', cancel_reason: 'client_disconnect' });
    expect(await taskView(gw, taskId ?? null)).toMatchObject({ state: 'canceled' });
  });
});

describe('a task canceled by someone else', () => {
  it('answers the waiting non-streaming client 409 TASK_CANCELED (the SDK sees an APIError, not a 500)', async () => {
    const admitted = facts.admitted.length;
    const pending = client({ maxRetries: 0 }).chat.completions.create({ model: 'slow', messages: hello, max_tokens: 200 });
    pending.catch(() => undefined);
    for (let i = 0; i < 200 && facts.admitted.length === admitted; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    const taskId = String(facts.admitted.at(-1)?.task_id);
    expect((await gw.post(`/v1/tasks/${taskId}/cancel`, {})).status).toBe(200);
    const error = await pending.then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(APIError);
    expect((error as InstanceType<typeof APIError>).status).toBe(409);
    expect((error as InstanceType<typeof APIError>).error).toMatchObject({ code: 'TASK_CANCELED', type: 'invalid_request_error' });
    expect(await taskView(gw, taskId)).toMatchObject({ state: 'canceled' });
  });
});

describe('GET /v1/models through the SDK', () => {
  // ORCH-1107
  it('lists every configured model and alias with its pool, engine and chat capabilities', async () => {
    const models = [];
    for await (const model of client().models.list()) models.push(model);
    expect(models.map((m) => m.id)).toEqual(['demo', 'demo-latest', 'house-model', 'slow']);
    for (const m of models) expect(m).toMatchObject({ object: 'model', owned_by: 'orchqueue' });
    expect(models[1]).toMatchObject({ orchqueue: { pool_id: 'demo', alias_of: 'demo', engine: 'mock', capabilities: { chat: true, tools: true } } });
    const viaAlias = await client().chat.completions.create({ model: 'house-model', messages: hello, max_tokens: 2 });
    expect(viaAlias.model).toBe('house-model');
  });

  // ORCH-1107
  it('answers a data-plane token, and refuses no token with 401 in the OpenAI envelope', async () => {
    const guarded = await startGateway(testConfig({ auth: { data_tokens: ['data-secret'], control_tokens: ['control-secret'] } }));
    try {
      const list = await openAiClient(guarded, { fetch: transport.fetch, apiKey: 'data-secret' }).models.list();
      expect(list.data.map((m) => m.id)).toEqual(['demo']);
      const refused = await openAiClient(guarded, { fetch: transport.fetch, apiKey: 'wrong' }).models.list().then(() => undefined, (e: unknown) => e);
      expect(refused).toBeInstanceOf(APIError);
      expect((refused as APIError).status).toBe(401);
      expect((refused as APIError).error).toMatchObject({ type: 'authentication_error', code: 'UNAUTHORIZED' });
    } finally {
      await guarded.close();
    }
  });
});

describe('a full queue and the SDK retry', () => {
  // ORCH-1103
  it("waits at least the advertised retry-after-ms between the SDK's own attempts, then succeeds", async () => {
    const busy = await startGateway(
      testConfig({ pools: [mockPool({ replicas: [{ id: 'mock-0', slots: 1 }], queue: { max_queued: 1 } }, { tokens_per_s: 20 })] }),
    );
    try {
      // One task holds the only slot for about a second, a second one fills the queue.
      expect((await busy.post('/v1/tasks', { model: 'demo', prompt: 'occupy', max_tokens: 20 })).status).toBe(202);
      expect((await busy.post('/v1/tasks', { model: 'demo', prompt: 'wait', max_tokens: 2 })).status).toBe(202);
      const { fetch, attempts } = recordingFetch(transport.fetch);
      const { data, response } = await openAiClient(busy, { fetch, maxRetries: 8 })
        .chat.completions.create({ model: 'demo', messages: hello, max_tokens: 3 })
        .withResponse();
      expect(data.usage?.completion_tokens).toBe(3);
      expect(response.status).toBe(200);
      expect(attempts.length).toBeGreaterThanOrEqual(2);
      expect(attempts[0]?.status).toBe(429);
      expect(attempts.at(-1)?.status).toBe(200);
      for (let i = 1; i < attempts.length; i++) {
        const previous = attempts[i - 1];
        const current = attempts[i];
        if (previous === undefined || current === undefined) throw new Error('unreachable');
        const advertisedMs = Number(previous.retryAfterMs);
        expect(advertisedMs).toBeGreaterThan(0);
        expect(previous.retryAfter).toBe(String(Math.ceil(advertisedMs / 1000)));
        // From the refusal's arrival to the next attempt; timers never fire early, 1 ms covers rounding.
        expect(current.sentAtMs - previous.answeredAtMs).toBeGreaterThanOrEqual(advertisedMs - 1);
      }
    } finally {
      await busy.close();
    }
  });
});
