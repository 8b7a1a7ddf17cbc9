// Pure statistics for bench/: percentiles over samples, a bounded sample set (reservoir beyond
// its cap so memory stays fixed however long a run is), medians of repeated rounds, ratios.

/** Linear-interpolated percentile (the "type 7" estimator) of an ascending array; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  if (p <= 0) return sorted[0] as number;
  if (p >= 100) return sorted[n - 1] as number;
  const rank = (p / 100) * (n - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (rank - lo);
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

export interface Summary {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/**
 * Samples kept in a typed array; past `cap` it keeps a uniform reservoir (Algorithm R) with a
 * seeded generator, so two runs with the same input keep the same samples.
 */
export class SampleSet {
  private values: Float64Array;
  private size = 0;
  private seen = 0;
  private rng = 0x2545f491;
  private readonly cap: number;

  constructor(cap = 1_000_000) {
    this.cap = cap;
    this.values = new Float64Array(Math.min(cap, 4096));
  }

  get count(): number {
    return this.seen;
  }

  add(value: number): void {
    this.seen++;
    if (this.size < this.cap) {
      if (this.size === this.values.length) this.grow();
      this.values[this.size++] = value;
      return;
    }
    const slot = this.nextRandom() % this.seen;
    if (slot < this.cap) this.values[slot] = value;
  }

  summary(): Summary {
    const sorted = this.values.slice(0, this.size).sort();
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      count: this.seen,
      min: sorted.length ? (sorted[0] as number) : Number.NaN,
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      p999: percentile(sorted, 99.9),
      max: sorted.length ? (sorted[sorted.length - 1] as number) : Number.NaN,
      mean: sorted.length ? sum / sorted.length : Number.NaN,
    };
  }

  private grow(): void {
    const next = new Float64Array(Math.min(this.cap, this.values.length * 2));
    next.set(this.values);
    this.values = next;
  }

  /** xorshift32: deterministic and allocation-free. */
  private nextRandom(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng;
  }
}

/** a / b, or NaN when b is zero or either side is not a number. */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : Number.NaN;
}

/** Rounds for display: 3 significant digits for small numbers, integers for large ones. */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return value;
  if (Math.abs(value) >= 1000) return Math.round(value);
  return Number(value.toPrecision(digits));
}
