// Replays a recorded SSE capture through an engine decoder exactly as streamSse would, without
// any I/O: the golden fixture tests (through adapter-test-kit.ts) compare decoders byte for byte.

import { SseParser } from '../../src/transport/sse-parser.ts';
import type { SseDecoder } from '../../src/transport/sse-stream.ts';
import type { InBandError } from '../../src/transport/upstream-failure.ts';

export interface CaptureResult<E> {
  events: E[];
  /** The in-band error that stopped the stream, if any. */
  error: InBandError | null;
  /** Whether the capture ended as a whole stream (false = truncated or stopped by an error). */
  complete: boolean;
}

export function decodeCapture<E>(decoder: SseDecoder<E>, chunks: Iterable<Uint8Array>): CaptureResult<E> {
  const parser = new SseParser();
  const events: E[] = [];
  const feed = (messages: ReturnType<SseParser['push']>): InBandError | undefined => {
    for (const msg of messages) {
      if (decoder.complete) continue;
      const error = decoder.push(msg, events);
      if (error !== undefined) return error;
    }
    return undefined;
  };
  for (const chunk of chunks) {
    const error = feed(parser.push(chunk));
    if (error !== undefined) return { events, error, complete: false };
  }
  const error = feed(parser.end());
  if (error !== undefined) return { events, error, complete: false };
  return { events, error: null, complete: decoder.finish(events) };
}
