import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { asEngineError, drain, quickInit, tokenTexts } from '../../../test/support/adapter-test-kit.ts';
import type { CanonicalEvent, CanonicalRequest, WorkerAdapter } from '../contract.ts';
import { createLlamacppAdapter } from './adapter.ts';
import { fakeCompletion, startLlamacppFake, type LlamacppFake } from '../../../test/fakes/llamacpp/fake.ts';

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

describe('llama.cpp adapter against the fake engine', () => {
  let fake: LlamacppFake;
  let adapter: WorkerAdapter;

  beforeAll(async () => {
    fake = await startLlamacppFake({ slots: 2, nCtx: 512 });
    adapter = createLlamacppAdapter(quickInit(fake.url));
  });
  afterAll(async () => {
    await adapter.close();
    await fake.close();
  });
  afterEach(async () => {
    await fake.setMode('ready');
    fake.configure({ eosAfterTokens: undefined, keepAliveEvery: 0, splitChunks: false, unknownKeys: false, errorStyle: 'data', tokensPerS: 0 });
  });

  it('streams the deterministic tokens and ends with length and engine counts', async () => {
    const { events, error } = await collect(adapter, req());
    expect(error).toBeUndefined();
    expect(text(events)).toBe(fakeCompletion(req().prompt, 42, 6).join(''));
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'length', promptTokens: expect.any(Number), completionTokens: 6, cachedTokens: expect.any(Number), slotId: expect.any(Number) });
  });

  it('reports stop on end-of-sequence and length when max_tokens is hit first', async () => {
    fake.configure({ eosAfterTokens: 3 });
    const stopped = await collect(adapter, req({ maxTokens: 10 }));
    expect(tokens(stopped.events)).toBe(3);
    expect(stopped.events.at(-1)).toMatchObject({ type: 'end', finishReason: 'stop' });
    const limited = await collect(adapter, req({ maxTokens: 2 }));
    expect(limited.events.at(-1)).toMatchObject({ type: 'end', finishReason: 'length', completionTokens: 2 });
  });

  it('stops on a stop string without sending it', async () => {
    const pieces = fakeCompletion(req().prompt, 42, 6);
    const { events } = await collect(adapter, req({ stop: [pieces[2] as string] }));
    expect(text(events)).toBe(pieces.slice(0, 2).join(''));
    expect(events.at(-1)).toMatchObject({ type: 'end', finishReason: 'stop' });
  });

  // ORCH-0604
  it('sends only engine headers and records id_slot / cache_prompt', async () => {
    const tp = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await collect(adapter, req({ slotId: 1, cachePrompt: true, traceparent: tp }));
    const seen = fake.seen.at(-1);
    expect(seen?.body).toMatchObject({ id_slot: 1, cache_prompt: true, stream: true, n_predict: 6, seed: 42 });
    expect(seen?.notes).toMatchObject({ slot: 1 });
    expect(seen?.headers['traceparent']).toBe(tp);
    expect(seen?.headers['authorization']).toBeUndefined();
    expect(Object.keys(seen?.headers ?? {}).filter((h) => h.startsWith('x-'))).toEqual([]);
  });

  it('reports KV reuse when the same slot sees a prompt extending its last one', async () => {
    const first = await collect(adapter, req({ slotId: 0, prompt: 'A long shared system prompt. User: hi' }));
    const answer = text(first.events);
    const second = await collect(adapter, req({ slotId: 0, prompt: `A long shared system prompt. User: hi${answer} User: more` }));
    const end = second.events.at(-1);
    expect(end?.type === 'end' && (end.cachedTokens ?? 0)).toBeGreaterThan(30);
  });

  // ORCH-0605
  it('skips keep-alive comments, survives split UTF-8 chunks and ignores unknown keys', async () => {
    const clean = await collect(adapter, req({ maxTokens: 12 }));
    fake.configure({ keepAliveEvery: 1, splitChunks: true, unknownKeys: true });
    const noisy = await collect(adapter, req({ maxTokens: 12 }));
    expect(noisy.error).toBeUndefined();
    expect(noisy.events.map((e) => (e.type === 'token' ? e.text : e.type))).toEqual(clean.events.map((e) => (e.type === 'token' ? e.text : e.type)));
  });

  it('is not ready while loading, then ready: health, props and stream agree', async () => {
    await fake.setMode('loading');
    expect(await adapter.health(never)).toEqual({ live: true, ready: false, detail: expect.any(String) });
    expect(asEngineError((await collect(adapter, req())).error).code).toBe('POOL_UNREADY');
    await expect(adapter.props(never)).rejects.toMatchObject({ code: 'POOL_UNREADY' });
    await fake.setMode('ready');
    expect(await adapter.health(never)).toEqual({ live: true, ready: true });
    expect((await collect(adapter, req())).error).toBeUndefined();
  });

  it('reads engine facts from /props and /slots', async () => {
    expect(await adapter.props(never)).toEqual({
      engineVersion: 'b6097-9515c613',
      model: 'fake-model',
      ctxMax: 512,
      slotsTotal: 2,
      slotsFree: 2,
      deterministic: true,
    });
  });

  // ORCH-0603
  it('maps overload to REPLICA_EXHAUSTED with a retry hint', async () => {
    await fake.setMode('overloaded');
    const err = asEngineError((await collect(adapter, req())).error);
    expect(err.code).toBe('REPLICA_EXHAUSTED');
    expect(err.retryAfterMs).toBe(250);
    expect(err.upstreamStatus).toBe(503);
  });

  it('maps an in-band error after tokens to WORKER_RESET, in both error styles', async () => {
    for (const errorStyle of ['data', 'legacy'] as const) {
      fake.configure({ errorStyle });
      await fake.setMode({ kind: 'fail-at-token', at: 2 });
      const { events, error } = await collect(adapter, req());
      expect(tokens(events)).toBe(2);
      const err = asEngineError(error);
      expect(err.code).toBe('WORKER_RESET');
      expect(err.message).not.toContain('fake engine failure');
      expect(err.upstreamDetail).toContain('fake engine failure');
    }
  });

  // ORCH-0603 ORCH-0009
  it('maps an HTTP 500 before the stream to ENGINE_ERROR without leaking the upstream text', async () => {
    await fake.setMode('fail-before-first-token');
    const err = asEngineError((await collect(adapter, req())).error);
    expect(err.code).toBe('ENGINE_ERROR');
    expect(err.message).not.toContain('fake');
    expect(err.upstreamDetail).toContain('fake engine failure before the first token');
  });

  it('maps a prompt larger than the context to INVALID_PARAMS', async () => {
    const err = asEngineError((await collect(adapter, req({ prompt: 'x'.repeat(600) }))).error);
    expect(err.code).toBe('INVALID_PARAMS');
    expect(err.message).toMatch(/context window/);
  });

  // ORCH-0603 ORCH-0602
  it('maps a reset mid-stream to WORKER_RESET after the tokens already sent', async () => {
    await fake.setMode({ kind: 'reset-at-token', at: 3 });
    const { events, error } = await collect(adapter, req());
    expect(tokens(events)).toBe(3);
    expect(asEngineError(error).code).toBe('WORKER_RESET');
  });

  it('maps a reset before the first byte to WORKER_RESET with no tokens', async () => {
    await fake.setMode({ kind: 'reset-at-token', at: 0 });
    const { events, error } = await collect(adapter, req());
    expect(events).toEqual([]);
    expect(asEngineError(error).code).toBe('WORKER_RESET');
  });

  it('refuses with REPLICA_EXHAUSTED when every slot is busy', async () => {
    fake.configure({ tokensPerS: 50 });
    const first = fake.seen.length;
    const busy = [new AbortController(), new AbortController()];
    const running = busy.map((c) => collect(adapter, req({ maxTokens: 500 }), c.signal));
    while (fake.busySlots() < 2) await new Promise((r) => setTimeout(r, 5));
    expect(asEngineError((await collect(adapter, req())).error).code).toBe('REPLICA_EXHAUSTED');
    for (const c of busy) c.abort(new Error('done'));
    await Promise.all(running);
    await Promise.all([fake.settled(first), fake.settled(first + 1)]);
    expect(fake.busySlots()).toBe(0);
  });

  // ORCH-0601
  it('aborting after 3 tokens closes the upstream connection and the fake observes it', async () => {
    fake.configure({ tokensPerS: 100 });
    const ctl = new AbortController();
    const index = fake.seen.length;
    const events: CanonicalEvent[] = [];
    const reason = new Error('client canceled');
    await expect(
      (async () => {
        for await (const ev of adapter.stream(req({ maxTokens: 1_000 }), ctl.signal)) {
          events.push(ev);
          if (events.length === 3) ctl.abort(reason);
        }
      })(),
    ).rejects.toBe(reason);
    const seen = await fake.settled(index);
    expect(seen.aborted).toBe(true);
    expect(seen.finished).toBe(false);
    expect(seen.tokensSent).toBeLessThan(1_000);
  });

  it('closes the upstream connection when the consumer stops iterating mid-stream', async () => {
    fake.configure({ tokensPerS: 100 });
    const index = fake.seen.length;
    let count = 0;
    for await (const ev of adapter.stream(req({ maxTokens: 1_000 }), never)) if (ev.type === 'token' && ++count === 2) break;
    const seen = await fake.settled(index);
    expect(seen.aborted).toBe(true);
    expect(seen.tokensSent).toBeLessThan(1_000);
  });

  it('keeps the connection when the consumer stops right after end', async () => {
    const index = fake.seen.length;
    for await (const ev of adapter.stream(req(), never)) if (ev.type === 'end') break;
    const seen = await fake.settled(index);
    expect(seen.aborted).toBe(false);
    expect(seen.finished).toBe(true);
  });
});

describe('llama.cpp adapter timeouts and unreachable engines', () => {
  // ORCH-0603
  it('maps a stream that hangs to DECODE_TIMEOUT through the idle timeout', async () => {
    const fake = await startLlamacppFake({ mode: { kind: 'hang-at-token', at: 2 } });
    const adapter = createLlamacppAdapter(quickInit(fake.url, { timeouts: { connectMs: 1_000, firstByteMs: 1_000, idleMs: 150 } }));
    try {
      const { events, error } = await collect(adapter, req());
      expect(tokens(events)).toBe(2);
      expect(asEngineError(error).code).toBe('DECODE_TIMEOUT');
      expect((await fake.settled(0)).aborted).toBe(true);
    } finally {
      await adapter.close();
      await fake.close();
    }
  });

  // ORCH-0603
  it('reports a closed port as not live and POOL_UNREADY, without throwing from health', async () => {
    const fake = await startLlamacppFake();
    const url = fake.url;
    await fake.close();
    const adapter = createLlamacppAdapter(quickInit(url));
    try {
      expect(await adapter.health(never)).toEqual({ live: false, ready: false, detail: 'connection refused' });
      expect(asEngineError((await collect(adapter, req())).error).code).toBe('POOL_UNREADY');
      await expect(adapter.props(never)).rejects.toMatchObject({ code: 'POOL_UNREADY' });
    } finally {
      await adapter.close();
    }
  });

  it('sends the configured API key as a bearer token', async () => {
    const fake = await startLlamacppFake();
    const adapter = createLlamacppAdapter(quickInit(fake.url, { options: { api_key: 'sekrit' } }));
    try {
      await collect(adapter, req());
      expect(fake.seen[0]?.headers['authorization']).toBe('Bearer sekrit');
    } finally {
      await adapter.close();
      await fake.close();
    }
  });

  it('refuses unknown replica options at construction', () => {
    expect(() => createLlamacppAdapter(quickInit('http://127.0.0.1:1', { options: { retry_atempts: 3 } }))).toThrow(/invalid llamacpp replica options/);
  });
});
