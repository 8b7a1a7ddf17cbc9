import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { asEngineError, drain, quickInit, tokenTexts } from '../../../test/support/adapter-test-kit.ts';
import { FAKE_TOOL_INPUT, startAnthropicFake, type AnthropicFake } from '../../../test/fakes/anthropic/fake.ts';
import type { CanonicalRequest, ChatCanonicalRequest, WorkerAdapter } from '../contract.ts';
import { createAnthropicAdapter } from './adapter.ts';

const never = new AbortController().signal;
const KEY_ENV = 'ORCHQUEUE_TEST_ANTHROPIC_KEY';
const KEY = 'sk-ant-test-0123456789';

const req = (over: Partial<CanonicalRequest> = {}): CanonicalRequest => ({ taskId: 't1', model: 'fake-model', prompt: 'Say hello to Zürich 🙂', maxTokens: 5, ...over });
const chatReq = (over: Partial<ChatCanonicalRequest['chat']> = {}): ChatCanonicalRequest => ({
  ...req(),
  chat: {
    messages: [{ role: 'system', content: [{ type: 'text', text: 'be brief' }] }, { role: 'user', content: [{ type: 'text', text: 'weather?' }] }],
    tools: [],
    toolChoice: { type: 'auto' },
    responseFormat: { type: 'text' },
    ...over,
  },
});

function adapterFor(url: string, options: Record<string, unknown> = {}): WorkerAdapter {
  const init = quickInit(url);
  return createAnthropicAdapter({ ...init, options: { ...init.options, api_key: { env: KEY_ENV }, ...options }, slots: 3 });
}

describe('anthropic provider adapter against the Messages API fake', () => {
  let fake: AnthropicFake;
  let adapter: WorkerAdapter;

  beforeAll(async () => {
    process.env[KEY_ENV] = KEY;
    fake = await startAnthropicFake({ apiKey: KEY, cacheReadTokens: 4 });
    adapter = adapterFor(fake.url);
  });
  afterAll(async () => {
    await adapter.close();
    await fake.close();
  });
  afterEach(async () => {
    process.env[KEY_ENV] = KEY;
    await fake.setMode('ready');
    fake.configure({ remainingRequests: 50, eosAfterTokens: undefined, splitChunks: false, pingEvery: 0, tokensPerS: 0 });
  });

  it('sends x-api-key and anthropic-version, the completion workload as one user message, and ends with usage including cache reads', async () => {
    const { events, error } = await drain(adapter.stream(req(), never));
    expect(error).toBeUndefined();
    expect(tokenTexts(events)).toHaveLength(5);
    const end = events.at(-1);
    expect(end).toMatchObject({ type: 'end', finishReason: 'length', completionTokens: 5, cachedTokens: 4 });
    // Canonical input includes the cached part (Anthropic's input_tokens does not).
    expect(end?.type === 'end' && (end.promptTokens ?? 0)).toBeGreaterThanOrEqual(5);
    const seen = fake.seen.at(-1);
    expect([seen?.path, seen?.headers['x-api-key'], seen?.headers['anthropic-version'], seen?.headers['authorization']]).toEqual(['/v1/messages', KEY, '2023-06-01', undefined]);
    expect(seen?.body).toEqual({ model: 'fake-model', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'text', text: req().prompt }] }], stream: true });
  });

  it('maps end_turn to stop and stop_sequence to stop, and sends system and stop_sequences', async () => {
    fake.configure({ eosAfterTokens: 2 });
    const { events } = await drain(adapter.stream({ ...chatReq(), maxTokens: 10, stop: ['\n\n'] }, never));
    expect(events.at(-1)).toMatchObject({ finishReason: 'stop', completionTokens: 2 });
    expect(fake.seen.at(-1)?.body).toMatchObject({ system: 'be brief', stop_sequences: ['\n\n'] });
  });

  it('streams a forced tool use as tool_call_delta fragments and ends with tool_calls', async () => {
    const { events, error } = await drain(adapter.stream(chatReq({ tools: [{ name: 'get_weather', parameters: { type: 'object' } }], toolChoice: { type: 'required' } }), never));
    expect(error).toBeUndefined();
    expect(fake.seen.at(-1)?.body).toMatchObject({ tools: [{ name: 'get_weather', input_schema: { type: 'object' } }], tool_choice: { type: 'any' } });
    expect(events[0]).toEqual({ type: 'token', text: 'Checking.' });
    const calls = events.filter((e) => e.type === 'tool_call_delta');
    expect(calls[0]).toMatchObject({ index: 0, id: expect.stringMatching(/^toolu_/), name: 'get_weather', arguments: '' });
    expect(calls.map((c) => (c.type === 'tool_call_delta' ? c.arguments : '')).join('')).toBe(FAKE_TOOL_INPUT.join(''));
    expect(events.at(-1)).toMatchObject({ type: 'end', finishReason: 'tool_calls', completionTokens: 17 });
  });

  it('skips ping events and survives split chunks', async () => {
    const clean = await drain(adapter.stream(req({ maxTokens: 8 }), never));
    fake.configure({ splitChunks: true, pingEvery: 1 });
    const noisy = await drain(adapter.stream(req({ maxTokens: 8 }), never));
    expect(noisy.error).toBeUndefined();
    expect(noisy.events.map((e) => e.type)).toEqual(clean.events.map((e) => e.type));
  });

  it('exposes the anthropic-ratelimit budget of the last answer', async () => {
    fake.configure({ remainingRequests: 9 });
    await drain(adapter.stream(req(), never));
    expect(adapter.rateLimit?.()).toMatchObject({ remainingRequests: 8, remainingTokens: 36900, requestsResetAtMs: expect.any(Number) });
  });

  it.each([
    ['rate-limited', 'REPLICA_EXHAUSTED', 7_000],
    ['overloaded', 'REPLICA_EXHAUSTED', 250],
    ['server-error', 'WORKER_RESET', 250],
  ] as const)('maps %s before the first token to a retriable %s with the provider hint', async (mode, code, retryAfterMs) => {
    await fake.setMode(mode);
    const err = asEngineError((await drain(adapter.stream(req(), never))).error);
    expect([err.code, err.retryAfterMs]).toEqual([code, retryAfterMs]);
    expect(err.upstreamDetail).toMatch(/^HTTP (429|529|500) /);
  });

  it('reports a spent request budget with its reset time', async () => {
    fake.configure({ remainingRequests: 0 });
    const err = asEngineError((await drain(adapter.stream(req(), never))).error);
    expect(err.code).toBe('REPLICA_EXHAUSTED');
    expect(adapter.rateLimit?.()).toMatchObject({ remainingRequests: 0, resetAtMs: expect.any(Number) });
  });

  it('maps event: error before the first token to REPLICA_EXHAUSTED and after it to WORKER_RESET', async () => {
    await fake.setMode('fail-before-first-token');
    expect(asEngineError((await drain(adapter.stream(req(), never))).error)).toMatchObject({ code: 'REPLICA_EXHAUSTED', retryAfterMs: 250 });
    await fake.setMode({ kind: 'fail-at-token', at: 2 });
    const { events, error } = await drain(adapter.stream(req(), never));
    expect(tokenTexts(events)).toHaveLength(2);
    expect(asEngineError(error)).toMatchObject({ code: 'WORKER_RESET', upstreamDetail: 'in-band overloaded_error: Overloaded' });
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
  });

  it('is ready when GET /v1/models answers with the key; not ready naming the file when the key file is missing', async () => {
    expect(await adapter.health(never)).toEqual({ live: true, ready: true });
    expect(fake.seen.at(-1)?.path).toBe('/v1/models');
    const missing = adapterFor(fake.url, { api_key: { file: '/nonexistent/anthropic-key' } });
    expect(await missing.health(never)).toEqual({ live: true, ready: false, detail: 'the API key file /nonexistent/anthropic-key cannot be read' });
    await missing.close();
    expect(await adapter.props(never)).toEqual({ engineVersion: 'anthropic-2023-06-01', model: 'fake-model', ctxMax: 200000, slotsTotal: 3, deterministic: false });
  });

  it('sends configured beta flags and extra headers', async () => {
    const other = adapterFor(fake.url, { anthropic_beta: ['prompt-caching-2024-07-31'], headers: { 'X-Team': 'search' } });
    await drain(other.stream(req(), never));
    await other.close();
    expect([fake.seen.at(-1)?.headers['anthropic-beta'], fake.seen.at(-1)?.headers['x-team']]).toEqual(['prompt-caching-2024-07-31', 'search']);
    expect(() => adapterFor(fake.url, { headers: { 'x-api-key': 'sk-inline' } })).toThrow(/credentials go in api_key/);
  });
});
