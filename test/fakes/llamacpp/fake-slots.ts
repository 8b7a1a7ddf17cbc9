// Slot table of the llama.cpp fake: which slots are busy and what each one's KV cache holds, so
// a follow-up prompt on the same slot reuses its prefix (`timings.cache_n`) like llama-server.

import { commonPrefixLength } from '../http/fake-tokens.ts';

export interface FakeSlot {
  id: number;
  busy: boolean;
  /** Token ids in the slot's KV cache: last prompt + what was generated for it. */
  cache: number[];
  idTask: number;
  nDecoded: number;
  nRemain: number;
  lastUsed: number;
}

export class FakeSlotTable {
  readonly nCtx: number;
  private readonly slots: FakeSlot[];
  private clock = 0;
  private tasks = 0;

  constructor(count: number, nCtx: number) {
    this.nCtx = nCtx;
    this.slots = Array.from({ length: count }, (_, id) => ({ id, busy: false, cache: [], idTask: -1, nDecoded: 0, nRemain: 0, lastUsed: 0 }));
  }

  get total(): number {
    return this.slots.length;
  }

  get idle(): number {
    return this.slots.filter((s) => !s.busy).length;
  }

  /**
   * `requested` ≥ 0 pins a slot; -1 picks the idle slot sharing the longest prefix with the
   * prompt, else the least recently used one (llama-server's similarity/LRU choice).
   * undefined when the slot (or every slot) is busy.
   */
  acquire(requested: number, prompt: readonly number[]): FakeSlot | undefined {
    let chosen: FakeSlot | undefined;
    if (requested >= 0) {
      chosen = this.slots[requested];
      if (chosen?.busy !== false) return undefined;
    } else {
      let best = -1;
      for (const slot of this.slots) {
        if (slot.busy) continue;
        const shared = commonPrefixLength(slot.cache, prompt);
        if (chosen === undefined || shared > best || (shared === best && slot.lastUsed < chosen.lastUsed)) {
          chosen = slot;
          best = shared;
        }
      }
      if (chosen === undefined) return undefined;
    }
    chosen.busy = true;
    chosen.idTask = this.tasks++;
    chosen.nDecoded = 0;
    chosen.lastUsed = ++this.clock;
    return chosen;
  }

  release(slot: FakeSlot, cache: number[]): void {
    slot.busy = false;
    slot.cache = cache;
    slot.idTask = -1;
  }

  /** Share of the whole KV cache holding tokens (llama-server's `kv_cache_usage_ratio`). */
  cacheUsage(): number {
    let used = 0;
    for (const s of this.slots) used += Math.min(s.cache.length, this.nCtx);
    return used / (this.slots.length * this.nCtx);
  }

  /** GET /slots document. */
  toJson(): unknown[] {
    return this.slots.map((s) => ({
      id: s.id,
      id_task: s.idTask,
      n_ctx: this.nCtx,
      speculative: false,
      is_processing: s.busy,
      params: { n_predict: -1, seed: 4294967295, temperature: 0.8, top_p: 0.95, stop: [] },
      next_token: { has_next_token: s.busy, has_new_line: false, n_remain: s.nRemain, n_decoded: s.nDecoded },
    }));
  }
}
