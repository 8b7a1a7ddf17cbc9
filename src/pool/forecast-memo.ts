// A pool prediction remembered until one of its inputs changes (issue 14: a burst of refusals
// from a full queue asked for the same back-off once per refusal). Exact, not a time-to-live:
// each read lists every input the model reads and compares it with the last list, so what is
// returned is what the model would compute now. No timers, no event wiring to forget.

export class ForecastMemo {
  #seen: unknown[] = [];
  #now: unknown[] = [];
  #value = 0;
  #valid = false;

  /**
   * `collect` pushes every input of the prediction (values, not objects: what is kept here must
   * not hold a finished task alive); `compute`
   * runs the model when one differs and says whether its answer may be kept (false when it read
   * something `collect` cannot list, such as a clock).
   */
  read(collect: (into: unknown[]) => void, compute: () => { value: number; keep: boolean }): number {
    const now = this.#now;
    now.length = 0;
    collect(now);
    if (this.#valid && sameInputs(now, this.#seen)) return this.#value;
    this.#now = this.#seen;
    this.#seen = now;
    const { value, keep } = compute();
    this.#value = value;
    this.#valid = keep;
    return value;
  }
}

function sameInputs(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}
