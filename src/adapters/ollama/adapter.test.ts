import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { asEngineError, drain, quickInit, tokenTexts } from '../../../test/support/adapter-test-kit.ts';
import { fakeCompletion, fakeTokenize } from '../../../test/fakes/http/fake-tokens.ts';
import { startOllamaFake, type OllamaFake } from '../../../test/fakes/ollama/fake.ts';
import type { ValidConversation } from '../../core/chat/conversation.ts';
import type { CanonicalEvent, CanonicalRequest, WorkerAdapter } from '../contract.ts';
import { createOllamaAdapter } from './adapter.ts';

const never = new AbortController().signal;

const req = (over: Partial<CanonicalRequest> = {}): CanonicalRequest => ({
  taskId: 'task-1',
  model: 'fake-model',
  prompt: 'Tell me about Zürich 🙂',
  maxTokens: 6,
  seed: 42,
  ...over,
});

const chat = (over: Partial<ValidConversation> = {}): ValidConversation => ({
  messages: [
    { role: 'system', content: [{ type: 'text', text: 'Be brief.' }] },
    { role: 'user', content: [{ type: 'text', text: 'Use get_weather for Paris' }] },
  ],
  tools: [{ name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
  toolChoice: { type: 'auto' },
  responseFormat: { type: 'text' },
  ...over,
});

const collect = (adapter: WorkerAdapter, r: CanonicalRequest, signal = never) => drain(adapter.stream(r, signal));
const text = (events: CanonicalEvent[]) => tokenTexts(events).join('');

describe('Ollama adapter against the fake server', () => {
  let fake: OllamaFake;
  let adapter: WorkerAdapter;

  beforeAll(async () => {
    fake = await startOllamaFake({ loadDelayMs: 30 });
    adapter = createOllamaAdapter(quickInit(fake.url));
  });
  afterAll(async () => {
    await adapter.close();
    await fake.close();
  });
  afterEach(async () => {
    await fake.setMode('ready');
    fake.configure({ splitChunks: false, tokensPerS: 0, eosAfterTokens: undefined, numParallel: 1, maxQueue: 512 });
  });

  it('is ready on GET / before any model is loaded, and loads the model lazily with the first chat', async () => {
    expect(await adapter.health(never)).toEqual({ live: true, ready: true });
    expect(fake.loaded.size).toBe(0);
    const index = fake.seen.length;
    const { events, error } = await collect(adapter, req());
    expect(error).toBeUndefined();
    expect(text(events)).toBe(fakeCompletion(req().prompt, 42, 6).join(''));
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'length', promptTokens: fakeTokenize(req().prompt).length, completionTokens: 6 });
    expect(fake.seen[index]?.notes['loaded']).toBe(true);
    await collect(adapter, req({ prompt: 'again' }));
    expect(fake.seen.at(-1)?.notes['loaded']).toBeUndefined();
  });

  it('sends the completion workload as one user message with options, stream true and no credential', async () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await collect(adapter, req({ traceparent: tp, temperature: 0.3, topP: 0.9, stop: ['END'] }));
    const seen = fake.seen.at(-1);
    expect(seen?.path).toBe('/api/chat');
    expect(seen?.body).toEqual({
      model: 'fake-model',
      messages: [{ role: 'user', content: req().prompt }],
      stream: true,
      options: { num_predict: 6, temperature: 0.3, top_p: 0.9, stop: ['END'], seed: 42 },
    });
    expect(seen?.headers['authorization']).toBeUndefined();
    expect(seen?.headers['traceparent']).toBe(tp);
  });

  it('leaves promptTokens out when the done line omits prompt_eval_count (a cached prompt)', async () => {
    const prompt = 'cached prompt ✓';
    await collect(adapter, req({ prompt }));
    const again = await collect(adapter, req({ prompt }));
    expect(again.events.at(-1)).toEqual({ type: 'end', finishReason: 'length', completionTokens: 6 });
  });

  it('ends with stop when the model stops before num_predict', async () => {
    fake.configure({ eosAfterTokens: 2 });
    const { events } = await collect(adapter, req({ maxTokens: 10 }));
    expect(events.at(-1)).toMatchObject({ finishReason: 'stop', completionTokens: 2 });
  });

  it('turns whole tool_calls into one tool_call_delta each and ends with tool_calls; system stays a message', async () => {
    const { events, error } = await collect(adapter, req({ chat: chat() }));
    expect(error).toBeUndefined();
    expect(events).toEqual([
      { type: 'tool_call_delta', index: 0, id: 'call_task-1_0', name: 'get_weather', arguments: '{"city":"fake"}' },
      { type: 'end', finishReason: 'tool_calls', promptTokens: expect.any(Number), completionTokens: 1 },
    ]);
    const body = fake.seen.at(-1)?.body as { messages: unknown[]; tools: unknown[] };
    expect(body.messages[0]).toEqual({ role: 'system', content: 'Be brief.' });
    expect(body.tools).toEqual([{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }]);
  });

  it('sends a tool result as a tool message naming its tool, and streams the answer', async () => {
    const conversation = chat({
      messages: [
        ...chat().messages,
        { role: 'assistant', content: [], toolCalls: [{ id: 'c1', name: 'get_weather', arguments: '{"city":"Paris"}' }] },
        { role: 'tool', toolCallId: 'c1', content: [{ type: 'text', text: '18°C' }], isError: false },
      ],
    });
    const { events, error } = await collect(adapter, req({ chat: conversation }));
    expect(error).toBeUndefined();
    expect(events.at(-1)).toMatchObject({ finishReason: 'length' });
    const body = fake.seen.at(-1)?.body as { messages: unknown[] };
    expect(body.messages.slice(2)).toEqual([
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: { city: 'Paris' } } }] },
      { role: 'tool', content: '18°C', tool_name: 'get_weather' },
    ]);
  });

  it('survives NDJSON lines split inside UTF-8 sequences', async () => {
    const clean = await collect(adapter, req({ maxTokens: 12, prompt: 'split me' }));
    fake.configure({ splitChunks: true });
    const split = await collect(adapter, req({ maxTokens: 12, prompt: 'split me' }));
    expect(split.error).toBeUndefined();
    expect(tokenTexts(split.events)).toEqual(tokenTexts(clean.events));
  });

  it('maps an error line under status 200 after tokens to WORKER_RESET', async () => {
    await fake.setMode({ kind: 'fail-at-token', at: 2 });
    const { events, error } = await collect(adapter, req());
    expect(tokenTexts(events)).toHaveLength(2);
    const err = asEngineError(error);
    expect(err.code).toBe('WORKER_RESET');
    expect(err.upstreamDetail).toContain('fake engine failure mid-stream');
  });

  it('maps a 500 before the first token to a retriable WORKER_RESET and an unpulled model to ENGINE_ERROR', async () => {
    await fake.setMode('fail-before-first-token');
    expect(asEngineError((await collect(adapter, req())).error)).toMatchObject({ code: 'WORKER_RESET', upstreamStatus: 500 });
    await fake.setMode('ready');
    const missing = asEngineError((await collect(adapter, req({ model: 'other' }))).error);
    expect(missing).toMatchObject({ code: 'ENGINE_ERROR', upstreamStatus: 404 });
    expect(missing.message).not.toContain('pulling');
  });

  it('maps 503 from a full queue to REPLICA_EXHAUSTED with the default retry hint', async () => {
    fake.configure({ numParallel: 1, maxQueue: 0, tokensPerS: 50 });
    const ctl = new AbortController();
    const first = adapter.stream(req({ maxTokens: 400 }), ctl.signal)[Symbol.asyncIterator]();
    expect((await first.next()).value).toMatchObject({ type: 'token' });
    const err = asEngineError((await collect(adapter, req({ prompt: 'second' }))).error);
    expect(err).toMatchObject({ code: 'REPLICA_EXHAUSTED', retryAfterMs: 250, upstreamStatus: 503 });
    ctl.abort(new Error('done'));
    await first.next().catch(() => undefined);
  });

  it('reads the version and the pulled models; props refuses a model that is not pulled', async () => {
    expect(await adapter.models?.(never)).toEqual(['fake-model:latest']);
    expect(await adapter.props(never)).toEqual({ engineVersion: '0.12.6', model: 'fake-model', ctxMax: 4096, slotsTotal: 1, deterministic: false });
    const other = createOllamaAdapter({ ...quickInit(fake.url), model: 'llama3.2' });
    try {
      await expect(other.props(never)).rejects.toMatchObject({ code: 'ENGINE_ERROR', message: expect.stringContaining('pull it first') });
    } finally {
      await other.close();
    }
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

describe('Ollama options and credentials', () => {
  it('sends num_ctx and keep_alive from options and reports num_ctx and num_parallel in props', async () => {
    const fake = await startOllamaFake();
    const adapter = createOllamaAdapter({ ...quickInit(fake.url), options: { ...quickInit(fake.url).options, num_ctx: 8192, num_parallel: 4, keep_alive: '10m' } });
    try {
      await collect(adapter, req());
      expect(fake.seen.at(-1)?.body).toMatchObject({ keep_alive: '10m', options: { num_ctx: 8192 } });
      expect(await adapter.props(never)).toMatchObject({ ctxMax: 8192, slotsTotal: 4 });
    } finally {
      await adapter.close();
      await fake.close();
    }
  });

  it('sends an optional key as a bearer token to a proxy, and is not ready naming the file when it is missing', async () => {
    const PLANTED = 'ollama-proxy-PLANTED-4b1d';
    const fake = await startOllamaFake();
    const withKey = createOllamaAdapter({ ...quickInit(fake.url), options: { ...quickInit(fake.url).options, api_key: { env: 'OLLAMA_KEY' } } }, { env: { OLLAMA_KEY: PLANTED } });
    const missing = createOllamaAdapter({ ...quickInit(fake.url), options: { ...quickInit(fake.url).options, api_key: { file: '/nonexistent/ollama-key' } } });
    try {
      await collect(withKey, req());
      expect(fake.seen.at(-1)?.headers['authorization']).toBe(`Bearer ${PLANTED}`);
      expect(await missing.health(never)).toEqual({ live: true, ready: false, detail: 'the API key file /nonexistent/ollama-key cannot be read' });
      expect(asEngineError((await collect(missing, req())).error).code).toBe('POOL_UNREADY');
      const texts: string[] = [];
      await fake.setMode('fail-before-first-token');
      const failed = asEngineError((await collect(withKey, req())).error);
      texts.push(failed.message, failed.upstreamDetail ?? '', JSON.stringify(failed), String(failed.cause ?? ''));
      await fake.refuseConnections();
      const down = asEngineError((await collect(withKey, req())).error);
      texts.push(down.message, down.upstreamDetail ?? '', JSON.stringify(await withKey.health(never)));
      await withKey.props(never).catch((e: unknown) => texts.push(String(e)));
      for (const t of texts) expect(t).not.toContain(PLANTED);
    } finally {
      await withKey.close();
      await missing.close();
      await fake.close();
    }
  });

  it('refuses an inline key at construction', () => {
    expect(() => createOllamaAdapter({ ...quickInit('http://127.0.0.1:9'), options: { api_key: 'inline-secret' } })).toThrow(/invalid ollama replica options at \/api_key/);
  });
});
