import { afterEach, describe, expect, it } from 'vitest';
import { drain, tokenTexts } from '../../../test/support/adapter-test-kit.ts';
import { EngineError, type AdapterTimeouts, type CanonicalRequest, type WorkerAdapter } from '../contract.ts';
import { createTritonAdapter } from './adapter.ts';
import { encodeTritonRequest } from './encode.ts';
import { startTritonFake, tritonFakeTokens, type TritonFake, type TritonFakeOptions } from '../../../test/fakes/triton/fake.ts';
import { TRITON_PROFILES } from './options.ts';

const TIMEOUTS: AdapterTimeouts = { connectMs: 1_000, firstByteMs: 5_000, idleMs: 5_000 };
const REQ: CanonicalRequest = { taskId: 'task-1', model: 'ensemble', prompt: 'Tell me about queues', maxTokens: 12, seed: 42, temperature: 0.8 };
const never = () => new AbortController().signal;

let fake: TritonFake | undefined;
let adapter: WorkerAdapter | undefined;

interface Setup {
  fake?: TritonFakeOptions;
  timeouts?: Partial<AdapterTimeouts>;
  options?: Record<string, unknown>;
}

async function setup(s: Setup = {}): Promise<{ fake: TritonFake; adapter: WorkerAdapter }> {
  fake = await startTritonFake(s.fake);
  adapter = createTritonAdapter({
    baseUrl: fake.url,
    model: fake.model,
    timeouts: { ...TIMEOUTS, ...s.timeouts },
    options: { ctx_max: 8192, profile: s.fake?.profile ?? 'ensemble', ...s.options },
  });
  return { fake, adapter };
}

afterEach(async () => {
  await adapter?.close();
  await fake?.close();
  adapter = undefined;
  fake = undefined;
});

const expectedTexts = (n = REQ.maxTokens) => tritonFakeTokens(REQ.prompt, REQ.seed, n);

describe('Triton adapter against the fake server', () => {
  it('streams ensemble deltas through split chunks, keep-alives and extra tensors, ending with length', async () => {
    const { adapter } = await setup({ fake: { splitChunks: true, keepAliveEvery: 1 } });
    const { events, error } = await drain(adapter.stream(REQ, never()));
    expect(error).toBeUndefined();
    expect(tokenTexts(events)).toEqual(expectedTexts());
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'length' });
  });

  it('turns the llmapi model cumulative text into deltas', async () => {
    const { fake, adapter } = await setup({ fake: { profile: 'llmapi', splitChunks: true } });
    const { events } = await drain(adapter.stream({ ...REQ, model: fake.model }, never()));
    expect(tokenTexts(events)).toEqual(expectedTexts());
    expect(fake.seen[0]?.body).toMatchObject({ sampling_param_max_tokens: 12, streaming: true, sampling_param_seed: 42 });
  });

  it('tolerates the text output rendered as a one-element array', async () => {
    const { adapter } = await setup({ fake: { arrayOutput: true } });
    expect(tokenTexts((await drain(adapter.stream(REQ, never()))).events)).toEqual(expectedTexts());
  });

  // ORCH-0604
  it('sends exactly the encoded body and only its own headers, propagating traceparent', async () => {
    const { fake, adapter } = await setup();
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    await drain(adapter.stream({ ...REQ, traceparent }, never()));
    const seen = fake.seen[0];
    expect(seen?.path).toBe('/v2/models/ensemble/generate_stream');
    expect(seen?.body).toEqual(encodeTritonRequest(REQ, TRITON_PROFILES.ensemble));
    expect(Object.keys(seen?.headers ?? {}).sort()).toEqual(['accept', 'connection', 'content-length', 'content-type', 'host', 'traceparent']);
  });

  it('infers stop when the model ends before max_tokens and length when it reaches it', async () => {
    const { adapter } = await setup({ fake: { eosAfterTokens: 5 } });
    const early = await drain(adapter.stream(REQ, never()));
    expect(tokenTexts(early.events)).toEqual(expectedTexts(5));
    expect(early.events.at(-1)).toEqual({ type: 'end', finishReason: 'stop' });
    const full = await drain(adapter.stream({ ...REQ, maxTokens: 5 }, never()));
    expect(full.events.at(-1)).toEqual({ type: 'end', finishReason: 'length' });
  });

  it('ends with stop on a stop word', async () => {
    const { adapter } = await setup();
    const all = expectedTexts();
    const stopWord = all[3] as string;
    const firstHit = all.findIndex((t) => t.includes(stopWord));
    const { events } = await drain(adapter.stream({ ...REQ, stop: [stopWord] }, never()));
    expect(tokenTexts(events)).toEqual(all.slice(0, firstHit + 1));
    expect(events.at(-1)).toEqual({ type: 'end', finishReason: 'stop' });
  });

  it('reports connection refused while models load, then serves once the port opens', async () => {
    const { fake, adapter } = await setup({ fake: { mode: 'loading' } });
    expect(await adapter.health(never())).toMatchObject({ live: false, ready: false });
    expect((await drain(adapter.stream(REQ, never()))).error).toMatchObject({ code: 'POOL_UNREADY' });
    await expect(adapter.props(never())).rejects.toMatchObject({ code: 'POOL_UNREADY' });

    await fake.setMode('ready');
    expect(await adapter.health(never())).toEqual({ live: true, ready: true });
    expect(tokenTexts((await drain(adapter.stream(REQ, never()))).events)).toEqual(expectedTexts());
  });

  it('reports live but not ready on readiness 400, and generation as POOL_UNREADY', async () => {
    const { adapter } = await setup({ fake: { mode: 'unready' } });
    expect(await adapter.health(never())).toMatchObject({ live: true, ready: false });
    expect((await drain(adapter.stream(REQ, never()))).error).toMatchObject({ code: 'POOL_UNREADY' });
  });

  it('reads the version from /v2 and the model from its metadata, the rest from options', async () => {
    const { fake, adapter } = await setup({ fake: { version: '2.49.0' }, options: { max_batch_size: 8, ctx_max: 4096 } });
    expect(await adapter.props(never())).toEqual({ engineVersion: '2.49.0', model: 'ensemble', ctxMax: 4096, slotsTotal: 8, deterministic: false });
    // Bodiless GETs carry no content type.
    expect(fake.seen.map((s) => [s.method, s.headers['content-type']])).toEqual([['GET', undefined], ['GET', undefined]]);
    expect(adapter.capabilities).toEqual({ slotAffinity: false, deterministic: false, reportsSlots: false });
  });

  it('refuses props when the model lacks the configured output tensor or is not served', async () => {
    const { adapter } = await setup({ options: { output_name: 'OUTPUT_TEXT' } });
    await expect(adapter.props(never())).rejects.toMatchObject({ code: 'ENGINE_ERROR', message: 'the Triton replica metadata lacks output tensor OUTPUT_TEXT' });
    const other = createTritonAdapter({ baseUrl: fake?.url ?? '', model: 'missing', timeouts: TIMEOUTS, options: { ctx_max: 1 } });
    await expect(other.props(never())).rejects.toMatchObject({ code: 'ENGINE_ERROR', upstreamStatus: 404 });
    await other.close();
  });

  it('maps a queue-full 503 to REPLICA_EXHAUSTED with a retry hint', async () => {
    const { adapter } = await setup({ fake: { mode: 'overloaded' } });
    const { events, error } = await drain(adapter.stream(REQ, never()));
    expect(events).toEqual([]);
    expect(error).toBeInstanceOf(EngineError);
    expect(error).toMatchObject({ code: 'REPLICA_EXHAUSTED', retryAfterMs: 1_000, upstreamStatus: 503 });
  });

  it('maps a 400 for an input the model does not declare to INVALID_PARAMS', async () => {
    const { adapter } = await setup({ options: { input_names: { seed: 'random_seed' } } });
    const { error } = await drain(adapter.stream(REQ, never()));
    expect(error).toMatchObject({ code: 'INVALID_PARAMS', message: 'the Triton replica rejected the generation inputs' });
    expect((error as EngineError).upstreamDetail).toContain("unexpected inference input 'random_seed'");
  });

  it('maps a 500 before inference to ENGINE_ERROR', async () => {
    const { adapter } = await setup({ fake: { mode: 'fail-before-first-token' } });
    const { events, error } = await drain(adapter.stream(REQ, never()));
    expect(events).toEqual([]);
    expect(error).toMatchObject({ code: 'ENGINE_ERROR', upstreamStatus: 500 });
  });

  it('turns an in-band error after the first response into WORKER_RESET', async () => {
    const { adapter } = await setup({ fake: { mode: { kind: 'fail-at-token', at: 2 }, splitChunks: true } });
    const { events, error } = await drain(adapter.stream(REQ, never()));
    expect(tokenTexts(events)).toEqual(expectedTexts(2));
    expect(error).toMatchObject({ code: 'WORKER_RESET' });
    expect((error as EngineError).message).not.toContain('illegal');
  });

  it('turns a reset before any response into WORKER_RESET', async () => {
    const { adapter } = await setup({ fake: { mode: { kind: 'reset-at-token', at: 0 } } });
    const { events, error } = await drain(adapter.stream(REQ, never()));
    expect(events).toEqual([]);
    expect(error).toMatchObject({ code: 'WORKER_RESET' });
  });

  it('turns a reset mid-stream into WORKER_RESET after the tokens that arrived', async () => {
    const { adapter } = await setup({ fake: { mode: { kind: 'reset-at-token', at: 3 } } });
    const { events, error } = await drain(adapter.stream(REQ, never()));
    expect(tokenTexts(events)).toEqual(expectedTexts(3));
    expect(error).toMatchObject({ code: 'WORKER_RESET' });
  });

  it('gives up with DECODE_TIMEOUT when the first response never comes', async () => {
    const { fake, adapter } = await setup({ fake: { mode: { kind: 'hang-at-token', at: 0 } }, timeouts: { firstByteMs: 150 } });
    const { events, error } = await drain(adapter.stream(REQ, never()));
    expect(events).toEqual([]);
    expect(error).toMatchObject({ code: 'DECODE_TIMEOUT', message: expect.stringContaining('first-byte') });
    expect((await fake.settled(0)).aborted).toBe(true);
  });

  it('gives up with DECODE_TIMEOUT when the stream goes silent', async () => {
    const { fake, adapter } = await setup({ fake: { mode: { kind: 'hang-at-token', at: 2 } }, timeouts: { idleMs: 150 } });
    const { events, error } = await drain(adapter.stream(REQ, never()));
    expect(tokenTexts(events)).toEqual(expectedTexts(2));
    expect(error).toMatchObject({ code: 'DECODE_TIMEOUT', message: expect.stringContaining('idle') });
    expect((await fake.settled(0)).aborted).toBe(true);
  });

  // ORCH-0601
  it('closes the upstream socket on abort and the engine sees the disconnect', async () => {
    const { fake, adapter } = await setup({ fake: { tokensPerS: 25 } });
    const ac = new AbortController();
    const reason = new Error('client cancelled');
    let tokens = 0;
    const consumed = (async () => {
      for await (const e of adapter.stream({ ...REQ, maxTokens: 500 }, ac.signal)) {
        if (e.type === 'token' && ++tokens === 2) ac.abort(reason);
      }
    })();
    await expect(consumed).rejects.toBe(reason);
    const seen = await fake.settled(0);
    expect(seen.aborted).toBe(true);
    expect(seen.tokensSent).toBeLessThan(500);
  });

  it('closes the upstream socket when the consumer stops reading early', async () => {
    const { fake, adapter } = await setup({ fake: { tokensPerS: 25 } });
    for await (const e of adapter.stream({ ...REQ, maxTokens: 500 }, never())) {
      if (e.type === 'token') break;
    }
    expect((await fake.settled(0)).aborted).toBe(true);
  });

  it('reuses keep-alive connections across complete streams', async () => {
    const { fake, adapter } = await setup();
    for (let i = 0; i < 4; i++) await drain(adapter.stream(REQ, never()));
    expect(fake.seen.map((s) => s.aborted)).toEqual([false, false, false, false]);
    expect(new Set(fake.seen.map((s) => s.remotePort)).size).toBeLessThan(4);
  });
});
