// One streaming engine call as an undici dispatch handler (issue 14): each body chunk undici
// parses goes through the framer and decoder to the sink inside the socket's own read. What
// pool.request() built per call instead (a handler in its own async scope, a Readable body and
// its listeners, a promise for the head, a tick per read) is gone: this one object holds it all.
// Outcomes are those of the stream API it replaces: the terminal message resolves (what follows
// is drained to keep the socket), a non-2xx answer rejects with its status failure, an abort
// rejects with the signal's reason and cuts the socket, so the engine sees the request go.

import type { IncomingHttpHeaders } from 'node:http';
import { TextDecoder } from 'node:util';
import type { Dispatcher } from 'undici';
import type { ItemSink, PumpSpec, StreamCall } from './pump-spec.ts';
import { ERROR_BODY_LIMIT, UpstreamFailure, statusFailure, toUpstreamFailure } from './upstream-failure.ts';

type Controller = Dispatcher.DispatchController;

/**
 * head: waiting for the status; body: decoding a 2xx stream; status: reading a non-2xx answer's
 * text; drain: settled after the terminal message, reading what follows to keep the socket;
 * over: nothing more is wanted (the answer ended, or the call was cut).
 */
type Phase = 'head' | 'body' | 'status' | 'drain' | 'over';

/** Bytes we are willing to read after the terminal message to keep the socket; beyond that, cut. */
const DRAIN_LIMIT = 64 * 1024;

/** A non-2xx answer being read for its failure (rare: allocated only then). */
interface StatusAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  decoder: TextDecoder;
  text: string;
  seen: number;
}

export interface Settle {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class PushCall<M, E> implements Dispatcher.DispatchHandler {
  readonly #spec: PumpSpec<M, E>;
  readonly #onResponse: StreamCall['onResponse'];
  readonly #signal: AbortSignal;
  readonly #sink: ItemSink<E>;
  readonly #settle: Settle;
  /** The items of one read; reused (the sink copies what it keeps). */
  readonly #out: E[] = [];
  #controller: Controller | null = null;
  #phase: Phase = 'head';
  #status = 0;
  #settled = false;
  /** Inside the sink: an abort it causes is acted on once it returned, as with a body stream. */
  #inSink = false;
  #abortedInSink = false;
  #drained = 0;
  #answer: StatusAnswer | null = null;

  constructor(spec: PumpSpec<M, E>, call: StreamCall, signal: AbortSignal, sink: ItemSink<E>, settle: Settle) {
    this.#spec = spec;
    this.#onResponse = call.onResponse;
    this.#signal = signal;
    this.#sink = sink;
    this.#settle = settle;
    // The object is its own listener (handleEvent): no closure per call.
    signal.addEventListener('abort', this);
  }

  /** The signal aborted. */
  handleEvent(): void {
    if (this.#inSink) this.#abortedInSink = true;
    else this.#abort();
  }

  onRequestStart(controller: Controller): void {
    this.#controller = controller;
    // Aborted (or failed) while queued for a socket: the request is never written.
    if (this.#phase === 'over') controller.abort(this.#signal.reason instanceof Error ? this.#signal.reason : new Error('the call was abandoned'));
  }

  onResponseStart(controller: Controller, status: number, headers: IncomingHttpHeaders): void {
    // The raw head (one Buffer per name and value, views into a socket read) is not needed.
    controller.rawHeaders = null;
    if (status < 200 || this.#phase !== 'head') return;
    try {
      this.#onResponse?.(status, headers);
    } catch (err) {
      this.#end(err, false);
      return;
    }
    this.#status = status;
    if (status > 299) {
      this.#phase = 'status';
      this.#answer = { status, headers, decoder: new TextDecoder('utf-8'), text: '', seen: 0 };
    } else {
      this.#phase = 'body';
    }
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    switch (this.#phase) {
      case 'body':
        return this.#guarded(chunk);
      case 'status':
        return this.#readAnswer(chunk);
      case 'drain':
        this.#drained += chunk.byteLength;
        if (this.#drained > DRAIN_LIMIT) this.#cut(new Error('too much data after the terminal message'));
        return;
      default:
        return;
    }
  }

  onResponseEnd(): void {
    const phase = this.#phase;
    this.#phase = 'over';
    if (phase === 'body') this.#guarded(null);
    else if (phase === 'status') this.#failStatus();
  }

  onResponseError(_controller: Controller | null, error: Error): void {
    const phase = this.#phase;
    this.#phase = 'over';
    if (phase === 'status') this.#failStatus();
    else this.#end(error);
  }

  /** Decodes one chunk (null: the body ended) and delivers its items; acts on an abort the sink caused. */
  #guarded(chunk: Buffer | null): void {
    this.#inSink = true;
    try {
      if (chunk === null) this.#ended();
      else this.#consume(this.#spec.framer.push(chunk));
    } catch (err) {
      this.#end(err);
    } finally {
      this.#inSink = false;
    }
    if (this.#abortedInSink) this.#abort();
  }

  /** Decodes one read's messages and delivers their items; settles on the terminal message, an in-band error or a stopping sink. */
  #consume(messages: readonly M[]): void {
    const { decoder } = this.#spec;
    const out = this.#out;
    let inBand;
    for (const msg of messages) {
      inBand = decoder.push(msg, out);
      // Stop at the terminal message: an engine that then keeps the socket open must not turn
      // a finished stream into a timeout.
      if (inBand !== undefined || decoder.complete) break;
    }
    const more = out.length === 0 || this.#sink(out);
    out.length = 0;
    if (inBand !== undefined) this.#end(new UpstreamFailure('in-band', 'engine reported an error inside the stream', { inBand, status: this.#status }));
    else if (decoder.complete || !more) this.#end(undefined);
  }

  /** The body ended: flush the framer, then the decoder says whether the stream was whole. */
  #ended(): void {
    this.#consume(this.#spec.framer.end());
    if (this.#settled) return;
    const out = this.#out;
    if (!this.#spec.decoder.finish(out)) return this.#end(new UpstreamFailure('truncated', `stream ended before its terminal ${this.#spec.terminal}`));
    if (out.length > 0) this.#sink(out);
    out.length = 0;
    this.#end(undefined);
  }

  #readAnswer(chunk: Buffer): void {
    const answer = this.#answer as StatusAnswer;
    const room = ERROR_BODY_LIMIT - answer.seen;
    const part = chunk.byteLength > room ? chunk.subarray(0, room) : chunk;
    answer.seen += part.byteLength;
    answer.text += answer.decoder.decode(part, { stream: true });
    // Enough for the logs: the rest is not read, and its socket is dropped.
    if (answer.seen >= ERROR_BODY_LIMIT) this.#failStatus();
  }

  #failStatus(): void {
    const answer = this.#answer as StatusAnswer;
    this.#answer = null;
    this.#end(statusFailure(answer.status, answer.headers, answer.text + answer.decoder.decode()), false);
  }

  #abort(): void {
    this.#end(this.#signal.reason, false);
  }

  /**
   * Settles the call once: resolves without `err`, else rejects with it (classified when `classify`;
   * the signal's reason wins once aborted). A finished stream's socket is kept (what follows the
   * terminal message is drained); an answer still arriving is cut.
   */
  #end(err: unknown, classify = true): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#signal.removeEventListener('abort', this);
    if (this.#phase === 'body' && this.#spec.decoder.complete && !this.#signal.aborted) this.#phase = 'drain';
    else if (this.#phase !== 'over') this.#cut(err instanceof Error ? err : new Error('the call was abandoned'));
    if (err === undefined) this.#settle.resolve();
    else this.#settle.reject(this.#signal.aborted ? this.#signal.reason : classify ? toUpstreamFailure(err) : err);
  }

  /**
   * Drops the call: the socket of an answer still arriving is destroyed (undici reports that as an
   * error, which finds the call settled); a call still queued is dropped once it starts.
   */
  #cut(reason: Error): void {
    this.#phase = 'over';
    this.#controller?.abort(reason);
  }
}
