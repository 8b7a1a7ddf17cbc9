// When the audit writer's pump runs next: soon (the next turn of the event loop, so facts
// recorded in the same tick share a batch) or after a delay (lingering for a fuller batch, or
// a retry backoff). Timers are unref'd: a pending audit retry never keeps a process alive.
// An admission never waits here: the writer pumps for it directly (writer.ts #enqueue).

export class PumpScheduler {
  readonly #pump: (idle: boolean) => void;
  #soon = false;
  #timer: NodeJS.Timeout | null = null;

  /** `pump(true)` means the writer was idle when the work arrived. */
  constructor(pump: (idle: boolean) => void) {
    this.#pump = pump;
  }

  /** Pumps on the next turn; a pending delay is kept unless `urgent`. */
  soon(urgent: boolean): void {
    if (this.#soon || (this.#timer !== null && !urgent)) return;
    this.#soon = true;
    setImmediate(() => {
      this.#soon = false;
      this.#pump(true);
    });
  }

  /** Pumps after `delayMs` unless a pump is already scheduled (sooner or not). */
  linger(delayMs: number): void {
    if (this.#soon || this.#timer !== null) return;
    this.after(delayMs);
  }

  after(delayMs: number): void {
    this.cancel();
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#pump(false);
    }, Math.max(0, delayMs));
    this.#timer.unref();
  }

  cancel(): void {
    if (this.#timer === null) return;
    clearTimeout(this.#timer);
    this.#timer = null;
  }
}
