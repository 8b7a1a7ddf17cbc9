// The shapes a streaming engine call is built from: the framer and decoder that turn body bytes
// into items, the call itself and the sink its items go to. body-pump.ts drives a call with
// them and push-call.ts receives its answer; both import them from here.

import type { IncomingHttpHeaders } from 'node:http';
import type { InBandError } from './upstream-failure.ts';

/** Splits body bytes into wire messages (SseParser, NdjsonParser). */
export interface Framer<M> {
  push(chunk: Uint8Array): M[];
  /** The body ended: messages completed by flushing. */
  end(): M[];
}

/** An engine's wire decoder: pure, stateful only across the messages of one stream. */
export interface FrameDecoder<M, E> {
  /** Decodes one message, appending what it yields to `out`; returns an in-band error to stop. */
  push(msg: M, out: E[]): InBandError | undefined;
  /** True once the stream's terminal content arrived; later bytes are drained, not decoded. */
  readonly complete: boolean;
  /** The body ended: appends any closing output; false when the stream was cut short. */
  finish(out: E[]): boolean;
}

export interface StreamCall {
  path: string;
  body: string;
  headers: Record<string, string>;
  /** Sees every answer's status and headers before the body is read (hosted providers' rate-limit headers). */
  onResponse?(status: number, headers: IncomingHttpHeaders): void;
}

/**
 * Receives the items decoded from one body read, in order; the array is reused once it returns
 * (copy what you keep). Returning false stops the stream: its body is cut unless complete.
 */
export type ItemSink<E> = (items: readonly E[]) => boolean;

export interface PumpSpec<M, E> {
  framer: Framer<M>;
  decoder: FrameDecoder<M, E>;
  /** Names the terminal message in the truncation error ("event", "line"). */
  terminal: string;
}
