// One streaming POST whose body is Server-Sent Events: SseParser frames it, an engine's pure
// decoder turns each message into items. `pumpSse` pushes each body read's items to a sink (the
// dispatcher's per-token path); `streamSse` is the same call for callers that iterate.
// It never retries (a stream that has started cannot be replayed) and never maps errors to
// the taxonomy: failures leave as UpstreamFailure.

import { pulled, pumpCall, type FrameDecoder, type ItemSink, type StreamCall } from './body-pump.ts';
import type { Upstream } from './http-agent.ts';
import { SseParser, type SseMessage } from './sse-parser.ts';

/** An engine's SSE decoder: pure, stateful only across the messages of one stream. */
export type SseDecoder<E> = FrameDecoder<SseMessage, E>;

export type SseCall = StreamCall;

/** Pushes each body read's decoded items to `sink`; resolves after the terminal event (or when the sink stops). */
export function pumpSse<E>(upstream: Upstream, call: SseCall, decoder: SseDecoder<E>, signal: AbortSignal, sink: ItemSink<E>): Promise<void> {
  return pumpCall(upstream, call, { framer: new SseParser(), decoder, terminal: 'event' }, signal, sink);
}

export function streamSse<E>(upstream: Upstream, call: SseCall, decoder: SseDecoder<E>, signal: AbortSignal): AsyncGenerator<E, void, undefined> {
  return pulled<E>(signal, (linked, sink) => pumpSse(upstream, call, decoder, linked, sink));
}
