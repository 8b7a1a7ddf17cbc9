import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { asEngineError, drain, quickInit, tokenTexts } from '../../../test/support/adapter-test-kit.ts';
import { FAKE_TOOL_ARGUMENTS, startOpenAiFake, type OpenAiFake } from '../../../test/fakes/openai/fake.ts';
import type { CanonicalRequest, ChatCanonicalRequest, WorkerAdapter } from '../contract.ts';
import { createOpenAiAdapter } from './adapter.ts';

const never = new AbortController().signal;
const KEY_ENV = 'ORCHQUEUE_TEST_OPENAI_KEY';
const KEY = 'sk-test-openai-0123456789';

const req = (over: Partial<CanonicalRequest> = {}): CanonicalRequest => ({ taskId: 't1', model: 'fake-model', prompt: 'Say hello to Zürich 🙂', maxTokens: 5, ...over });
const chatReq = (over: Partial<ChatCanonicalRequest['chat']> = {}): ChatCanonicalRequest => ({
  ...req(),
  chat: { messages: [{ role: 'user', content: [{ type: 'text', text: 'weather?' }] }], tools: [], toolChoice: { type: 'auto' }, responseFormat: { type: 'text' }, ...over },
});

function adapterFor(url: string, options: Record<string, unknown> = {}): WorkerAdapter {
  const init = quickInit(url);
  return createOpenAiAdapter({ ...init, options: { ...init.options, api_key: { env: KEY_ENV }, ...options }, slots: 4 });
}

describe('openai provider adapter against the OpenAI-flavoured fake', () => {
  let fake: OpenAiFake;
  let adapter: WorkerAdapter;

  beforeAll(async () => {
    process.env[KEY_ENV] = KEY;
    fake = await startOpenAiFake({ apiKey: KEY, cachedTokens: 3 });
    adapter = adapterFor(fake.baseUrl);
  });
  afterAll(async () => {
    await adapter.close();
    await fake.close();
  });
  afterEach(async () => {
    process.env[KEY_ENV] = KEY;
    await fake.setMode('ready');
    fake.configure({ remainingRequests: 500, eosAfterTokens: undefined, splitChunks: false, keepAliveEvery: 0 });
  });

  it('sends the completion workload as one user message with the key, and ends with usage including cached tokens', async () => {
    const { events, error } = await drain(adapter.stream(req(), never));
    expect(error).toBeUndefined();
    expect(tokenTexts(events)).toHaveLength(5);
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'length', promptTokens: expect.any(Number), completionTokens: 5, cachedTokens: 3 });
    const seen = fake.seen.at(-1);
    expect(seen?.path).toBe('/v1/chat/completions');
    expect(seen?.headers['authorization']).toBe(`Bearer ${KEY}`);
    expect(seen?.body).toEqual({ model: 'fake-model', messages: [{ role: 'user', content: req().prompt }], max_tokens: 5, stream: true, stream_options: { include_usage: true } });
  });

  it('sends max_completion_tokens when configured for reasoning models', async () => {
    const other = adapterFor(fake.baseUrl, { max_tokens_field: 'max_completion_tokens' });
    await drain(other.stream(req(), never));
    await other.close();
    expect(fake.seen.at(-1)?.body).toMatchObject({ max_completion_tokens: 5 });
    expect(fake.seen.at(-1)?.body).not.toHaveProperty('max_tokens');
  });

  it('streams a forced tool call as tool_call_delta fragments and ends with tool_calls', async () => {
    const { events, error } = await drain(adapter.stream(chatReq({ tools: [{ name: 'get_weather', parameters: { type: 'object' } }], toolChoice: { type: 'required' } }), never));
    expect(error).toBeUndefined();
    const calls = events.filter((e) => e.type === 'tool_call_delta');
    expect(calls[0]).toMatchObject({ index: 0, id: expect.stringMatching(/^call_/), name: 'get_weather', arguments: '' });
    expect(calls.map((c) => (c.type === 'tool_call_delta' ? c.arguments : '')).join('')).toBe(FAKE_TOOL_ARGUMENTS.join(''));
    expect(events.at(-1)).toMatchObject({ type: 'end', finishReason: 'tool_calls' });
  });

  it('exposes the x-ratelimit budget of the last answer', async () => {
    fake.configure({ remainingRequests: 42 });
    const before = Date.now();
    await drain(adapter.stream(req(), never));
    const limit = adapter.rateLimit?.();
    expect(limit).toMatchObject({ remainingRequests: 41, remainingTokens: 199000 });
    expect(limit?.tokensResetAtMs).toBeGreaterThanOrEqual(before + 360_000);
    expect(limit?.resetAtMs).toBeUndefined();
  });

  it('maps a 429 without Retry-After to REPLICA_EXHAUSTED waiting for the spent budget to reset', async () => {
    fake.configure({ remainingRequests: 0 });
    const err = asEngineError((await drain(adapter.stream(req(), never))).error);
    expect(err.code).toBe('REPLICA_EXHAUSTED');
    expect(err.retryAfterMs).toBeGreaterThanOrEqual(1400);
    expect(err.retryAfterMs).toBeLessThanOrEqual(1500);
    expect(adapter.rateLimit?.()).toMatchObject({ remainingRequests: 0, resetAtMs: expect.any(Number) });
  });

  it.each([
    ['rate-limited', 'REPLICA_EXHAUSTED', 20_000],
    ['overloaded', 'REPLICA_EXHAUSTED', 2_000],
    ['server-error', 'WORKER_RESET', 250],
  ] as const)('maps %s before the first token to a retriable %s with the provider hint', async (mode, code, retryAfterMs) => {
    await fake.setMode(mode);
    const err = asEngineError((await drain(adapter.stream(req(), never))).error);
    expect([err.code, err.retryAfterMs]).toEqual([code, retryAfterMs]);
    expect(err.message).not.toMatch(/server had an error|overloaded or not ready|Rate limit reached/);
  });

  it('maps an in-band error after the first token to WORKER_RESET', async () => {
    await fake.setMode({ kind: 'fail-at-token', at: 2 });
    const { events, error } = await drain(adapter.stream(req(), never));
    expect(tokenTexts(events)).toHaveLength(2);
    expect(asEngineError(error).code).toBe('WORKER_RESET');
  });

  it('survives split chunks and keep-alive comments', async () => {
    const clean = await drain(adapter.stream(req({ maxTokens: 8 }), never));
    fake.configure({ splitChunks: true, keepAliveEvery: 1 });
    const noisy = await drain(adapter.stream(req({ maxTokens: 8 }), never));
    expect(noisy.events.map((e) => e.type)).toEqual(clean.events.map((e) => e.type));
    expect(noisy.error).toBeUndefined();
  });

  it('closes the upstream connection on abort, and the fake sees it', async () => {
    fake.configure({ tokensPerS: 50 });
    const ac = new AbortController();
    const iterator = adapter.stream(req({ maxTokens: 1000 }), ac.signal)[Symbol.asyncIterator]();
    await iterator.next();
    const index = fake.seen.length - 1;
    ac.abort(new Error('client canceled'));
    await expect(iterator.next()).rejects.toThrow('client canceled');
    expect((await fake.settled(index)).aborted).toBe(true);
    fake.configure({ tokensPerS: 0 });
  });

  it('is ready when the model listing answers with the key, and reports configured props', async () => {
    expect(await adapter.health(never)).toEqual({ live: true, ready: true });
    expect(fake.seen.at(-1)?.path).toBe('/v1/models');
    expect(await adapter.props(never)).toEqual({ engineVersion: 'openai-compatible', model: 'fake-model', ctxMax: 128000, slotsTotal: 4, deterministic: false });
  });

  it('is not ready, naming the variable, while the key is missing; a stream is POOL_UNREADY without calling out', async () => {
    delete process.env[KEY_ENV];
    const calls = fake.seen.length;
    expect(await adapter.health(never)).toEqual({ live: true, ready: false, detail: `the API key environment variable ${KEY_ENV} is not set` });
    expect(asEngineError((await drain(adapter.stream(req(), never))).error).code).toBe('POOL_UNREADY');
    expect(fake.seen.length).toBe(calls);
  });

  it('is not ready when the provider refuses the key, and a stream is a non-retriable ENGINE_ERROR', async () => {
    process.env[KEY_ENV] = 'sk-wrong-key-000000';
    expect(await adapter.health(never)).toEqual({ live: true, ready: false, detail: `the provider refused the API key from environment variable ${KEY_ENV} (HTTP 401)` });
    expect(asEngineError((await drain(adapter.stream(req(), never))).error).code).toBe('ENGINE_ERROR');
  });

  it('with health_check credential is ready without calling the provider', async () => {
    const other = adapterFor(fake.baseUrl, { health_check: 'credential' });
    const calls = fake.seen.length;
    expect(await other.health(never)).toEqual({ live: true, ready: true });
    expect(fake.seen.length).toBe(calls);
    await other.close();
  });

  it('refuses an inline key and credential headers at construction', () => {
    expect(() => adapterFor(fake.baseUrl, { api_key: 'sk-inline' })).toThrow(/invalid openai replica options at \/api_key/);
    expect(() => adapterFor(fake.baseUrl, { headers: { Authorization: 'Bearer sk-inline' } })).toThrow(/\/headers\/Authorization: credentials go in api_key/);
  });
});

describe('openai provider adapter against the OpenRouter-flavoured fake', () => {
  let fake: OpenAiFake;
  let adapter: WorkerAdapter;

  beforeAll(async () => {
    process.env[KEY_ENV] = KEY;
    fake = await startOpenAiFake({ apiKey: KEY, flavour: 'openrouter', costPerToken: 0.00001 });
    adapter = adapterFor(fake.baseUrl, { headers: { 'HTTP-Referer': 'https://example.org', 'X-Title': 'OrchQueue' } });
  });
  afterAll(async () => {
    await adapter.close();
    await fake.close();
  });
  afterEach(async () => {
    await fake.setMode('ready');
  });

  it('skips OPENROUTER PROCESSING comments, reads the trailing usage chunk with its cost, and sends the attribution headers', async () => {
    const { events, error } = await drain(adapter.stream(req({ maxTokens: 4 }), never));
    expect(error).toBeUndefined();
    expect(tokenTexts(events)).toHaveLength(4);
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'length', promptTokens: expect.any(Number), completionTokens: 4, cachedTokens: 0, costUsd: 0.00004 });
    const seen = fake.seen.at(-1);
    expect(seen?.path).toBe('/api/v1/chat/completions');
    expect([seen?.headers['http-referer'], seen?.headers['x-title']]).toEqual(['https://example.org', 'OrchQueue']);
    expect(adapter.rateLimit?.()).toBeUndefined();
  });

  it('maps an in-band 502 before the first token to a retriable WORKER_RESET', async () => {
    await fake.setMode('fail-before-first-token');
    const { events, error } = await drain(adapter.stream(req(), never));
    expect(events).toEqual([]);
    const err = asEngineError(error);
    expect(err.code).toBe('WORKER_RESET');
    expect(err.upstreamDetail).toContain('fake engine failure');
  });

  it('maps an OpenRouter 503 to REPLICA_EXHAUSTED with its Retry-After', async () => {
    await fake.setMode('overloaded');
    expect(asEngineError((await drain(adapter.stream(req(), never))).error)).toMatchObject({ code: 'REPLICA_EXHAUSTED', retryAfterMs: 2000 });
  });
});
