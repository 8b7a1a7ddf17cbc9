// Drives one streaming POST: send, check status, parse SSE, hand each message to an engine's
// pure decoder and yield what it produced. It never retries (a stream that has started cannot
// be replayed) and never maps errors to the taxonomy: failures leave as UpstreamFailure.

import type { IncomingHttpHeaders } from 'node:http';
import { readBodyText, type Upstream, type UpstreamResponse } from './http-agent.ts';
import { SseParser, type SseMessage } from './sse-parser.ts';
import { ERROR_BODY_LIMIT, UpstreamFailure, statusFailure, toUpstreamFailure, type InBandError } from './upstream-failure.ts';

/** An engine's wire decoder: pure, stateful only across the messages of one stream. */
export interface SseDecoder<E> {
  /** Decodes one message, appending what it yields to `out`; returns an in-band error to stop. */
  push(msg: SseMessage, out: E[]): InBandError | undefined;
  /** True once the stream's terminal content arrived; later bytes are drained, not decoded. */
  readonly complete: boolean;
  /** The body ended: appends any closing output; false when the stream was cut short. */
  finish(out: E[]): boolean;
}

export interface SseCall {
  path: string;
  body: string;
  headers: Record<string, string>;
  /** Sees every answer's status and headers before the body is read (hosted providers' rate-limit headers). */
  onResponse?(status: number, headers: IncomingHttpHeaders): void;
}

export async function* streamSse<E>(
  upstream: Upstream,
  call: SseCall,
  decoder: SseDecoder<E>,
  signal: AbortSignal,
): AsyncGenerator<E, void, undefined> {
  const res = await upstream.request({ method: 'POST', path: call.path, body: call.body, headers: call.headers, signal });
  call.onResponse?.(res.status, res.headers);
  if (res.status < 200 || res.status > 299) throw await failureOfStatus(res);
  // Leaving the loop must not destroy the body by itself: a finished stream is drained so its
  // socket goes back to the pool, an unfinished one is cut on purpose (see finally).
  const chunks = (res.body.iterator({ destroyOnReturn: false }) as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  // The parser is driven here directly (not through parseSse's generator): one async hop less
  // per chunk on the per-token path.
  const parser = new SseParser();
  const out: E[] = [];
  try {
    for (let ended = false; !ended; ) {
      const next = await chunks.next();
      ended = next.done === true;
      for (const msg of ended ? parser.end() : parser.push(next.value as Uint8Array)) {
        const inBand = decoder.push(msg, out);
        for (const item of out) yield item;
        out.length = 0;
        if (inBand !== undefined) {
          throw new UpstreamFailure('in-band', 'engine reported an error inside the stream', { inBand, status: res.status });
        }
        // Stop at the terminal event: an engine that then keeps the socket open must not turn
        // a finished stream into a timeout.
        if (decoder.complete) return;
      }
    }
    if (!decoder.finish(out)) throw new UpstreamFailure('truncated', 'stream ended before its terminal event');
    for (const item of out) yield item;
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    throw toUpstreamFailure(err);
  } finally {
    releaseBody(res, decoder.complete);
  }
}

/** Bytes we are willing to read after the terminal event to keep the socket; beyond that, cut. */
const DRAIN_LIMIT = 64 * 1024;

/** Hands a finished body's socket back to the pool (drained within a limit) or cuts an unfinished one. */
export function releaseBody(res: UpstreamResponse, complete: boolean): void {
  const body = res.body;
  if (body.readableEnded || body.destroyed) return;
  // Destroying an unfinished undici body emits an abort error nobody is left to read.
  body.on('error', () => undefined);
  if (!complete) {
    body.destroy();
    return;
  }
  let extra = 0;
  body.on('data', (chunk: Uint8Array) => {
    extra += chunk.byteLength;
    if (extra > DRAIN_LIMIT) body.destroy();
  });
  body.resume();
}

export async function failureOfStatus(res: UpstreamResponse): Promise<UpstreamFailure> {
  const bodyText = await readBodyText(res.body, ERROR_BODY_LIMIT).catch(() => '');
  return statusFailure(res.status, res.headers, bodyText);
}
