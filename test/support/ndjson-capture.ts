// Replays a recorded NDJSON capture through an engine decoder exactly as streamNdjson would,
// without any I/O: the golden fixture tests of NDJSON engines (Ollama) compare byte for byte.

import { NdjsonParser, type NdjsonItem } from '../../src/transport/ndjson-parser.ts';
import type { NdjsonDecoder } from '../../src/transport/ndjson-stream.ts';
import { UpstreamFailure, type InBandError } from '../../src/transport/upstream-failure.ts';
import type { EngineError } from '../../src/adapters/contract.ts';
import type { CaptureResult } from './sse-capture.ts';

export function decodeNdjsonCapture<E>(decoder: NdjsonDecoder<E>, chunks: Iterable<Uint8Array>): CaptureResult<E> {
  const parser = new NdjsonParser();
  const events: E[] = [];
  const feed = (items: NdjsonItem[]): InBandError | undefined => {
    for (const item of items) {
      if (decoder.complete) continue;
      const error = decoder.push(item, events);
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

/** A capture decoded without I/O, with the code the engine's error map gives how it ended (null = whole). */
export function decodeNdjsonOutcome<E>(
  decoder: NdjsonDecoder<E> & { readonly tokens: number },
  chunks: Uint8Array[],
  toError: (err: unknown, tokens: number) => EngineError,
): CaptureResult<E> & { code: string | null } {
  const result = decodeNdjsonCapture(decoder, chunks);
  const failure = result.error !== null
    ? new UpstreamFailure('in-band', 'in-band', { inBand: result.error })
    : result.complete ? undefined : new UpstreamFailure('truncated', 'truncated');
  return { ...result, code: failure === undefined ? null : toError(failure, decoder.tokens).code };
}
