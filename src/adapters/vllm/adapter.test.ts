import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { asEngineError, drain, quickInit, tokenTexts } from '../../../test/support/adapter-test-kit.ts';
import type { CanonicalEvent, CanonicalRequest, WorkerAdapter } from '../contract.ts';
import { createVllmAdapter } from './adapter.ts';
import { fakeCompletion, startVllmFake, type VllmFake } from '../../../test/fakes/vllm/fake.ts';

const never = new AbortController().signal;

const req = (over: Partial<CanonicalRequest> = {}): CanonicalRequest => ({
  taskId: 'task-1',
  model: 'fake-model',
  prompt: 'Tell me about Zürich 🙂',
  maxTokens: 6,
  seed: 42,
  ...over,
});

const collect = (adapter: WorkerAdapter, r: CanonicalRequest, signal = never) => drain(adapter.stream(r, signal));
const text = (events: CanonicalEvent[]) => tokenTexts(events).join('');
const tokens = (events: CanonicalEvent[]) => tokenTexts(events).length;

describe('vLLM adapter against the fake engine', () => {
  let fake: VllmFake;
  let adapter: WorkerAdapter;

  beforeAll(async () => {
    fake = await startVllmFake({ maxModelLen: 512 });
    adapter = createVllmAdapter(quickInit(fake.url));
  });
  afterAll(async () => {
    await adapter.close();
    await fake.close();
  });
  afterEach(async () => {
    await fake.setMode('ready');
    fake.configure({ eosAfterTokens: undefined, keepAliveEvery: 0, splitChunks: false, unknownKeys: false, errorStyle: 'nested', tokensPerS: 0, promptTokensDetails: false });
  });

  it('streams the deterministic tokens and ends with length and usage counts', async () => {
    const { events, error } = await collect(adapter, req());
    expect(error).toBeUndefined();
    expect(text(events)).toBe(fakeCompletion(req().prompt, 42, 6).join(''));
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'length', promptTokens: expect.any(Number), completionTokens: 6 });
  });

  it('reports stop on end-of-sequence and on a stop string, length on max_tokens', async () => {
    fake.configure({ eosAfterTokens: 3 });
    const eos = await collect(adapter, req({ maxTokens: 10 }));
    expect(tokens(eos.events)).toBe(3);
    expect(eos.events.at(-1)).toMatchObject({ finishReason: 'stop', completionTokens: 3 });
    fake.configure({ eosAfterTokens: undefined });
    const pieces = fakeCompletion(req().prompt, 42, 6);
    const word = await collect(adapter, req({ stop: [pieces[3] as string] }));
    expect(text(word.events)).toBe(pieces.slice(0, 3).join(''));
    expect(word.events.at(-1)).toMatchObject({ finishReason: 'stop' });
    expect((await collect(adapter, req({ maxTokens: 2 }))).events.at(-1)).toMatchObject({ finishReason: 'length' });
  });

  // ORCH-0604
  it('sends the model, usage request and trace context, and no client headers', async () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await collect(adapter, req({ traceparent: tp, slotId: 3 }));
    const seen = fake.seen.at(-1);
    expect(seen?.body).toEqual({ model: 'fake-model', prompt: req().prompt, max_tokens: 6, stream: true, stream_options: { include_usage: true }, seed: 42 });
    expect(seen?.headers['traceparent']).toBe(tp);
    expect(Object.keys(seen?.headers ?? {}).filter((h) => h.startsWith('x-'))).toEqual([]);
  });

  it('reports prefix-cache hits as cachedTokens when the server exposes them', async () => {
    fake.configure({ promptTokensDetails: true });
    const shared = 'You are a helpful assistant. '.repeat(4);
    await collect(adapter, req({ prompt: `${shared}first question` }));
    const warm = await collect(adapter, req({ prompt: `${shared}second question` }));
    const end = warm.events.at(-1);
    expect(end?.type === 'end' && (end.cachedTokens ?? 0)).toBeGreaterThanOrEqual(16);
  });

  // ORCH-0605
  it('skips keep-alive comments, survives split UTF-8 chunks and ignores unknown keys', async () => {
    const clean = await collect(adapter, req({ maxTokens: 12 }));
    fake.configure({ keepAliveEvery: 1, splitChunks: true, unknownKeys: true });
    const noisy = await collect(adapter, req({ maxTokens: 12 }));
    expect(noisy.error).toBeUndefined();
    expect(noisy.events).toEqual(clean.events);
  });

  it('refuses TCP while loading (health not live, POOL_UNREADY), then serves on the same port', async () => {
    await fake.setMode('loading');
    expect(await adapter.health(never)).toEqual({ live: false, ready: false, detail: 'connection refused' });
    expect(asEngineError((await collect(adapter, req())).error).code).toBe('POOL_UNREADY');
    await expect(adapter.props(never)).rejects.toMatchObject({ code: 'POOL_UNREADY' });
    await fake.setMode('ready');
    expect(await adapter.health(never)).toEqual({ live: true, ready: true });
    expect((await collect(adapter, req())).error).toBeUndefined();
  });

  it('reads engine facts from /version and /v1/models, slots from options', async () => {
    expect(await adapter.props(never)).toEqual({ engineVersion: '0.11.0', model: 'fake-model', ctxMax: 512, slotsTotal: 256, deterministic: true });
  });

  it('maps a 429 to REPLICA_EXHAUSTED honouring Retry-After', async () => {
    await fake.setMode('overloaded');
    const err = asEngineError((await collect(adapter, req())).error);
    expect(err.code).toBe('REPLICA_EXHAUSTED');
    expect(err.retryAfterMs).toBe(1000);
  });

  it('maps an in-band error followed by [DONE] to WORKER_RESET, nested and flat bodies alike', async () => {
    for (const errorStyle of ['nested', 'flat'] as const) {
      fake.configure({ errorStyle });
      await fake.setMode({ kind: 'fail-at-token', at: 2 });
      const { events, error } = await collect(adapter, req());
      expect(tokens(events)).toBe(2);
      const err = asEngineError(error);
      expect(err.code).toBe('WORKER_RESET');
      expect(err.upstreamDetail).toContain('InternalServerError');
      expect(err.message).not.toContain('fake');
    }
  });

  it('maps an HTTP 500 before the stream to ENGINE_ERROR, in both body shapes', async () => {
    await fake.setMode('fail-before-first-token');
    for (const errorStyle of ['nested', 'flat'] as const) {
      fake.configure({ errorStyle });
      const err = asEngineError((await collect(adapter, req())).error);
      expect(err.code).toBe('ENGINE_ERROR');
      expect(err.upstreamDetail).toContain('fake engine failure before the first token');
    }
  });

  it('maps a context overflow to INVALID_PARAMS and an unknown model to ENGINE_ERROR', async () => {
    expect(asEngineError((await collect(adapter, req({ maxTokens: 600 }))).error).code).toBe('INVALID_PARAMS');
    expect(asEngineError((await collect(adapter, req({ model: 'other' }))).error).code).toBe('ENGINE_ERROR');
  });

  it('maps a reset mid-stream to WORKER_RESET and a reset before the first byte too', async () => {
    await fake.setMode({ kind: 'reset-at-token', at: 3 });
    const mid = await collect(adapter, req());
    expect(tokens(mid.events)).toBe(3);
    expect(asEngineError(mid.error).code).toBe('WORKER_RESET');
    await fake.setMode({ kind: 'reset-at-token', at: 0 });
    const early = await collect(adapter, req());
    expect(early.events).toEqual([]);
    expect(asEngineError(early.error).code).toBe('WORKER_RESET');
  });

  // ORCH-0601
  it('aborting after 3 tokens closes the upstream connection and the fake observes it', async () => {
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

describe('vLLM adapter timeouts', () => {
  it('maps a stream that hangs to DECODE_TIMEOUT through the idle timeout', async () => {
    const fake = await startVllmFake({ mode: { kind: 'hang-at-token', at: 1 } });
    const adapter = createVllmAdapter(quickInit(fake.url, { timeouts: { connectMs: 1_000, firstByteMs: 1_000, idleMs: 150 } }));
    try {
      const { events, error } = await collect(adapter, req());
      expect(tokens(events)).toBe(1);
      expect(asEngineError(error).code).toBe('DECODE_TIMEOUT');
      expect((await fake.settled(0)).aborted).toBe(true);
    } finally {
      await adapter.close();
      await fake.close();
    }
  });

  it('takes max_num_seqs from options as the slot count', async () => {
    const fake = await startVllmFake();
    const adapter = createVllmAdapter(quickInit(fake.url, { options: { max_num_seqs: 32 } }));
    try {
      expect((await adapter.props(never)).slotsTotal).toBe(32);
      expect(adapter.capabilities).toMatchObject({ slotAffinity: false, deterministic: true, reportsSlots: false });
    } finally {
      await adapter.close();
      await fake.close();
    }
  });
});
