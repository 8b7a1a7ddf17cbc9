import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { asEngineError, drain, quickInit } from '../../../test/support/adapter-test-kit.ts';
import { chatConversation, chatRequest, chatText, fakeChatAnswer, toolCallArguments, toolCallStarts } from '../../../test/support/chat-request.ts';
import { startVllmFake, type VllmFake } from '../../../test/fakes/vllm/fake.ts';
import type { ChatCanonicalRequest, WorkerAdapter } from '../contract.ts';
import { createVllmAdapter } from './adapter.ts';

const never = new AbortController().signal;
const collect = (adapter: WorkerAdapter, r: ChatCanonicalRequest, signal = never) => drain(adapter.stream(r, signal));
const plain = chatConversation('Bonjour, ça va ?');
const weather = chatConversation('Use get_weather for Zürich');

describe('vLLM adapter, chat workload, against the fake engine', () => {
  let fake: VllmFake;
  let adapter: WorkerAdapter;

  beforeAll(async () => {
    fake = await startVllmFake({ maxModelLen: 512 });
    adapter = createVllmAdapter(quickInit(fake.url, { options: { ...quickInit(fake.url).options, chat_tools: true } }));
  });
  afterAll(async () => {
    await adapter.close();
    await fake.close();
  });
  afterEach(async () => {
    await fake.setMode('ready');
    fake.configure({ eosAfterTokens: undefined, keepAliveEvery: 0, splitChunks: false, unknownKeys: false, errorStyle: 'nested', tokensPerS: 0, promptTokensDetails: false, autoToolChoice: true });
  });

  it('streams the answer over /v1/chat/completions and ends with the usage chunk counts', async () => {
    const { events, error } = await collect(adapter, chatRequest(plain));
    expect(error).toBeUndefined();
    expect(chatText(events)).toBe(fakeChatAnswer(plain, 42, 6));
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'length', promptTokens: expect.any(Number), completionTokens: 6 });
    const seen = fake.seen.at(-1);
    expect(seen?.path).toBe('/v1/chat/completions');
    expect(seen?.body).toEqual({
      model: 'fake-model',
      messages: [{ role: 'system', content: 'Réponds brièvement 🙂' }, { role: 'user', content: 'Bonjour, ça va ?' }],
      max_tokens: 6,
      stream: true,
      stream_options: { include_usage: true },
      seed: 42,
      tools: [{ type: 'function', function: { name: 'get_weather', description: 'Current weather of a city', parameters: plain.tools[0]?.parameters } }],
      tool_choice: 'auto',
    });
    expect(seen?.headers['accept']).toBe('text/event-stream');
  });

  it('reports stop on end-of-sequence, prefix-cache hits as cachedTokens, and survives split chunks and unknown keys', async () => {
    fake.configure({ eosAfterTokens: 3, promptTokensDetails: true, splitChunks: true, unknownKeys: true, keepAliveEvery: 2 });
    await collect(adapter, chatRequest(plain, { maxTokens: 10 }));
    const { events } = await collect(adapter, chatRequest(plain, { maxTokens: 10 }));
    expect(chatText(events)).toBe(fakeChatAnswer(plain, 42, 3));
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'stop', promptTokens: expect.any(Number), completionTokens: 3, cachedTokens: expect.any(Number) });
    const end = events.at(-1);
    expect(end?.type === 'end' && end.cachedTokens).toBeGreaterThan(0);
  });

  it('streams a tool call with vLLM ids, the name before the arguments, and ends with tool_calls', async () => {
    const { events, error } = await collect(adapter, chatRequest(weather, { maxTokens: 50 }));
    expect(error).toBeUndefined();
    expect(toolCallStarts(events)).toEqual([{ index: 0, id: expect.stringMatching(/^chatcmpl-tool-[0-9a-f]{32}$/), name: 'get_weather' }]);
    expect(events[0]).toMatchObject({ type: 'tool_call_delta', arguments: '' });
    expect(Object.keys(JSON.parse(toolCallArguments(events)) as object)).toEqual(['city', 'days']);
    expect(events.at(-1)).toMatchObject({ type: 'end', finishReason: 'tool_calls', completionTokens: expect.any(Number) });
  });

  it('cuts a tool call at max_tokens and ends with length', async () => {
    const { events } = await collect(adapter, chatRequest(weather, { maxTokens: 1 }));
    expect(events.at(-1)).toMatchObject({ finishReason: 'length', completionTokens: 1 });
    expect(() => JSON.parse(toolCallArguments(events)) as unknown).toThrow();
  });

  it('maps tool choice "auto" on a server without --enable-auto-tool-choice to INVALID_PARAMS', async () => {
    fake.configure({ autoToolChoice: false });
    const err = asEngineError((await collect(adapter, chatRequest(weather))).error);
    expect(err.code).toBe('INVALID_PARAMS');
    expect(err.upstreamDetail).toContain('--enable-auto-tool-choice');
    // A named choice needs no parser flag (guided decoding).
    const named = await collect(adapter, chatRequest(chatConversation('Use get_weather', { toolChoice: { type: 'tool', name: 'get_weather' } }), { maxTokens: 50 }));
    expect(named.error).toBeUndefined();
    expect(fake.seen.at(-1)?.body).toMatchObject({ tool_choice: { type: 'function', function: { name: 'get_weather' } } });
  });

  it('maps an in-band error after tokens to WORKER_RESET in both error envelopes', async () => {
    for (const errorStyle of ['nested', 'flat'] as const) {
      fake.configure({ errorStyle });
      await fake.setMode({ kind: 'fail-at-token', at: 2 });
      const { events, error } = await collect(adapter, chatRequest(plain));
      expect(chatText(events)).toBe(fakeChatAnswer(plain, 42, 2));
      const err = asEngineError(error);
      expect(err.code).toBe('WORKER_RESET');
      expect(err.upstreamDetail).toContain('InternalServerError');
    }
  });

  it('maps overload to REPLICA_EXHAUSTED with the engine retry hint and a context overflow to INVALID_PARAMS', async () => {
    await fake.setMode('overloaded');
    const busy = asEngineError((await collect(adapter, chatRequest(plain))).error);
    expect(busy.code).toBe('REPLICA_EXHAUSTED');
    expect(busy.retryAfterMs).toBe(1000);
    await fake.setMode('ready');
    expect(asEngineError((await collect(adapter, chatRequest(plain, { maxTokens: 600 }))).error).code).toBe('INVALID_PARAMS');
  });

  it('maps a reset before the first byte to WORKER_RESET with no events', async () => {
    await fake.setMode({ kind: 'reset-at-token', at: 0 });
    const { events, error } = await collect(adapter, chatRequest(plain));
    expect(events).toEqual([]);
    expect(asEngineError(error).code).toBe('WORKER_RESET');
  });

  // ORCH-0601
  it('aborting mid-stream closes the upstream connection and the fake observes it', async () => {
    fake.configure({ tokensPerS: 100 });
    const ctl = new AbortController();
    const index = fake.seen.length;
    const reason = new Error('client canceled');
    let count = 0;
    await expect(
      (async () => {
        for await (const ev of adapter.stream(chatRequest(plain, { maxTokens: 400 }), ctl.signal)) {
          if (ev.type === 'token' && ++count === 3) ctl.abort(reason);
        }
      })(),
    ).rejects.toBe(reason);
    const seen = await fake.settled(index);
    expect(seen.aborted).toBe(true);
    expect(seen.tokensSent).toBeLessThan(10);
  });
});

describe('vLLM adapter chat capabilities', () => {
  it('declares structured output always, tools and vision only as configured, and no logprobs', async () => {
    const plainCaps = createVllmAdapter(quickInit('http://127.0.0.1:9'));
    const full = createVllmAdapter(quickInit('http://127.0.0.1:9', { options: { chat_tools: true, chat_vision: true } }));
    try {
      expect(plainCaps.capabilities).toEqual({
        slotAffinity: false,
        deterministic: true,
        reportsSlots: false,
        chat: { vision: false, tools: false, responseFormat: true, logprobs: false },
      });
      expect(full.capabilities.chat).toEqual({ vision: true, tools: true, responseFormat: true, logprobs: false });
    } finally {
      await Promise.all([plainCaps.close(), full.close()]);
    }
  });
});
