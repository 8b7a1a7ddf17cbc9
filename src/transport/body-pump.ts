// Drives one streaming POST by push: send, check status, then decode each body chunk as undici
// parses it (framer → engine decoder) and hand that chunk's items to a sink in one synchronous
// call: no body stream, no promise and no generator hop per item (issue 14). SSE and NDJSON share it through
// their framers. It never retries and never maps errors to the taxonomy: failures reject as
// UpstreamFailure, an abort rejects with the signal's reason.

import type { Upstream } from './http-agent.ts';
import { PushCall } from './push-call.ts';
import type { ItemSink, PumpSpec, StreamCall } from './pump-spec.ts';

export type { FrameDecoder, Framer, ItemSink, PumpSpec, StreamCall } from './pump-spec.ts';

/**
 * Resolves once the terminal message was delivered, the body ended cleanly, or the sink stopped.
 * The answer is pushed to a PushCall (push-call.ts) chunk by chunk: no body stream in between.
 */
export function pumpCall<M, E>(upstream: Upstream, call: StreamCall, spec: PumpSpec<M, E>, signal: AbortSignal, sink: ItemSink<E>): Promise<void> {
  // Never sent: the engine has nothing to cancel.
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<void>((resolve, reject) => {
    upstream.dispatch({ method: 'POST', path: call.path, body: call.body, headers: call.headers }, new PushCall(spec, call, signal, sink, { resolve, reject }));
  });
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
