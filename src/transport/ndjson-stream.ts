// One streaming POST whose body is newline-delimited JSON (Ollama's native framing): NdjsonParser
// splits lines, an engine's pure decoder turns each into items, pushed per body read
// (`pumpNdjson`) or iterated (`streamNdjson`). Like sse-stream.ts it never retries and never
// maps errors: failures leave as UpstreamFailure.

import { pulled, pumpCall, type FrameDecoder, type ItemSink, type StreamCall } from './body-pump.ts';
import type { Upstream } from './http-agent.ts';
import { NdjsonParser, type NdjsonItem } from './ndjson-parser.ts';

/** An engine's NDJSON decoder: pure, stateful only across the lines of one stream. */
export type NdjsonDecoder<E> = FrameDecoder<NdjsonItem, E>;

export type NdjsonCall = StreamCall;

/** Pushes each body read's decoded items to `sink`; resolves after the terminal line (or when the sink stops). */
export function pumpNdjson<E>(upstream: Upstream, call: NdjsonCall, decoder: NdjsonDecoder<E>, signal: AbortSignal, sink: ItemSink<E>): Promise<void> {
  return pumpCall(upstream, call, { framer: new NdjsonParser(), decoder, terminal: 'line' }, signal, sink);
}

export function streamNdjson<E>(upstream: Upstream, call: NdjsonCall, decoder: NdjsonDecoder<E>, signal: AbortSignal): AsyncGenerator<E, void, undefined> {
  return pulled<E>(signal, (linked, sink) => pumpNdjson(upstream, call, decoder, linked, sink));
}
