// What the engine adapters' tests share, and only their tests import: draining a canonical
// stream while keeping what arrived before a failure, golden fixture pairs and the ways their
// bytes are cut, a replayed upstream. Assertions stay in the tests (no vitest here).

import { readdirSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { setImmediate as setImmediatePromise } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import type { Upstream, UpstreamBody } from '../../src/transport/http-agent.ts';
import { decodeCapture, type CaptureResult } from './sse-capture.ts';
import { streamSse, type SseDecoder } from '../../src/transport/sse-stream.ts';
import { UpstreamFailure } from '../../src/transport/upstream-failure.ts';
import { EngineError, type AdapterInit, type CanonicalEvent } from '../../src/adapters/contract.ts';
import type { CountingDecoder } from '../../src/adapters/http/engine.ts';

export interface StreamOutcome {
  events: CanonicalEvent[];
  error?: unknown;
}

/** Runs a stream to its end or failure, keeping what arrived before a failure. */
export async function drain(stream: AsyncIterable<CanonicalEvent>): Promise<StreamOutcome> {
  const events: CanonicalEvent[] = [];
  try {
    for await (const e of stream) events.push(e);
    return { events };
  } catch (error) {
    return { events, error };
  }
}

export const tokenTexts = (events: readonly CanonicalEvent[]): string[] =>
  events.flatMap((e) => (e.type === 'token' ? [e.text] : []));

/** The failure as an EngineError; anything else fails the test. */
export function asEngineError(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  throw new Error(`expected an EngineError, got ${String(err)}`);
}

/** An HTTP adapter's init with short timeouts and fast, few retries. */
export function quickInit(baseUrl: string, over: Partial<AdapterInit> = {}): AdapterInit {
  return {
    baseUrl,
    model: 'fake-model',
    timeouts: { connectMs: 1_000, firstByteMs: 2_000, idleMs: 2_000 },
    options: { retry_attempts: 2, retry_base_ms: 5, retry_cap_ms: 20, overload_retry_after_ms: 250 },
    ...over,
  };
}

export interface GoldenFixture {
  name: string;
  bytes: Uint8Array;
  /** The parsed `name.json`; each suite knows its shape. */
  expected: unknown;
}

/** Every `name.sse` capture in `dir` with its `name.json` expectation. */
export function goldenFixtures(dir: URL): GoldenFixture[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sse'))
    .map((f) => {
      const name = f.slice(0, -'.sse'.length);
      const bytes = new Uint8Array(readFileSync(new URL(`${name}.sse`, dir)));
      return { name, bytes, expected: JSON.parse(readFileSync(new URL(`${name}.json`, dir), 'utf8')) as unknown };
    });
}

/** The capture cut in two at every byte boundary, then one byte per chunk. */
export function* splits(bytes: Uint8Array): Generator<Uint8Array[]> {
  for (let cut = 1; cut < bytes.length; cut++) yield [bytes.subarray(0, cut), bytes.subarray(cut)];
  yield Array.from(bytes, (_, i) => bytes.subarray(i, i + 1));
}

type ToError = (err: unknown, tokens: number) => EngineError;

/** A capture decoded without I/O, with the code the engine's error map gives how it ended (null = whole). */
export function decodeOutcome<E = CanonicalEvent>(
  decoder: SseDecoder<E> & { readonly tokens: number },
  chunks: Uint8Array[],
  toError: ToError,
): CaptureResult<E> & { code: string | null } {
  const result = decodeCapture(decoder, chunks);
  const failure = result.error !== null
    ? new UpstreamFailure('in-band', 'in-band', { inBand: result.error })
    : result.complete ? undefined : new UpstreamFailure('truncated', 'truncated');
  return { ...result, code: failure === undefined ? null : toError(failure, decoder.tokens).code };
}

export interface ReplayOutcome {
  events: CanonicalEvent[];
  error?: { code: string; retryAfterMs?: number; upstreamDetail?: string };
}

/** A capture run through the real stream loop (streamSse on a replayed upstream) and the engine's error map. */
export async function replayOutcome(decoder: CountingDecoder, chunks: Uint8Array[], toError: ToError): Promise<ReplayOutcome> {
  const events: CanonicalEvent[] = [];
  const call = { path: '/generate_stream', body: '{}', headers: {} };
  try {
    for await (const event of streamSse(replayUpstream(chunks), call, decoder, new AbortController().signal)) events.push(event);
    return { events };
  } catch (err) {
    const mapped = toError(err, decoder.tokens);
    const error: ReplayOutcome['error'] = { code: mapped.code, upstreamDetail: mapped.upstreamDetail };
    if (mapped.retryAfterMs !== undefined) error.retryAfterMs = mapped.retryAfterMs;
    return { events, error };
  }
}

/** An upstream that answers 200 with the given body chunks: the adapter's real stream loop runs on it. */
function replayUpstream(chunks: Uint8Array[]): Upstream {
  return {
    request: async () => ({ status: 200, headers: {}, body: Readable.from(chunks) as unknown as UpstreamBody /* only iterated and destroyed */ }),
    dispatch: (_call, handler) => void replayTo(handler, chunks),
    close: async () => {},
  };
}

/** Plays the answer to a dispatch handler as undici would, one chunk per tick; an abort reports at once. */
async function replayTo(handler: Dispatcher.DispatchHandler, chunks: Uint8Array[]): Promise<void> {
  const controller: Dispatcher.DispatchController = {
    aborted: false,
    paused: false,
    reason: null,
    rawHeaders: null,
    abort(reason) {
      if (this.aborted) return;
      Object.assign(this, { aborted: true, reason });
      handler.onResponseError?.(this, reason);
    },
    pause: () => undefined,
    resume: () => undefined,
  };
  handler.onRequestStart?.(controller, null);
  await setImmediatePromise();
  if (controller.aborted) return;
  handler.onResponseStart?.(controller, 200, {});
  for (const chunk of chunks) {
    await setImmediatePromise();
    if (controller.aborted) return;
    handler.onResponseData?.(controller, Buffer.from(chunk));
  }
  if (!controller.aborted) handler.onResponseEnd?.(controller, {});
}
