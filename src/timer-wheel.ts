// One shared, coarse timer for many long timers (issue 14): every running task holds an idle and
// a wall watchdog of tens of seconds to minutes, and a Node Timeout for each costs ≈ 230 bytes
// (the Timeout and its argument array) per timer, held for the whole stream. Here a timer is an
// entry in an intrusive list (three fields on its own object) of the slot its deadline falls in;
// one unref'd Node interval walks the slots while any entry is armed.
//
// Timing bound: an entry never fires before its due time, and at most two slot widths after it
// (its slot ends at most one width after the deadline; the interval ticks once per width), plus
// whatever the event loop itself is late.

/** What the wheel needs of a timer: its deadline and its list links (owned by the wheel). */
export interface WheelEntry {
  /** Monotonic ms (performance.now()) at which the entry may fire. */
  wheelDue: number;
  wheelSlot: number;
  wheelPrev: WheelEntry | undefined;
  wheelNext: WheelEntry | undefined;
  /** Called once its slot is reached; the entry is already unlinked. */
  wheelExpire(): void;
}

export class TimerWheel {
  readonly #slotMs: number;
  /** Slot index → first entry of its list. */
  readonly #slots = new Map<number, WheelEntry>();
  /** The next slot index the walk has not yet visited. */
  #cursor: number;
  #armed = 0;
  #ticker: NodeJS.Timeout | undefined;

  constructor(slotMs: number) {
    this.#slotMs = slotMs;
    this.#cursor = Math.floor(performance.now() / slotMs) + 1;
  }

  /** Links `entry` into the slot of its `wheelDue` (the first slot that ends at or after it). */
  add(entry: WheelEntry): void {
    const slot = Math.max(Math.ceil(entry.wheelDue / this.#slotMs), this.#cursor);
    const head = this.#slots.get(slot);
    entry.wheelSlot = slot;
    entry.wheelPrev = undefined;
    entry.wheelNext = head;
    if (head !== undefined) head.wheelPrev = entry;
    this.#slots.set(slot, entry);
    if (this.#armed++ === 0) this.#start();
  }

  /** Unlinks `entry` (it must be linked). */
  remove(entry: WheelEntry): void {
    const { wheelPrev: prev, wheelNext: next } = entry;
    if (prev !== undefined) prev.wheelNext = next;
    else if (next !== undefined) this.#slots.set(entry.wheelSlot, next);
    else this.#slots.delete(entry.wheelSlot);
    if (next !== undefined) next.wheelPrev = prev;
    entry.wheelPrev = undefined;
    entry.wheelNext = undefined;
    if (--this.#armed === 0) this.#stop();
  }

  /** Fires every entry of every slot that has ended by now. */
  tick(): void {
    const last = Math.floor(performance.now() / this.#slotMs);
    for (; this.#cursor <= last; this.#cursor++) {
      for (let entry = this.#slots.get(this.#cursor); entry !== undefined; entry = this.#slots.get(this.#cursor)) {
        this.remove(entry);
        entry.wheelExpire();
      }
    }
  }

  #start(): void {
    // Slots the walk skipped while nothing was armed are empty: start from the current one.
    this.#cursor = Math.max(this.#cursor, Math.floor(performance.now() / this.#slotMs));
    this.#ticker = setInterval(tickWheel, this.#slotMs, this);
    this.#ticker.unref();
  }

  #stop(): void {
    clearInterval(this.#ticker);
    this.#ticker = undefined;
  }
}

function tickWheel(wheel: TimerWheel): void {
  wheel.tick();
}
