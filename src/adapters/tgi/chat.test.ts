import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asEngineError, drain, quickInit } from '../../../test/support/adapter-test-kit.ts';
import { chatConversation, chatRequest, chatText, fakeChatAnswer, toolCallArguments, toolCallStarts } from '../../../test/support/chat-request.ts';
import { startTgiFake, type TgiFake, type TgiFakeOptions } from '../../../test/fakes/tgi/fake.ts';
import type { ChatCanonicalRequest, WorkerAdapter } from '../contract.ts';
import { createTgiAdapter } from './adapter.ts';

const never = new AbortController().signal;
const collect = (adapter: WorkerAdapter, r: ChatCanonicalRequest, signal = never) => drain(adapter.stream(r, signal));
const plain = chatConversation('Bonjour, ça va ?', { tools: [] });
const weather = chatConversation('Use get_weather for Zürich');
const schema = { type: 'object', properties: { answer: { type: 'string' } } };

async function withFake(opts: TgiFakeOptions, body: (fake: TgiFake, adapter: WorkerAdapter) => Promise<void>): Promise<void> {
  const fake = await startTgiFake(opts);
  const adapter = createTgiAdapter(quickInit(fake.url));
  try {
    await body(fake, adapter);
  } finally {
    await adapter.close();
    await fake.close();
  }
}

describe('TGI adapter, chat workload, against the fake engine', () => {
  let fake: TgiFake;
  let adapter: WorkerAdapter;

  beforeAll(async () => {
    fake = await startTgiFake({ splitChunks: true, keepAliveEvery: 2 });
    adapter = createTgiAdapter(quickInit(fake.url));
  });
  afterAll(async () => {
    await adapter.close();
    await fake.close();
  });

  it('streams the answer over the Messages API with the base model and ends with the usage chunk counts', async () => {
    const { events, error } = await collect(adapter, chatRequest(plain, { topP: 1, temperature: 0 }));
    expect(error).toBeUndefined();
    expect(chatText(events)).toBe(fakeChatAnswer(plain, 42, 6));
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'length', promptTokens: expect.any(Number), completionTokens: 6 });
    const seen = fake.seen.at(-1);
    expect(seen?.path).toBe('/v1/chat/completions');
    // top_p 1.0 is refused by TGI and means no cut: left out; temperature 0 is TGI's greedy.
    expect(seen?.body).toEqual({
      model: 'tgi',
      messages: [{ role: 'system', content: 'Réponds brièvement 🙂' }, { role: 'user', content: 'Bonjour, ça va ?' }],
      max_tokens: 6,
      stream: true,
      stream_options: { include_usage: true },
      seed: 42,
      temperature: 0,
    });
  });

  it('streams a tool call under a minted id (TGI numbers calls "0" in every answer) and ends with tool_calls', async () => {
    const { events, error } = await collect(adapter, chatRequest(weather, { maxTokens: 50 }));
    expect(error).toBeUndefined();
    expect(toolCallStarts(events)).toEqual([{ index: 0, id: 'call_task-1_0', name: 'get_weather' }]);
    expect(Object.keys(JSON.parse(toolCallArguments(events)) as object)).toEqual(['city', 'days']);
    expect(events.at(-1)).toMatchObject({ type: 'end', finishReason: 'tool_calls', completionTokens: events.length - 1 });
    expect(fake.seen.at(-1)?.body).not.toHaveProperty('parallel_tool_calls');
  });

  it('sends response_format as TGI grammar and gets text back', async () => {
    const jsonSchema = chatConversation('Answer in JSON', { tools: [], responseFormat: { type: 'json_schema', name: 'reply', schema, strict: true } });
    expect((await collect(adapter, chatRequest(jsonSchema))).error).toBeUndefined();
    expect(fake.seen.at(-1)?.body).toMatchObject({ response_format: { type: 'json_schema', value: { name: 'reply', schema } } });
    const jsonObject = chatConversation('Answer in JSON', { tools: [], responseFormat: { type: 'json_object' } });
    expect((await collect(adapter, chatRequest(jsonObject))).error).toBeUndefined();
    expect(fake.seen.at(-1)?.body).toMatchObject({ response_format: { type: 'json_object', value: { type: 'object' } } });
  });

  it('maps TGI refusing tools together with a response format (HTTP 422 tool_error) to INVALID_PARAMS', async () => {
    const both = chatConversation('Use get_weather', { responseFormat: { type: 'json_object' } });
    const err = asEngineError((await collect(adapter, chatRequest(both))).error);
    expect(err.code).toBe('INVALID_PARAMS');
    expect(err.upstreamStatus).toBe(422);
    expect(err.upstreamDetail).toContain('mutually exclusive');
  });

  it('maps an in-band validation error (status hard-coded 422) before any token to INVALID_PARAMS', async () => {
    const err = asEngineError((await collect(adapter, chatRequest(plain, { stop: ['a', 'b', 'c', 'd', 'e'] }))).error);
    expect(err.code).toBe('INVALID_PARAMS');
    expect(err.upstreamDetail).toContain('stop sequences');
  });

  it('reports eos_token and stop_sequence as stop; a stop sequence is kept in the text as TGI does', async () => {
    const answer = fakeChatAnswer(plain, 42, 3);
    const last = answer.slice(fakeChatAnswer(plain, 42, 2).length);
    const { events } = await collect(adapter, chatRequest(plain, { stop: [last] }));
    expect(chatText(events)).toBe(answer);
    expect(events.at(-1)).toMatchObject({ finishReason: 'stop', completionTokens: 3 });
    await withFake({ eosAfterTokens: 2 }, async (_eosFake, eosAdapter) => {
      const eos = await collect(eosAdapter, chatRequest(plain, { maxTokens: 10 }));
      expect(chatText(eos.events)).toBe(fakeChatAnswer(plain, 42, 2));
      expect(eos.events.at(-1)).toMatchObject({ finishReason: 'stop', completionTokens: 2 });
    });
  });
});

describe('TGI adapter, chat workload failures', () => {
  it('maps in-band overload before the first token to REPLICA_EXHAUSTED with the configured backoff', async () => {
    await withFake({ mode: 'overloaded' }, async (_fake, adapter) => {
      const err = asEngineError((await collect(adapter, chatRequest(plain))).error);
      expect(err.code).toBe('REPLICA_EXHAUSTED');
      expect(err.retryAfterMs).toBe(250);
    });
  });

  it('maps in-band generation failures to WORKER_RESET, before and after the first token', async () => {
    await withFake({ mode: 'fail-before-first-token' }, async (_fake, adapter) => {
      const { events, error } = await collect(adapter, chatRequest(plain));
      expect(events).toEqual([]);
      expect(asEngineError(error).code).toBe('WORKER_RESET');
    });
    await withFake({ mode: { kind: 'fail-at-token', at: 2 } }, async (_fake, adapter) => {
      const { events, error } = await collect(adapter, chatRequest(plain));
      expect(chatText(events)).toBe(fakeChatAnswer(plain, 42, 2));
      const err = asEngineError(error);
      expect(err.code).toBe('WORKER_RESET');
      expect(err.message).toBe('the TGI stream failed after 2 tokens');
    });
  });

  it('maps a connection cut mid-stream to WORKER_RESET', async () => {
    await withFake({ mode: { kind: 'reset-at-token', at: 3 } }, async (_fake, adapter) => {
      const { events, error } = await collect(adapter, chatRequest(plain));
      expect(chatText(events)).toBe(fakeChatAnswer(plain, 42, 3));
      expect(asEngineError(error).code).toBe('WORKER_RESET');
    });
  });

  // ORCH-0601
  it('aborting mid-stream closes the upstream connection and the fake observes it', async () => {
    await withFake({ tokensPerS: 100 }, async (fake, adapter) => {
      const ctl = new AbortController();
      const reason = new Error('client canceled');
      let count = 0;
      await expect(
        (async () => {
          for await (const ev of adapter.stream(chatRequest(plain, { maxTokens: 400 }), ctl.signal)) {
            if (ev.type === 'token' && ++count === 3) ctl.abort(reason);
          }
        })(),
      ).rejects.toBe(reason);
      const seen = await fake.settled(0);
      expect(seen.aborted).toBe(true);
      expect(seen.tokensSent).toBeLessThan(10);
    });
  });

  it('declares tools and json modes always, vision only as configured, and no logprobs', async () => {
    const plainCaps = createTgiAdapter(quickInit('http://127.0.0.1:9'));
    const vision = createTgiAdapter(quickInit('http://127.0.0.1:9', { options: { chat_vision: true } }));
    try {
      expect(plainCaps.capabilities.chat).toEqual({ vision: false, tools: true, responseFormat: true, logprobs: false });
      expect(vision.capabilities.chat).toEqual({ vision: true, tools: true, responseFormat: true, logprobs: false });
    } finally {
      await Promise.all([plainCaps.close(), vision.close()]);
    }
  });
});
