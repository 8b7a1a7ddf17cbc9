// Drives one streaming POST whose body is newline-delimited JSON (Ollama's native framing): send,
// check status, split lines with NdjsonParser, hand each to an engine's pure decoder. Like
// sse-stream.ts it never retries and never maps errors: failures leave as UpstreamFailure.

import type { Upstream } from './http-agent.ts';
import { NdjsonParser, type NdjsonItem } from './ndjson-parser.ts';
import { failureOfStatus, releaseBody, type SseCall } from './sse-stream.ts';
import { UpstreamFailure, toUpstreamFailure, type InBandError } from './upstream-failure.ts';

/** An engine's NDJSON decoder: pure, stateful only across the lines of one stream. */
export interface NdjsonDecoder<E> {
  /** Decodes one line, appending what it yields to `out`; returns an in-band error to stop. */
  push(item: NdjsonItem, out: E[]): InBandError | undefined;
  /** True once the terminal line arrived; later bytes are drained, not decoded. */
  readonly complete: boolean;
  /** The body ended: appends any closing output; false when the stream was cut short. */
  finish(out: E[]): boolean;
}

export type NdjsonCall = SseCall;

export async function* streamNdjson<E>(
  upstream: Upstream,
  call: NdjsonCall,
  decoder: NdjsonDecoder<E>,
  signal: AbortSignal,
): AsyncGenerator<E, void, undefined> {
  const res = await upstream.request({ method: 'POST', path: call.path, body: call.body, headers: call.headers, signal });
  if (res.status < 200 || res.status > 299) throw await failureOfStatus(res);
  // Same body handling as sse-stream.ts: undici yields Buffers; leaving the loop must not destroy it.
  const chunks = (res.body.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const parser = new NdjsonParser();
  const out: E[] = [];
  try {
    for (let ended = false; !ended; ) {
      const next = await chunks.next();
      ended = next.done === true;
      for (const item of ended ? parser.end() : parser.push(next.value as Uint8Array)) {
        const inBand = decoder.push(item, out);
        for (const event of out) yield event;
        out.length = 0;
        if (inBand !== undefined) {
          throw new UpstreamFailure('in-band', 'engine reported an error inside the stream', { inBand, status: res.status });
        }
        if (decoder.complete) return;
      }
    }
    if (!decoder.finish(out)) throw new UpstreamFailure('truncated', 'stream ended before its terminal line');
    for (const event of out) yield event;
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw toUpstreamFailure(err);
  } finally {
    releaseBody(res, decoder.complete);
  }
}
