// The skeleton every HTTP engine adapter shares: its upstream pool built from the adapter's
// timeouts and `max_connections`, the streaming call that turns failures into the engine's
// EngineError, and the split by workload (completion vs chat). What is engine-specific (paths,
// wire codecs, error mapping) is passed in.

import type { AdapterInit, CanonicalEvent, CanonicalRequest, ChatCanonicalRequest, EngineError, EventSink, WorkerAdapter } from '../contract.ts';
import { createUpstream, type Upstream } from '../../transport/http-agent.ts';
import { pulled } from '../../transport/body-pump.ts';
import { pumpSse, type SseCall, type SseDecoder } from '../../transport/sse-stream.ts';
import type { HttpOptions } from './http-options.ts';

/** One keep-alive pool to `init.baseUrl`: first-byte budget = headers timeout, idle = body timeout. */
export function createEngineUpstream(init: Pick<AdapterInit, 'baseUrl' | 'timeouts'>, options: Pick<HttpOptions, 'max_connections'>): Upstream {
  return createUpstream({
    baseUrl: init.baseUrl,
    connectTimeoutMs: init.timeouts.connectMs,
    headersTimeoutMs: init.timeouts.firstByteMs,
    bodyTimeoutMs: init.timeouts.idleMs,
    ...(options.max_connections === undefined ? {} : { maxConnections: options.max_connections }),
  });
}

/** A decoder that counts the tokens it produced (decides WORKER_RESET vs. an early error). */
export interface CountingDecoder extends SseDecoder<CanonicalEvent> {
  readonly tokens: number;
}

export interface OpenedStream {
  call: SseCall;
  decoder: CountingDecoder;
}

/** What differs per engine in a generation stream (per workload: completion or chat). */
export interface EngineStreamWire<R extends CanonicalRequest = CanonicalRequest> {
  /**
   * The request and a fresh decoder; called on the stream's first next(), so it may throw there
   * (an EngineError passes through). Async for what is resolved at use (provider credentials).
   */
  open(req: R): OpenedStream | Promise<OpenedStream>;
  /** The engine's mapping of a failure, given how many tokens had streamed before it. */
  toError(err: unknown, tokens: number): EngineError;
}

/** An adapter's two stream forms for one workload (WorkerAdapter.stream and .streamTo). */
export interface EngineStream<R extends CanonicalRequest = CanonicalRequest> {
  stream(req: R, signal: AbortSignal): AsyncGenerator<CanonicalEvent, void, undefined>;
  streamTo(req: R, signal: AbortSignal, sink: EventSink): Promise<void>;
}

/** An adapter's stream: an abort rethrows the signal's reason, any other failure is mapped. */
export function createEngineStream<R extends CanonicalRequest = CanonicalRequest>(upstream: Upstream, wire: EngineStreamWire<R>): EngineStream<R> {
  async function streamTo(req: R, signal: AbortSignal, sink: EventSink): Promise<void> {
    // The call (its body: the whole prompt as JSON) is not kept in this frame, which stays
    // suspended for the stream's life; the transport keeps what it still needs (issue 14).
    const { pumping, decoder } = pump(await wire.open(req), signal, sink);
    try {
      await pumping;
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw wire.toError(err, decoder.tokens);
    }
  }
  function pump({ call, decoder }: OpenedStream, signal: AbortSignal, sink: EventSink): { pumping: Promise<void>; decoder: CountingDecoder } {
    return { pumping: pumpSse(upstream, call, decoder, signal, sink), decoder };
  }
  return {
    streamTo,
    stream: (req, signal) => pulled<CanonicalEvent>(signal, (linked, sink) => streamTo(req, linked, sink)),
  };
}

/** One stream() and streamTo() for both workloads: a request with `chat` goes to the chat wire, others to completions. */
export function routeByWorkload(completion: EngineStream, chat: EngineStream<ChatCanonicalRequest>): Pick<WorkerAdapter, 'stream' | 'streamTo'> {
  return {
    stream: (req, signal) => (req.chat === undefined ? completion.stream(req, signal) : chat.stream({ ...req, chat: req.chat }, signal)),
    streamTo: (req, signal, sink) => (req.chat === undefined ? completion.streamTo(req, signal, sink) : chat.streamTo({ ...req, chat: req.chat }, signal, sink)),
  };
}
