// Random operations against a deliberately naive reference model (arrays + textbook nginx
// smooth weighted round robin), checking results, contents, order and positions after every op.
import { describe, expect, it } from 'vitest';
import type { Priority } from '../task/events.ts';
import { FairQueue, type FairQueueOptions, type OfferResult } from './fair-queue.ts';

interface Job { readonly id: string; readonly priority: Priority }

function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

class Reference {
  lanes: Record<Priority, Job[]> = { interactive: [], batch: [] };
  cw: Record<Priority, number> = { interactive: 0, batch: 0 };
  opts: FairQueueOptions;
  constructor(opts: FairQueueOptions) { this.opts = opts; }

  get size() { return this.lanes.interactive.length + this.lanes.batch.length; }

  pick(cw: Record<Priority, number>, lanes: Record<Priority, Job[]>): Priority | undefined {
    const w = { interactive: this.opts.interactiveWeight, batch: this.opts.batchWeight };
    let best: Priority | undefined;
    let total = 0;
    for (const c of ['interactive', 'batch'] as const) {
      if (lanes[c].length === 0) continue;
      cw[c] += w[c];
      total += w[c];
      if (best === undefined || cw[c] > cw[best]) best = c;
    }
    if (best !== undefined) cw[best] -= total;
    return best;
  }

  take(): Job | undefined {
    const c = this.pick(this.cw, this.lanes);
    const j = c === undefined ? undefined : this.lanes[c].shift();
    this.resetIfEmpty();
    return j;
  }

  order(): Job[] {
    const cw = { ...this.cw };
    const lanes = { interactive: [...this.lanes.interactive], batch: [...this.lanes.batch] };
    const out: Job[] = [];
    for (let c = this.pick(cw, lanes); c !== undefined; c = this.pick(cw, lanes)) out.push(lanes[c].shift() as Job);
    return out;
  }

  offer(j: Job): OfferResult<Job> {
    if (this.opts.maxQueued === 0) return { admitted: false };
    if (this.size < this.opts.maxQueued) { this.lanes[j.priority].push(j); return { admitted: true }; }
    if (this.opts.policy === 'reject') return { admitted: false };
    const from: Priority | undefined = this.lanes.batch.length > 0 ? 'batch' : j.priority === 'interactive' && this.lanes.interactive.length > 0 ? 'interactive' : undefined;
    if (from === undefined) return { admitted: false };
    const evicted = this.lanes[from].shift() as Job;
    this.lanes[j.priority].push(j);
    return { admitted: true, evicted };
  }

  remove(id: string): Job | undefined {
    for (const c of ['interactive', 'batch'] as const) {
      const i = this.lanes[c].findIndex((j) => j.id === id);
      if (i >= 0) { const [j] = this.lanes[c].splice(i, 1); this.resetIfEmpty(); return j; }
    }
    return undefined;
  }

  resetIfEmpty() { if (this.size === 0) this.cw = { interactive: 0, batch: 0 }; }
}

function randomOptions(rand: () => number): FairQueueOptions {
  return {
    maxQueued: Math.floor(rand() * 12),
    policy: rand() < 0.5 ? 'reject' : 'drop-lru',
    interactiveWeight: 1 + Math.floor(rand() * 4),
    batchWeight: 1 + Math.floor(rand() * 3),
  };
}

describe('FairQueue against a reference model', () => {
  it.each([1, 2, 3, 42, 1234, 99999])('agrees on every result, order and position over random ops (seed %i)', (seed) => {
    const rand = prng(seed);
    const opts = randomOptions(rand);
    const q = new FairQueue<Job>(opts);
    const ref = new Reference({ ...opts });
    let next = 0;
    const ids: string[] = [];
    for (let step = 0; step < 3000; step++) {
      const r = rand();
      if (r < 0.45) {
        const j: Job = { id: `t${next++}`, priority: rand() < 0.6 ? 'interactive' : 'batch' };
        ids.push(j.id);
        expect(q.offer(j)).toEqual(ref.offer(j));
      } else if (r < 0.75) {
        expect(q.take()).toEqual(ref.take());
      } else if (r < 0.95) {
        const id = ids[Math.floor(rand() * ids.length)] ?? 'none';
        expect(q.remove(id)).toEqual(ref.remove(id));
      } else {
        const o = randomOptions(rand);
        q.setOptions(o);
        ref.opts = { ...o };
      }
      const order = ref.order();
      expect([...q]).toEqual(order);
      expect([q.size, q.sizeOf('interactive'), q.sizeOf('batch')]).toEqual([ref.size, ref.lanes.interactive.length, ref.lanes.batch.length]);
      expect(q.peek()).toEqual(order[0]);
      const probe = order[Math.floor(rand() * order.length)];
      if (probe) expect(q.position(probe.id)).toBe(order.indexOf(probe));
    }
  });

  // ORCH-0111
  it('predicts positions that the real takes then follow exactly', () => {
    const rand = prng(7);
    for (let round = 0; round < 50; round++) {
      const q = new FairQueue<Job>({ ...randomOptions(rand), maxQueued: 200 });
      for (let i = 0; i < 60; i++) q.offer({ id: `r${round}-${i}`, priority: rand() < 0.5 ? 'interactive' : 'batch' });
      for (let i = 0; i < 10; i++) q.take();
      const positions = new Map([...q].map((j) => [j.id, q.position(j.id)]));
      let taken = 0;
      for (let j = q.take(); j !== undefined; j = q.take()) expect(positions.get(j.id)).toBe(taken++);
    }
  });
});
