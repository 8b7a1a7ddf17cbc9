import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { asEngineError, drain, quickInit } from '../../../test/support/adapter-test-kit.ts';
import { chatConversation, chatRequest, chatText, fakeChatAnswer, toolCallArguments, toolCallStarts } from '../../../test/support/chat-request.ts';
import { startLlamacppFake, type LlamacppFake } from '../../../test/fakes/llamacpp/fake.ts';
import type { ChatCanonicalRequest, WorkerAdapter } from '../contract.ts';
import { createLlamacppAdapter } from './adapter.ts';

const never = new AbortController().signal;
const collect = (adapter: WorkerAdapter, r: ChatCanonicalRequest, signal = never) => drain(adapter.stream(r, signal));
const plain = chatConversation('Bonjour, ça va ?');
const weather = chatConversation('Use get_weather for Zürich');

describe('llama.cpp adapter, chat workload, against the fake engine', () => {
  let fake: LlamacppFake;
  let adapter: WorkerAdapter;

  beforeAll(async () => {
    fake = await startLlamacppFake({ slots: 2, nCtx: 512 });
    adapter = createLlamacppAdapter(quickInit(fake.url, { options: { ...quickInit(fake.url).options, chat_tools: true } }));
  });
  afterAll(async () => {
    await adapter.close();
    await fake.close();
  });
  afterEach(async () => {
    await fake.setMode('ready');
    fake.configure({ eosAfterTokens: undefined, keepAliveEvery: 0, splitChunks: false, unknownKeys: false, errorStyle: 'data', tokensPerS: 0, jinja: true, usageInFinishChunk: false });
  });

  it('streams the answer over /v1/chat/completions and ends with the engine usage and cache reuse', async () => {
    const { events, error } = await collect(adapter, chatRequest(plain));
    expect(error).toBeUndefined();
    expect(chatText(events)).toBe(fakeChatAnswer(plain, 42, 6));
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'length', promptTokens: expect.any(Number), completionTokens: 6, cachedTokens: expect.any(Number) });
    const seen = fake.seen.at(-1);
    expect(seen?.path).toBe('/v1/chat/completions');
    expect(seen?.body).toMatchObject({
      model: 'fake-model',
      messages: [{ role: 'system', content: 'Réponds brièvement 🙂' }, { role: 'user', content: 'Bonjour, ça va ?' }],
      max_tokens: 6,
      seed: 42,
      stream: true,
      stream_options: { include_usage: true },
      id_slot: -1,
      cache_prompt: true,
      tool_choice: 'auto',
    });
  });

  it('reports stop on end-of-sequence and a stop string, and survives split chunks, keep-alives and unknown keys', async () => {
    fake.configure({ eosAfterTokens: 2, splitChunks: true, keepAliveEvery: 1, unknownKeys: true });
    const eos = await collect(adapter, chatRequest(plain, { maxTokens: 10 }));
    expect(chatText(eos.events)).toBe(fakeChatAnswer(plain, 42, 2));
    expect(eos.events.at(-1)).toMatchObject({ finishReason: 'stop', completionTokens: 2 });
    fake.configure({ eosAfterTokens: undefined });
    const full = fakeChatAnswer(plain, 42, 6);
    const second = fakeChatAnswer(plain, 42, 2).slice(fakeChatAnswer(plain, 42, 1).length);
    const word = await collect(adapter, chatRequest(plain, { stop: [second] }));
    expect(chatText(word.events)).toBe(fakeChatAnswer(plain, 42, 1));
    expect(word.events.at(-1)).toMatchObject({ finishReason: 'stop' });
    expect(full.startsWith(chatText(word.events))).toBe(true);
  });

  it('streams a tool call (--jinja) with the engine id and name first, arguments in fragments, then tool_calls', async () => {
    const { events, error } = await collect(adapter, chatRequest(weather, { maxTokens: 50 }));
    expect(error).toBeUndefined();
    const starts = toolCallStarts(events);
    expect(starts).toEqual([{ index: 0, id: expect.stringMatching(/^[\w-]{32}$/), name: 'get_weather' }]);
    expect(Object.keys(JSON.parse(toolCallArguments(events)) as object)).toEqual(['city', 'days']);
    expect(events.filter((e) => e.type === 'token')).toEqual([]);
    expect(events.at(-1)).toMatchObject({ type: 'end', finishReason: 'tool_calls', completionTokens: events.length - 1 });
    expect(fake.seen.at(-1)?.body).toMatchObject({ tools: [{ type: 'function', function: { name: 'get_weather' } }], tool_choice: 'auto' });
  });

  it('reads usage from the finish chunk of older builds', async () => {
    fake.configure({ usageInFinishChunk: true });
    const { events } = await collect(adapter, chatRequest(plain));
    expect(events.at(-1)).toMatchObject({ finishReason: 'length', completionTokens: 6, promptTokens: expect.any(Number) });
  });

  it('maps an in-band error after tokens to WORKER_RESET, in both the data and the legacy error-line shape', async () => {
    for (const errorStyle of ['data', 'legacy'] as const) {
      fake.configure({ errorStyle });
      await fake.setMode({ kind: 'fail-at-token', at: 2 });
      const { events, error } = await collect(adapter, chatRequest(plain));
      expect(chatText(events)).toBe(fakeChatAnswer(plain, 42, 2));
      const err = asEngineError(error);
      expect(err.code).toBe('WORKER_RESET');
      expect(err.upstreamDetail).toContain('fake engine failure mid-stream');
      expect(err.message).not.toContain('fake');
    }
  });

  it('maps no free slot to REPLICA_EXHAUSTED and tools on a server without --jinja to ENGINE_ERROR', async () => {
    await fake.setMode('overloaded');
    const busy = asEngineError((await collect(adapter, chatRequest(plain))).error);
    expect(busy.code).toBe('REPLICA_EXHAUSTED');
    expect(busy.retryAfterMs).toBe(250);
    await fake.setMode('ready');
    fake.configure({ jinja: false });
    const noJinja = asEngineError((await collect(adapter, chatRequest(weather))).error);
    expect(noJinja.code).toBe('ENGINE_ERROR');
    expect(noJinja.upstreamDetail).toContain('--jinja');
  });

  it('maps a conversation longer than the slot context to INVALID_PARAMS', async () => {
    const long = chatConversation('Zürich 🙂 '.repeat(200), { tools: [] });
    expect(asEngineError((await collect(adapter, chatRequest(long))).error).code).toBe('INVALID_PARAMS');
  });

  it('maps a reset mid-stream to WORKER_RESET', async () => {
    await fake.setMode({ kind: 'reset-at-token', at: 3 });
    const { events, error } = await collect(adapter, chatRequest(plain));
    expect(chatText(events)).toBe(fakeChatAnswer(plain, 42, 3));
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
    expect(fake.busySlots()).toBe(0);
  });
});

describe('llama.cpp adapter chat capabilities', () => {
  it('declares json modes always, tools and vision only as configured, and no logprobs', async () => {
    const plainCaps = createLlamacppAdapter(quickInit('http://127.0.0.1:9'));
    const full = createLlamacppAdapter(quickInit('http://127.0.0.1:9', { options: { chat_tools: true, chat_vision: true } }));
    try {
      expect(plainCaps.capabilities.chat).toEqual({ vision: false, tools: false, responseFormat: true, logprobs: false });
      expect(full.capabilities.chat).toEqual({ vision: true, tools: true, responseFormat: true, logprobs: false });
      expect(() => createLlamacppAdapter(quickInit('http://127.0.0.1:9', { options: { chat_tools: 'yes' } }))).toThrow(/chat_tools/);
    } finally {
      await Promise.all([plainCaps.close(), full.close()]);
    }
  });
});
