// Capped exponential backoff, the one formula behind every retry pace: engine control calls
// (adapters/retry.ts), replica probes (pool/prober.ts) and audit store retries
// (audit/retry-backoff.ts). Pure: randomness comes in as an argument (ports.ts rule). ORCH-0602

export interface BackoffCurve {
  /** The first retry's ceiling. */
  baseMs: number;
  /** No wait exceeds this, however many retries. */
  capMs: number;
}

// 2^1024 is Infinity, and 0·Infinity is NaN; 2^1023 is still finite.
const MAX_EXPONENT = 1023;

/** The ceiling of retry `retryIndex` (0 for the first retry): min(cap, base·2^retryIndex). */
export function backoffCeilingMs(retryIndex: number, curve: BackoffCurve): number {
  if (!Number.isInteger(retryIndex) || retryIndex < 0) throw new RangeError(`retryIndex must be a whole number >= 0, got ${retryIndex}`);
  if (!(curve.baseMs >= 0 && curve.capMs >= 0 && Number.isFinite(curve.capMs))) {
    throw new RangeError(`backoff baseMs and capMs must be finite and >= 0, got ${curve.baseMs} and ${curve.capMs}`);
  }
  return Math.min(curve.capMs, curve.baseMs * 2 ** Math.min(retryIndex, MAX_EXPONENT));
}

/**
 * Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"): whole ms drawn
 * uniformly from [0, ceiling), so clients that failed together do not retry together.
 * `random` is uniform on [0, 1), like Math.random.
 */
export function fullJitterMs(retryIndex: number, curve: BackoffCurve, random: () => number): number {
  return Math.floor(random() * backoffCeilingMs(retryIndex, curve));
}
