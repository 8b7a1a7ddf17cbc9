// An undici Pool whose calls keep nothing of the response head they no longer need (issue 14).
// undici leaves a response's raw headers on the call's controller for as long as the call is
// open: one Buffer per header name and value, each a view into the socket read that carried
// the head, so that read's backing store stays alive too. An engine stream is open for its whole
// generation; at 10,000 open streams that was ≈ 2 KiB each (heap snapshots at 2,000 streams:
// 12 header Buffers, their array and a ~640-byte read buffer per call). Callers get the parsed
// headers object as before (pool.request's `headers`), which is all the gateway reads.
// A streaming engine call's handler (push-call.ts) drops the head itself and goes in unwrapped.

import { Pool, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';

type Controller = Dispatcher.DispatchController;

/** Passes every callback to the handler pool.request built, then drops the raw head it was handed. */
class ForgetRawHeaders implements Dispatcher.DispatchHandler {
  readonly #inner: Dispatcher.DispatchHandler;

  constructor(inner: Dispatcher.DispatchHandler) {
    this.#inner = inner;
  }

  onRequestStart(controller: Controller, context: unknown): void {
    this.#inner.onRequestStart?.(controller, context);
  }

  onRequestUpgrade(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, socket: Duplex): void {
    this.#inner.onRequestUpgrade?.(controller, statusCode, headers, socket);
  }

  onResponseStart(controller: Controller, statusCode: number, headers: IncomingHttpHeaders, statusMessage?: string): void {
    this.#inner.onResponseStart?.(controller, statusCode, headers, statusMessage);
    // Read (for `responseHeaders: 'raw'`) only inside the call above; nothing reads it later.
    controller.rawHeaders = null;
  }

  onResponseData(controller: Controller, chunk: Buffer): void {
    this.#inner.onResponseData?.(controller, chunk);
  }

  onResponseEnd(controller: Controller, trailers: IncomingHttpHeaders): void {
    this.#inner.onResponseEnd?.(controller, trailers);
  }

  onResponseError(controller: Controller, error: Error): void {
    this.#inner.onResponseError?.(controller, error);
  }
}

/** A Pool whose every call (request, stream, ...) goes through ForgetRawHeaders: one small object per call. */
export class LeanPool extends Pool {
  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return super.dispatch(options, new ForgetRawHeaders(handler));
  }

  /** For a handler that clears `controller.rawHeaders` itself in onResponseStart: no wrapper object. */
  dispatchLean(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    return super.dispatch(options, handler);
  }
}
