// Retries for idempotent engine calls (health, props), paced by capped exponential backoff
// with full jitter (core/backoff.ts). Never used for generation streams: once a stream has
// started it cannot be replayed. Randomness and sleeping are injected so tests are exact and instant.

import { fullJitterMs, type BackoffCurve } from '../core/backoff.ts';

export interface BackoffPolicy extends BackoffCurve {
  /** Total tries including the first; 1 disables retrying. */
  attempts: number;
}

export interface RetryOptions {
  policy: BackoffPolicy;
  signal: AbortSignal;
  /** Decides whether a failure is worth another try (e.g. a reset, not a 4xx). */
  shouldRetry: (err: unknown) => boolean;
  /** Uniform [0, 1); defaults to Math.random. */
  random?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

export async function withRetry<T>(call: (attempt: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  const random = opts.random ?? Math.random;
  const sleep = opts.sleep ?? abortableSleep;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call(attempt);
    } catch (err) {
      const last = attempt + 1 >= opts.policy.attempts;
      if (last || opts.signal.aborted || !opts.shouldRetry(err)) throw err;
    }
    await sleep(fullJitterMs(attempt, opts.policy, random), opts.signal);
  }
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
