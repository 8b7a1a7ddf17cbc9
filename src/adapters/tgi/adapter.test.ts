import { afterEach, describe, expect, it } from 'vitest';
import { drain, tokenTexts } from '../../../test/support/adapter-test-kit.ts';
import { EngineError, type AdapterTimeouts, type CanonicalEvent, type CanonicalRequest, type WorkerAdapter } from '../contract.ts';
import { createTgiAdapter } from './adapter.ts';
import { encodeTgiRequest } from './encode.ts';
import { tgiInputLength } from '../../../test/fakes/tgi/fake-validation.ts';
import { startTgiFake, tgiFakeTokens, TGI_FAKE_INFO, type TgiFake, type TgiFakeOptions } from '../../../test/fakes/tgi/fake.ts';

const TIMEOUTS: AdapterTimeouts = { connectMs: 1_000, firstByteMs: 5_000, idleMs: 5_000 };
const REQ: CanonicalRequest = { taskId: 'task-1', model: 'fake-org/fake-tgi-model', prompt: 'Tell me about queues', maxTokens: 12, seed: 42, temperature: 0.8 };
const never = () => new AbortController().signal;

let fake: TgiFake | undefined;
let adapter: WorkerAdapter | undefined;

async function setup(opts: TgiFakeOptions = {}, timeouts: Partial<AdapterTimeouts> = {}): Promise<{ fake: TgiFake; adapter: WorkerAdapter }> {
  fake = await startTgiFake(opts);
  adapter = createTgiAdapter({ baseUrl: fake.url, model: REQ.model, timeouts: { ...TIMEOUTS, ...timeouts }, options: {} });
  return { fake, adapter };
}

afterEach(async () => {
  await adapter?.close();
  await fake?.close();
  adapter = undefined;
  fake = undefined;
});

const expectedTexts = (req: CanonicalRequest, n = req.maxTokens) => tgiFakeTokens(req.prompt, req.seed, n);

describe('TGI adapter against the fake router', () => {
  it('streams the engine tokens through split chunks and keep-alives, ending with length and counts', async () => {
    const { adapter } = await setup({ splitChunks: true, keepAliveEvery: 1, extraFields: true });
    const { events, error } = await drain(adapter.stream(REQ, never()));
    expect(error).toBeUndefined();
    expect(tokenTexts(events)).toEqual(expectedTexts(REQ));
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'length', promptTokens: tgiInputLength(REQ.prompt), completionTokens: 12 });
  });

  // ORCH-0604
  it('sends exactly the encoded body and only its own headers, propagating traceparent', async () => {
    const { fake, adapter } = await setup();
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await drain(adapter.stream({ ...REQ, traceparent }, never()));
    const seen = fake.seen[0];
    expect(seen?.path).toBe('/generate_stream');
    expect(seen?.body).toEqual(encodeTgiRequest(REQ));
    expect(seen?.headers.traceparent).toBe(traceparent);
    expect(Object.keys(seen?.headers ?? {}).sort()).toEqual(['accept', 'connection', 'content-length', 'content-type', 'host', 'traceparent']);
  });

  it('ends with stop when a stop sequence matches', async () => {
    const { adapter } = await setup();
    const all = expectedTexts(REQ);
    const stopWord = all[4] as string;
    const firstHit = all.findIndex((t) => t.includes(stopWord));
    const { events } = await drain(adapter.stream({ ...REQ, stop: [stopWord] }, never()));
    expect(tokenTexts(events)).toEqual(all.slice(0, firstHit + 1));
    expect(events.at(-1)).toMatchObject({ type: 'end', finishReason: 'stop', completionTokens: firstHit + 1 });
  });

  it('ends with stop on EOS and never emits the special token text', async () => {
    const { adapter } = await setup({ eosAfterTokens: 3 });
    const { events } = await drain(adapter.stream(REQ, never()));
    expect(tokenTexts(events)).toEqual(expectedTexts(REQ, 3));
    expect(events.at(-1)).toMatchObject({ type: 'end', finishReason: 'stop', completionTokens: 4 });
  });

  it('reports connection refused while loading, then serves once the router listens', async () => {
    const { fake, adapter } = await setup({ mode: 'loading' });
    expect(await adapter.health(never())).toMatchObject({ live: false, ready: false });
    expect((await drain(adapter.stream(REQ, never()))).error).toMatchObject({ code: 'POOL_UNREADY' });
    await expect(adapter.props(never())).rejects.toMatchObject({ code: 'POOL_UNREADY' });

    await fake.setMode('ready');
    expect(await adapter.health(never())).toEqual({ live: true, ready: true });
    expect(tokenTexts((await drain(adapter.stream(REQ, never()))).events)).toEqual(expectedTexts(REQ));
  });

  it('reports live but not ready when /health answers 503', async () => {
    const { adapter } = await setup({ mode: 'unhealthy' });
    expect(await adapter.health(never())).toMatchObject({ live: true, ready: false });
  });

  it('reads slots, context and version from /info', async () => {
    const { fake, adapter } = await setup({ info: { max_concurrent_requests: 9, version: '3.0.1' } });
    expect(await adapter.props(never())).toEqual({
      engineVersion: '3.0.1', model: TGI_FAKE_INFO.model_id, ctxMax: TGI_FAKE_INFO.max_total_tokens, slotsTotal: 9, deterministic: false,
    });
    // A bodiless GET carries no content type.
    expect(fake.seen.map((s) => [s.method, s.headers['content-type']])).toEqual([['GET', undefined]]);
    expect(adapter.capabilities).toMatchObject({ slotAffinity: false, deterministic: false, reportsSlots: true });
  });

  // ORCH-0603
  it('maps the in-band overloaded event to REPLICA_EXHAUSTED with a retry hint', async () => {
    const { adapter } = await setup({ mode: 'overloaded' });
    const { events, error } = await drain(adapter.stream(REQ, never()));
    expect(events).toEqual([]);
    expect(error).toBeInstanceOf(EngineError);
    expect(error).toMatchObject({ code: 'REPLICA_EXHAUSTED', retryAfterMs: 1_000, message: 'the TGI replica is at its concurrency limit' });
  });

  it('maps an in-band validation event to INVALID_PARAMS without leaking the upstream text', async () => {
    const { adapter } = await setup();
    const { error } = await drain(adapter.stream({ ...REQ, stop: ['a', 'b', 'c', 'd', 'e'] }, never()));
    expect(error).toMatchObject({ code: 'INVALID_PARAMS', message: 'the TGI replica rejected the generation parameters' });
    expect((error as EngineError).upstreamDetail).toContain('supports up to 4 stop sequences');
  });

  it('turns an in-band error after the first token into WORKER_RESET', async () => {
    const { adapter } = await setup({ mode: { kind: 'fail-at-token', at: 2 }, splitChunks: true });
    const { events, error } = await drain(adapter.stream(REQ, never()));
    expect(tokenTexts(events)).toEqual(expectedTexts(REQ, 2));
    expect(error).toMatchObject({ code: 'WORKER_RESET' });
    expect((error as EngineError).message).not.toContain('CUDA');
  });

  it('turns a generation failure before the first token into a retriable WORKER_RESET', async () => {
    const { adapter } = await setup({ mode: 'fail-before-first-token' });
    const { events, error } = await drain(adapter.stream(REQ, never()));
    expect(events).toEqual([]);
    expect(error).toMatchObject({ code: 'WORKER_RESET' });
  });

  it('turns a connection reset before the first token into WORKER_RESET', async () => {
    const { adapter } = await setup({ mode: { kind: 'reset-at-token', at: 0 } });
    const { events, error } = await drain(adapter.stream(REQ, never()));
    expect(events).toEqual([]);
    expect(error).toMatchObject({ code: 'WORKER_RESET' });
  });

  it('turns a connection reset mid-stream into WORKER_RESET after the tokens that arrived', async () => {
    const { adapter } = await setup({ mode: { kind: 'reset-at-token', at: 3 } });
    const { events, error } = await drain(adapter.stream(REQ, never()));
    expect(tokenTexts(events)).toEqual(expectedTexts(REQ, 3));
    expect(error).toMatchObject({ code: 'WORKER_RESET' });
  });

  it('gives up on a silent engine with DECODE_TIMEOUT and closes the connection', async () => {
    const { fake, adapter } = await setup({ mode: { kind: 'hang-at-token', at: 1 } }, { idleMs: 150 });
    const { events, error } = await drain(adapter.stream(REQ, never()));
    expect(tokenTexts(events)).toEqual(expectedTexts(REQ, 1));
    expect(error).toMatchObject({ code: 'DECODE_TIMEOUT' });
    expect((await fake.settled(0)).aborted).toBe(true);
  });

  // ORCH-0601
  it('closes the upstream socket on abort and the engine sees the disconnect', async () => {
    const { fake, adapter } = await setup({ tokensPerS: 25 });
    const ac = new AbortController();
    const reason = new Error('client cancelled');
    const events: CanonicalEvent[] = [];
    const consumed = (async () => {
      for await (const e of adapter.stream({ ...REQ, maxTokens: 500 }, ac.signal)) {
        events.push(e);
        if (events.length === 2) ac.abort(reason);
      }
    })();
    await expect(consumed).rejects.toBe(reason);
    const seen = await fake.settled(0);
    expect(seen.aborted).toBe(true);
    expect(seen.tokensSent).toBeLessThan(500);
  });

  it('closes the upstream socket when the consumer stops reading early', async () => {
    const { fake, adapter } = await setup({ tokensPerS: 25 });
    for await (const e of adapter.stream({ ...REQ, maxTokens: 500 }, never())) {
      if (e.type === 'token') break;
    }
    expect((await fake.settled(0)).aborted).toBe(true);
  });

  it('reuses keep-alive connections across complete streams', async () => {
    const { fake, adapter } = await setup();
    for (let i = 0; i < 4; i++) await drain(adapter.stream(REQ, never()));
    expect(fake.seen.map((s) => s.aborted)).toEqual([false, false, false, false]);
    // undici may open a second socket while the first is being released; never one per stream.
    expect(new Set(fake.seen.map((s) => s.remotePort)).size).toBeLessThan(4);
  });
});
