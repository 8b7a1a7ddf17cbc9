// Idempotent control calls (health, props, models) for HTTP engines: GET a small JSON document,
// retried with capped backoff + full jitter on transient transport failures only. health()
// never throws; an unreachable engine is reported as not live.

import type { EngineError, EngineHealth } from '../contract.ts';
import { getJson, type JsonResponse, type Upstream } from '../../transport/http-agent.ts';
import { isTransientFailure, statusFailure, toUpstreamFailure } from '../../transport/upstream-failure.ts';
import { withRetry, type BackoffPolicy } from '../retry.ts';

export interface Prober {
  /** Resolves with any status; rejects with UpstreamFailure (transport) or the signal's reason. */
  get(path: string, signal: AbortSignal): Promise<JsonResponse>;
  /** Resolves only with a 200; anything else rejects with a mapped EngineError (or the signal's reason). */
  getOk(path: string, signal: AbortSignal): Promise<JsonResponse>;
  /** Maps the answer with `interpret`; transport failures become { live: false, ready: false }. */
  health(path: string, signal: AbortSignal, interpret: (res: JsonResponse) => EngineHealth): Promise<EngineHealth>;
}

/** `toError`: the engine's own mapping of a failed control call (no tokens have streamed). */
export function createProber(upstream: Upstream, headers: Record<string, string>, backoff: BackoffPolicy, toError: (err: unknown) => EngineError): Prober {
  const get = (path: string, signal: AbortSignal): Promise<JsonResponse> =>
    withRetry(() => getJson(upstream, path, headers, signal), { policy: backoff, signal, shouldRetry: isTransientFailure });
  const mapped = (err: unknown, signal: AbortSignal): unknown => (signal.aborted ? signal.reason : toError(err));
  return {
    get,
    async getOk(path, signal) {
      let res: JsonResponse;
      try {
        res = await get(path, signal);
      } catch (err) {
        throw mapped(err, signal);
      }
      if (res.status !== 200) throw mapped(statusFailure(res.status, res.headers, res.text), signal);
      return res;
    },
    async health(path, signal, interpret) {
      try {
        return interpret(await get(path, signal));
      } catch (err) {
        return { live: false, ready: false, detail: unreachableDetail(err, signal) };
      }
    },
  };
}

function unreachableDetail(err: unknown, signal: AbortSignal): string {
  if (signal.aborted) return 'health probe aborted';
  switch (toUpstreamFailure(err).kind) {
    case 'refused':
      return 'connection refused';
    case 'connect-timeout':
      return 'connect timed out';
    case 'first-byte-timeout':
    case 'idle-timeout':
      return 'engine did not answer in time';
    case 'reset':
      return 'connection reset';
    default:
      return 'engine answered malformed HTTP';
  }
}
