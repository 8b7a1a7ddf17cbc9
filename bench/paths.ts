// A measured path (direct to the simulator, through the proxy, through the gateway): its URL,
// wire protocol and the process whose CPU it adds, plus the client Pool and judge the load
// generator uses for it.

import { Pool } from 'undici';
import type { Judge, StreamRunner } from './load.ts';
import { isFull, streamOnce, type Protocol, type StreamOutcome } from './stream-client.ts';

export interface PathTarget {
  name: string;
  url: string;
  protocol: Protocol;
  /** Model name sent to the gateway (ignored by /completion). */
  model: string;
}

/** A client Pool with one connection per concurrent stream, no pipelining (SSE responses are long). */
export function clientPool(url: string, connections: number): Pool {
  return new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 10_000, headersTimeout: 30_000, bodyTimeout: 30_000 });
}

export function streamRunner(pool: Pool, target: PathTarget, maxTokens: number, promptOf: (n: number) => string): StreamRunner {
  let n = 0;
  return (signal, onToken) => streamOnce(pool, target.protocol, { model: target.model, prompt: promptOf(n++), maxTokens }, signal, onToken);
}

/** Why an outcome is not a full stream of `maxTokens` tokens; undefined when it is. */
export function judgeFull(maxTokens: number): Judge {
  return (o: StreamOutcome) => {
    if (isFull(o, maxTokens)) return undefined;
    if (o.status !== 200) return `HTTP ${o.status || 'none'} ${o.errorCode ?? ''}`.trim();
    if (o.terminal === 'error') return `error ${o.errorCode ?? ''}`.trim();
    if (o.terminal === 'none') return `no terminal event${o.errorCode ? ` (${o.errorCode})` : ''}`;
    return `short stream (${o.tokens} of ${maxTokens})`;
  };
}

/** Prompts differ per request (like real traffic) but stay short so prompt handling is not what is measured. */
export const promptOf = (n: number): string => `bench prompt ${n % 997}: tell me about the fox`;
