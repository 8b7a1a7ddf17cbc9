// Drives one streaming POST by push: send, check status, then decode each body read as it
// arrives (framer → engine decoder) and hand that read's items to a sink in one synchronous
// call: no promise and no generator hop per item (issue 14). SSE and NDJSON share it through
// their framers. It never retries and never maps errors to the taxonomy: failures reject as
// UpstreamFailure, an abort rejects with the signal's reason.

import type { IncomingHttpHeaders } from 'node:http';
import type { Upstream, UpstreamResponse } from './http-agent.ts';
import { readBodyText } from './http-agent.ts';
import { ERROR_BODY_LIMIT, UpstreamFailure, statusFailure, toUpstreamFailure, type InBandError } from './upstream-failure.ts';

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

/** Resolves once the terminal message was delivered, the body ended cleanly, or the sink stopped. */
export async function pumpCall<M, E>(upstream: Upstream, call: StreamCall, spec: PumpSpec<M, E>, signal: AbortSignal, sink: ItemSink<E>): Promise<void> {
  const res = await upstream.request({ method: 'POST', path: call.path, body: call.body, headers: call.headers, signal });
  call.onResponse?.(res.status, res.headers);
  if (res.status < 200 || res.status > 299) throw await failureOfStatus(res);
  return new Promise<void>((resolve, reject) => pumpBody(res, spec, signal, sink, { resolve, reject }));
}

function pumpBody<M, E>(res: UpstreamResponse, spec: PumpSpec<M, E>, signal: AbortSignal, sink: ItemSink<E>, done: { resolve: () => void; reject: (err: unknown) => void }): void {
  const { framer, decoder } = spec;
  const body = res.body;
  const out: E[] = [];
  let settled = false;
  const settle = (err?: unknown): void => {
    if (settled) return;
    settled = true;
    body.off('data', onData);
    body.off('end', onEnd);
    body.off('error', onError);
    body.off('close', onClose);
    releaseBody(res, decoder.complete);
    if (err === undefined) done.resolve();
    else done.reject(signal.aborted ? signal.reason : toUpstreamFailure(err));
  };
  /** Decodes one read's messages and delivers their items; true once the stream is settled. */
  const consume = (messages: readonly M[]): boolean => {
    let inBand: InBandError | undefined;
    for (const msg of messages) {
      inBand = decoder.push(msg, out);
      // Stop at the terminal message: an engine that then keeps the socket open must not turn
      // a finished stream into a timeout.
      if (inBand !== undefined || decoder.complete) break;
    }
    const more = out.length === 0 || sink(out);
    out.length = 0;
    if (inBand !== undefined) settle(new UpstreamFailure('in-band', 'engine reported an error inside the stream', { inBand, status: res.status }));
    else if (decoder.complete || !more) settle();
    return settled;
  };
  function onData(chunk: Uint8Array): void {
    try {
      consume(framer.push(chunk));
    } catch (err) {
      settle(err);
    }
  }
  function onEnd(): void {
    try {
      if (consume(framer.end())) return;
      if (!decoder.finish(out)) return settle(new UpstreamFailure('truncated', `stream ended before its terminal ${spec.terminal}`));
      if (out.length > 0) sink(out);
      out.length = 0;
      settle();
    } catch (err) {
      settle(err);
    }
  }
  function onError(err: unknown): void {
    settle(err);
  }
  function onClose(): void {
    settle(Object.assign(new Error('the response body closed before it ended'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
  }
  if (body.destroyed) return onError(body.errored ?? new Error('the response body was destroyed before it was read'));
  body.on('error', onError);
  body.on('end', onEnd);
  body.on('close', onClose);
  body.on('data', onData);
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

/**
 * The pull form of a push source, for callers that iterate: items queue as the source delivers
 * them (an engine answer is bounded by max_tokens, so the queue is too); leaving the loop early
 * aborts the source, which cuts its body.
 */
export async function* pulled<E>(signal: AbortSignal, start: (signal: AbortSignal, sink: ItemSink<E>) => Promise<void>): AsyncGenerator<E, void, undefined> {
  const leave = new AbortController();
  const queue: E[] = [];
  let wake: (() => void) | undefined;
  let ended: { error?: unknown } | undefined;
  const sink: ItemSink<E> = (items) => {
    for (const item of items) queue.push(item);
    wake?.();
    return true;
  };
  start(AbortSignal.any([signal, leave.signal]), sink).then(
    () => {
      ended = {};
      wake?.();
    },
    (error: unknown) => {
      ended = { error };
      wake?.();
    },
  );
  try {
    for (let next = 0; ; ) {
      while (next < queue.length) {
        // Items of one read queue together: an abort stops their delivery too, at once.
        if (signal.aborted) throw signal.reason;
        yield queue[next++] as E;
      }
      queue.length = 0;
      next = 0;
      if (ended) {
        if ('error' in ended) throw ended.error;
        return;
      }
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    if (!ended) leave.abort(new Error('the reader left the stream'));
  }
}
