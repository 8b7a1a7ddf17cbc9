import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { asEngineError, drain, quickInit, tokenTexts } from '../../../test/support/adapter-test-kit.ts';
import { fakeCompletion, fakeTokenize } from '../../../test/fakes/http/fake-tokens.ts';
import { startGeminiFake, type GeminiFake } from '../../../test/fakes/gemini/fake.ts';
import type { ValidConversation } from '../../core/chat/conversation.ts';
import type { CanonicalEvent, CanonicalRequest, WorkerAdapter } from '../contract.ts';
import { createGeminiAdapter } from './adapter.ts';

const never = new AbortController().signal;
const KEY = 'AIzaSy-test-key-0123456789';
const env = { GEMINI_TEST_KEY: KEY };

const req = (over: Partial<CanonicalRequest> = {}): CanonicalRequest => ({
  taskId: 'task-1',
  model: 'fake-model',
  prompt: 'Tell me about Zürich 🙂',
  maxTokens: 6,
  seed: 42,
  ...over,
});

const weatherTool = { name: 'get_weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } }, required: ['city'] } };

const chat = (over: Partial<ValidConversation> = {}): ValidConversation => ({
  messages: [
    { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
    { role: 'user', content: [{ type: 'text', text: 'Use get_weather for Paris' }] },
  ],
  tools: [weatherTool],
  toolChoice: { type: 'auto' },
  responseFormat: { type: 'text' },
  ...over,
});

const init = (url: string, options: Record<string, unknown> = {}) => {
  const base = quickInit(url);
  return { ...base, options: { ...base.options, api_key: { env: 'GEMINI_TEST_KEY' }, ...options } };
};

const collect = (adapter: WorkerAdapter, r: CanonicalRequest, signal = never) => drain(adapter.stream(r, signal));
const text = (events: CanonicalEvent[]) => tokenTexts(events).join('');

describe('Gemini adapter against the fake provider', () => {
  let fake: GeminiFake;
  let adapter: WorkerAdapter;

  beforeAll(async () => {
    fake = await startGeminiFake({ apiKey: KEY, model: 'fake-model' });
    adapter = createGeminiAdapter(init(fake.url), { env });
  });
  afterAll(async () => {
    await adapter.close();
    await fake.close();
  });
  afterEach(async () => {
    await fake.setMode('ready');
    fake.configure({ splitChunks: false, unknownKeys: false, tokensPerS: 0, eosAfterTokens: undefined, echoKeyInErrors: false });
  });

  it('streams a completion as one user turn and ends with length and usageMetadata counts', async () => {
    const { events, error } = await collect(adapter, req());
    expect(error).toBeUndefined();
    expect(text(events)).toBe(fakeCompletion(req().prompt, 42, 6).join(''));
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'length', promptTokens: fakeTokenize(req().prompt).length, completionTokens: 6 });
  });

  it('calls streamGenerateContent with alt=sse, the key only in x-goog-api-key, and the generation config', async () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await collect(adapter, req({ traceparent: tp, temperature: 0.2, topP: 0.9, stop: ['END'] }));
    const seen = fake.seen.at(-1);
    expect(seen?.path).toBe('/v1beta/models/fake-model:streamGenerateContent?alt=sse');
    expect(seen?.headers['x-goog-api-key']).toBe(KEY);
    expect(seen?.headers['authorization']).toBeUndefined();
    expect(seen?.headers['traceparent']).toBe(tp);
    expect(seen?.body).toEqual({
      contents: [{ role: 'user', parts: [{ text: req().prompt }] }],
      generationConfig: { maxOutputTokens: 6, temperature: 0.2, topP: 0.9, stopSequences: ['END'], seed: 42 },
    });
  });

  it('ends with stop when the model stops early', async () => {
    fake.configure({ eosAfterTokens: 2 });
    const { events } = await collect(adapter, req({ maxTokens: 10 }));
    expect(tokenTexts(events)).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ type: 'end', finishReason: 'stop', completionTokens: 2 });
  });

  it('turns a whole function call into one tool_call_delta with the full arguments and ends with tool_calls', async () => {
    const { events, error } = await collect(adapter, req({ chat: chat() }));
    expect(error).toBeUndefined();
    expect(events).toEqual([
      { type: 'tool_call_delta', index: 0, id: 'call_task-1_0', name: 'get_weather', arguments: '{"city":"fake","days":42}' },
      { type: 'end', finishReason: 'tool_calls', promptTokens: expect.any(Number), completionTokens: 1 },
    ]);
    const body = fake.seen.at(-1)?.body as Record<string, unknown>;
    expect(body['systemInstruction']).toEqual({ parts: [{ text: 'Be brief.' }] });
    expect(body['toolConfig']).toEqual({ functionCallingConfig: { mode: 'AUTO' } });
  });

  it('sends a tool result as a functionResponse in a user turn and streams the answer', async () => {
    const conversation = chat({
      messages: [
        ...chat().messages,
        { role: 'assistant', content: [], toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
        { role: 'tool', toolCallId: 'call_1', content: [{ type: 'text', text: '18°C' }], isError: false },
      ],
    });
    const { events, error } = await collect(adapter, req({ chat: conversation }));
    expect(error).toBeUndefined();
    expect(text(events).length).toBeGreaterThan(0);
    expect(events.at(-1)).toMatchObject({ finishReason: 'length' });
    const body = fake.seen.at(-1)?.body as { contents: unknown[] };
    expect(body.contents.slice(1)).toEqual([
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { output: '18°C' } } }] },
    ]);
  });

  it('survives chunks split inside UTF-8 sequences and ignores unknown keys', async () => {
    const clean = await collect(adapter, req({ maxTokens: 12 }));
    fake.configure({ splitChunks: true, unknownKeys: true });
    const noisy = await collect(adapter, req({ maxTokens: 12 }));
    expect(noisy.error).toBeUndefined();
    expect(noisy.events).toEqual(clean.events);
  });

  it('maps 429 RESOURCE_EXHAUSTED to REPLICA_EXHAUSTED with the RetryInfo delay', async () => {
    await fake.setMode('overloaded');
    const err = asEngineError((await collect(adapter, req())).error);
    expect(err).toMatchObject({ code: 'REPLICA_EXHAUSTED', retryAfterMs: 2000, upstreamStatus: 429 });
    expect(err.upstreamDetail).toContain('RESOURCE_EXHAUSTED');
    expect(err.message).not.toContain('quota');
  });

  it('maps 503 UNAVAILABLE to REPLICA_EXHAUSTED with the default hint and 500 INTERNAL to a retriable WORKER_RESET', async () => {
    await fake.setMode('unavailable');
    expect(asEngineError((await collect(adapter, req())).error)).toMatchObject({ code: 'REPLICA_EXHAUSTED', retryAfterMs: 250 });
    await fake.setMode('fail-before-first-token');
    expect(asEngineError((await collect(adapter, req())).error)).toMatchObject({ code: 'WORKER_RESET', upstreamStatus: 500 });
  });

  it('maps an error event after tokens and a reset mid-stream to WORKER_RESET', async () => {
    await fake.setMode({ kind: 'fail-at-token', at: 2 });
    const inBand = await collect(adapter, req());
    expect(tokenTexts(inBand.events)).toHaveLength(2);
    expect(asEngineError(inBand.error).code).toBe('WORKER_RESET');
    await fake.setMode({ kind: 'reset-at-token', at: 3 });
    const reset = await collect(adapter, req());
    expect(tokenTexts(reset.events)).toHaveLength(3);
    expect(asEngineError(reset.error).code).toBe('WORKER_RESET');
  });

  it('maps an unknown model to ENGINE_ERROR', async () => {
    expect(asEngineError((await collect(adapter, req({ model: 'other' }))).error).code).toBe('ENGINE_ERROR');
  });

  it('refuses an image URL naming the field, before calling the provider', async () => {
    const before = fake.seen.length;
    const conversation = chat({ tools: [], messages: [{ role: 'user', content: [{ type: 'image', source: { kind: 'url', url: 'https://example.com/a.png' } }] }] });
    const err = asEngineError((await collect(adapter, req({ chat: conversation }))).error);
    expect(err.code).toBe('INVALID_PARAMS');
    expect(err.message).toContain('messages[0].content[0]');
    expect(fake.seen.length).toBe(before);
  });

  it('reads the model limits with models.get and reports the configured concurrency', async () => {
    expect(await adapter.health(never)).toEqual({ live: true, ready: true });
    expect(await adapter.props(never)).toEqual({ engineVersion: '001', model: 'fake-model', ctxMax: 1_048_576 + 8192, slotsTotal: 16, deterministic: false });
    expect(adapter.capabilities.chat).toEqual({ vision: true, tools: true, responseFormat: true, logprobs: false });
  });

  it('lists the models that serve generateContent across every models.list page', async () => {
    fake.configure({ listPageCap: 1 });
    const before = fake.seen.length;
    expect(await adapter.models?.(never)).toEqual(['fake-model', 'gemini-fake-pro']);
    expect(fake.seen.slice(before).map((s) => s.path)).toEqual([
      '/v1beta/models?pageSize=1000',
      expect.stringMatching(/^\/v1beta\/models\?pageSize=1000&pageToken=/),
      expect.stringMatching(/^\/v1beta\/models\?pageSize=1000&pageToken=/),
    ]);
    fake.configure({ listPageCap: 1000 });
  });

  // ORCH-0601
  it('aborting after 3 tokens closes the connection and the fake observes it', async () => {
    fake.configure({ tokensPerS: 100 });
    const ctl = new AbortController();
    const index = fake.seen.length;
    const reason = new Error('client canceled');
    let count = 0;
    await expect(
      (async () => {
        for await (const ev of adapter.stream(req({ maxTokens: 400 }), ctl.signal)) {
          if (ev.type === 'token' && ++count === 3) ctl.abort(reason);
        }
      })(),
    ).rejects.toBe(reason);
    const seen = await fake.settled(index);
    expect(seen.aborted).toBe(true);
    expect(seen.tokensSent).toBeLessThan(400);
  });
});

describe('Gemini credentials', () => {
  it('is not ready, naming the variable, when the key is not set; props and stream refuse without calling', async () => {
    const fake = await startGeminiFake({ apiKey: KEY, model: 'fake-model' });
    const adapter = createGeminiAdapter(init(fake.url), { env: {} });
    try {
      expect(await adapter.health(never)).toEqual({ live: true, ready: false, detail: 'the API key environment variable GEMINI_TEST_KEY is not set' });
      await expect(adapter.props(never)).rejects.toMatchObject({ code: 'POOL_UNREADY' });
      expect(asEngineError((await collect(adapter, req())).error).code).toBe('POOL_UNREADY');
      expect(fake.seen).toHaveLength(0);
    } finally {
      await adapter.close();
      await fake.close();
    }
  });

  it('refuses an inline key at construction without repeating it', () => {
    expect(() => createGeminiAdapter(init('http://127.0.0.1:9', { api_key: KEY }), { env })).toThrow(/invalid gemini replica options at \/api_key/);
    try {
      createGeminiAdapter(init('http://127.0.0.1:9', { api_key: KEY }), { env });
    } catch (err) {
      expect(String(err)).not.toContain(KEY);
    }
  });

  it('never lets a planted key reach an error, a health detail or a thrown message, even when the upstream echoes it', async () => {
    const PLANTED = 'AIzaSy-PLANTED-secret-7f3a9c';
    const fake = await startGeminiFake({ apiKey: 'the-right-key', model: 'fake-model', echoKeyInErrors: true });
    const wrongKey = createGeminiAdapter(init(fake.url), { env: { GEMINI_TEST_KEY: PLANTED } });
    const rightKeyWrongModel = createGeminiAdapter({ ...init(fake.url), model: 'missing-model' }, { env: { GEMINI_TEST_KEY: 'the-right-key' } });
    const texts: string[] = [];
    const record = (value: unknown) => {
      if (value instanceof Error) {
        const e = value as Error & { upstreamDetail?: string; cause?: unknown };
        texts.push(e.message, String(e), e.upstreamDetail ?? '', JSON.stringify(e), String(e.cause ?? ''), e.stack ?? '');
      } else texts.push(JSON.stringify(value));
    };
    try {
      const stream = await collect(wrongKey, req());
      expect(asEngineError(stream.error).code).toBe('ENGINE_ERROR');
      expect(asEngineError(stream.error).upstreamDetail).toContain('[redacted]');
      record(stream.error);
      const health = await wrongKey.health(never);
      expect(health.ready).toBe(false);
      record(health);
      await wrongKey.props(never).catch(record);
      for (const mode of ['overloaded', 'unavailable', 'fail-before-first-token'] as const) {
        await fake.setMode(mode);
        record((await collect(wrongKey, req())).error);
      }
      record((await collect(rightKeyWrongModel, req({ model: 'missing-model' }))).error);
      expect(fake.seen.some((s) => s.headers['x-goog-api-key'] === PLANTED)).toBe(true);
      expect(texts.length).toBeGreaterThan(10);
      for (const t of texts) expect(t).not.toContain(PLANTED);
    } finally {
      await wrongKey.close();
      await rightKeyWrongModel.close();
      await fake.close();
    }
  });
});
