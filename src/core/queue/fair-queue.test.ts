import { describe, expect, it } from 'vitest';
import type { Priority } from '../task/events.ts';
import { FairQueue, type FairQueueOptions, type OfferResult } from './fair-queue.ts';
import { EXACT_POSITION_CAP } from './queue-position.ts';

interface Job { readonly id: string; readonly priority: Priority }

const OPTS: FairQueueOptions = { maxQueued: 1000, policy: 'reject', interactiveWeight: 3, batchWeight: 1 };
const job = (id: string, priority: Priority = 'interactive'): Job => ({ id, priority });
const queueOf = (opts: Partial<FairQueueOptions> = {}) => new FairQueue<Job>({ ...OPTS, ...opts });

function fill(q: FairQueue<Job>, prefix: string, priority: Priority, n: number): void {
  for (let i = 0; i < n; i++) expect(q.offer(job(`${prefix}${i}`, priority)).admitted).toBe(true);
}
function drain(q: FairQueue<Job>): Job[] {
  const out: Job[] = [];
  for (let j = q.take(); j !== undefined; j = q.take()) out.push(j);
  return out;
}
const classes = (jobs: Job[]) => jobs.map((j) => (j.priority === 'interactive' ? 'I' : 'B')).join('');

describe('FairQueue fairness', () => {
  // ORCH-0106
  it('takes 3 interactive for every batch entry while both classes are busy (I I B I)', () => {
    const q = queueOf();
    fill(q, 'i', 'interactive', 300);
    fill(q, 'b', 'batch', 100);
    const order = classes(drain(q));
    expect(order).toBe('IIBI'.repeat(100));
  });

  it.each([
    [1, 1],
    [3, 1],
    [5, 2],
    [1, 4],
  ])('splits takes in the ratio of the weights %i:%i in every full cycle', (wi, wb) => {
    const q = queueOf({ interactiveWeight: wi, batchWeight: wb });
    const cycles = 50;
    fill(q, 'i', 'interactive', wi * cycles + 10);
    fill(q, 'b', 'batch', wb * cycles + 10);
    for (let c = 0; c < cycles; c++) {
      const cycle = Array.from({ length: wi + wb }, () => q.take() as Job);
      expect(cycle.filter((j) => j.priority === 'interactive')).toHaveLength(wi);
    }
  });

  // ORCH-0106
  it('never starves batch under an endless stream of interactive work', () => {
    const q = queueOf();
    fill(q, 'b', 'batch', 20);
    let next = 0;
    const order: Job[] = [];
    for (let step = 0; step < 400; step++) {
      q.offer(job(`i${next++}`));
      q.offer(job(`i${next++}`));
      order.push(q.take() as Job);
    }
    const batchAt = order.flatMap((j, i) => (j.priority === 'batch' ? [i] : []));
    expect(batchAt).toHaveLength(20);
    batchAt.forEach((at, k) => expect(at).toBe(2 + 4 * k));
  });

  it('gives an empty class’s turn to the other class', () => {
    const q = queueOf();
    fill(q, 'b', 'batch', 5);
    expect(drain(q).map((j) => j.id)).toEqual(['b0', 'b1', 'b2', 'b3', 'b4']);
    fill(q, 'i', 'interactive', 5);
    expect(drain(q).map((j) => j.id)).toEqual(['i0', 'i1', 'i2', 'i3', 'i4']);
  });

  it('keeps FIFO order within each class', () => {
    const q = queueOf({ interactiveWeight: 2, batchWeight: 3 });
    fill(q, 'i', 'interactive', 30);
    fill(q, 'b', 'batch', 30);
    const out = drain(q);
    const ids = (p: Priority) => out.filter((j) => j.priority === p).map((j) => j.id);
    expect(ids('interactive')).toEqual(Array.from({ length: 30 }, (_, i) => `i${i}`));
    expect(ids('batch')).toEqual(Array.from({ length: 30 }, (_, i) => `b${i}`));
  });

  it('starts each busy period with a fresh round robin', () => {
    const q = queueOf();
    q.offer(job('i0'));
    q.offer(job('b0', 'batch'));
    expect(q.take()?.id).toBe('i0');
    expect(q.take()?.id).toBe('b0');
    fill(q, 'i', 'interactive', 3);
    fill(q, 'b', 'batch', 1);
    expect(classes(drain(q))).toBe('IIBI');
  });

  it('applies new weights from setOptions to the next take', () => {
    const q = queueOf();
    fill(q, 'i', 'interactive', 10);
    fill(q, 'b', 'batch', 10);
    q.setOptions({ ...OPTS, interactiveWeight: 1, batchWeight: 1 });
    expect(classes(drain(q))).toBe('IB'.repeat(10));
  });
});

describe('FairQueue capacity policy', () => {
  // ORCH-0107
  it('refuses a newcomer under reject when full and keeps every queued entry', () => {
    const q = queueOf({ maxQueued: 2 });
    fill(q, 'b', 'batch', 2);
    expect(q.offer(job('i0'))).toEqual({ admitted: false });
    expect(q.size).toBe(2);
    expect(q.has('i0')).toBe(false);
  });

  it.each<[string, Job[], Job, OfferResult<Job>]>([
    ['an interactive newcomer evicts the oldest batch entry', [job('i0'), job('b0', 'batch'), job('b1', 'batch')], job('i1'), { admitted: true, evicted: job('b0', 'batch') }],
    ['a batch newcomer evicts the oldest batch entry', [job('b0', 'batch'), job('i0'), job('b1', 'batch')], job('b2', 'batch'), { admitted: true, evicted: job('b0', 'batch') }],
    ['an interactive newcomer evicts the oldest interactive entry when no batch is queued', [job('i0'), job('i1'), job('i2')], job('i3'), { admitted: true, evicted: job('i0') }],
    ['a batch newcomer never evicts interactive work', [job('i0'), job('i1'), job('i2')], job('b0', 'batch'), { admitted: false }],
  ])('under drop-lru %s', (_title, queued, newcomer, expected) => {
    const q = queueOf({ maxQueued: 3, policy: 'drop-lru' });
    for (const j of queued) q.offer(j);
    expect(q.offer(newcomer)).toEqual(expected);
    expect(q.size).toBe(3);
    expect(q.has(newcomer.id)).toBe(expected.admitted);
    if (expected.admitted && expected.evicted) expect(q.has(expected.evicted.id)).toBe(false);
  });

  it.each(['reject', 'drop-lru'] as const)('with maxQueued 0 refuses everything and evicts nothing (%s)', (policy) => {
    const q = queueOf({ maxQueued: 0, policy });
    expect(q.offer(job('i0'))).toEqual({ admitted: false });
    expect(q.offer(job('b0', 'batch'))).toEqual({ admitted: false });
    expect(q.size).toBe(0);
    expect(q.take()).toBeUndefined();
  });

  it('puts a victim back as the oldest of its tenant lane: withdrawing the newcomer undoes the eviction', () => {
    const q = queueOf({ maxQueued: 3, policy: 'drop-lru' });
    fill(q, 'b', 'batch', 3);
    const offered = q.offer(job('i0'));
    expect(offered).toEqual({ admitted: true, evicted: job('b0', 'batch') });
    q.remove('i0');
    q.restore(job('b0', 'batch'));
    expect([q.size, q.position('b0')]).toEqual([3, 0]);
    expect(drain(q).map((j) => j.id)).toEqual(['b0', 'b1', 'b2']);
    expect(() => {
      q.restore(job('x', 'batch'));
      q.restore(job('x', 'batch'));
    }).toThrow(/duplicate/);
  });

  it('keeps entries beyond a smaller max after reload and never grows past them', () => {
    const q = queueOf({ maxQueued: 4, policy: 'drop-lru' });
    fill(q, 'b', 'batch', 4);
    q.setOptions({ ...OPTS, maxQueued: 2, policy: 'drop-lru' });
    expect(q.size).toBe(4);
    expect(q.offer(job('i0'))).toEqual({ admitted: true, evicted: job('b0', 'batch') });
    expect(q.size).toBe(4);
    q.setOptions({ ...OPTS, maxQueued: 2, policy: 'reject' });
    expect(q.offer(job('i1'))).toEqual({ admitted: false });
    q.take();
    q.take();
    q.take();
    expect(q.offer(job('i2')).admitted).toBe(true);
    expect(q.size).toBe(2);
  });

  it('throws on a duplicate id because task ids are unique by construction', () => {
    const q = queueOf();
    q.offer(job('x'));
    expect(() => q.offer(job('x', 'batch'))).toThrow(/duplicate/);
  });

  it('rejects invalid options as a wiring bug', () => {
    expect(() => queueOf({ maxQueued: -1 })).toThrow(RangeError);
    expect(() => queueOf({ interactiveWeight: 0 })).toThrow(RangeError);
  });
});

describe('FairQueue lookup and removal', () => {
  it('removes entries from the middle, head and tail without disturbing the rest', () => {
    const q = queueOf();
    fill(q, 'i', 'interactive', 5);
    expect(q.remove('i2')).toEqual(job('i2'));
    expect(q.remove('i0')).toEqual(job('i0'));
    expect(q.remove('i4')).toEqual(job('i4'));
    expect(q.remove('i4')).toBeUndefined();
    expect(q.remove('nope')).toBeUndefined();
    expect(q.has('i2')).toBe(false);
    expect(q.sizeOf('interactive')).toBe(2);
    expect(drain(q).map((j) => j.id)).toEqual(['i1', 'i3']);
  });

  it('peeks exactly what take returns without changing the queue', () => {
    const q = queueOf();
    expect(q.peek()).toBeUndefined();
    fill(q, 'i', 'interactive', 6);
    fill(q, 'b', 'batch', 3);
    while (q.size > 0) {
      const seen = q.peek();
      expect(q.peek()).toBe(seen);
      expect(q.take()).toBe(seen);
    }
  });

  it('reports sizes per class and positions that match the real take order', () => {
    const q = queueOf();
    fill(q, 'b', 'batch', 3);
    fill(q, 'i', 'interactive', 7);
    expect([q.size, q.sizeOf('interactive'), q.sizeOf('batch')]).toEqual([10, 7, 3]);
    const predicted = [...q].map((j) => j.id);
    expect(predicted.map((id) => q.position(id))).toEqual(predicted.map((_, i) => i));
    expect(q.position('nope')).toBeUndefined();
    expect(drain(q).map((j) => j.id)).toEqual(predicted);
  });
});

interface Owned { readonly id: string; readonly priority: Priority; readonly tenant: string }
const owned = (id: string, tenant: string, priority: Priority = 'interactive'): Owned => ({ id, priority, tenant });
const tenantQueue = (weights: Record<string, number>, opts: Partial<FairQueueOptions> = {}) =>
  new FairQueue<Owned>({ ...OPTS, weightOf: (t) => weights[t] ?? 1, ...opts });
const takeAll = (q: FairQueue<Owned>): Owned[] => {
  const out: Owned[] = [];
  for (let j = q.take(); j !== undefined; j = q.take()) out.push(j);
  return out;
};
const tenants = (jobs: Owned[]) => jobs.map((j) => j.tenant).join('');

describe('FairQueue fairness between tenants', () => {
  // Issue 12: a tenant's queued work cannot starve another's.
  it.each([
    [1, 1],
    [3, 1],
    [5, 2],
    [1, 4],
    [7, 3],
  ])('a flooding tenant of weight %i delays another tenant of weight %i by at most ceil(a/b) dispatches', (wa, wb) => {
    const q = tenantQueue({ a: wa, b: wb });
    for (let i = 0; i < 50; i++) q.offer(owned(`a${i}`, 'a'));
    let next = 50;
    for (let round = 0; round < 40; round++) {
      q.offer(owned(`b${round}`, 'b'));
      let waited = 0;
      for (let j = q.take(); j?.tenant !== 'b'; j = q.take()) {
        waited++;
        q.offer(owned(`a${next++}`, 'a')); // the flood never stops
      }
      expect(waited).toBeLessThanOrEqual(Math.ceil(wa / wb));
    }
  });

  // With one flooder the bound is ceil(a/b); with several, lanes may hold credit from before the
  // newcomer arrived (the property test measures the general case against 2 × ceil(W/b)).
  it('serves a lone task behind three flooding tenants within ceil(their weight / its weight) + 1 dispatches', () => {
    const weights = { a: 3, c: 2, d: 1, b: 2 };
    const q = tenantQueue(weights);
    let next = 0;
    const flood = () => {
      for (const t of ['a', 'c', 'd']) q.offer(owned(`${t}${next++}`, t));
    };
    for (let i = 0; i < 20; i++) flood();
    for (let round = 0; round < 40; round++) {
      q.offer(owned(`b${round}`, 'b'));
      let waited = 0;
      for (let j = q.take(); j?.tenant !== 'b'; j = q.take()) {
        waited++;
        if (waited % 3 === 0) flood();
      }
      expect(waited).toBeLessThanOrEqual(Math.ceil((3 + 2 + 1) / 2) + 1);
    }
  });

  it('splits a class between flooding tenants in the ratio of their weights (a a b a)', () => {
    const q = tenantQueue({ a: 3, b: 1 });
    for (let i = 0; i < 300; i++) q.offer(owned(`a${i}`, 'a'));
    for (let i = 0; i < 100; i++) q.offer(owned(`b${i}`, 'b'));
    expect(tenants(takeAll(q))).toBe('aaba'.repeat(100));
  });

  it('keeps FIFO order within a tenant and applies class weights above tenant weights', () => {
    const q = tenantQueue({ a: 1, b: 1 });
    for (let i = 0; i < 6; i++) q.offer(owned(`ai${i}`, 'a'));
    for (let i = 0; i < 6; i++) q.offer(owned(`bi${i}`, 'b'));
    for (let i = 0; i < 4; i++) q.offer(owned(`ab${i}`, 'a', 'batch'));
    const out = takeAll(q);
    expect(classes(out.slice(0, 12) as Job[])).toBe('IIBIIIBIIIBI');
    expect(out.filter((j) => j.tenant === 'a' && j.priority === 'interactive').map((j) => j.id)).toEqual(['ai0', 'ai1', 'ai2', 'ai3', 'ai4', 'ai5']);
    expect(out.filter((j) => j.priority === 'interactive').map((j) => j.tenant).join('')).toBe('ab'.repeat(6));
  });

  it('does not let a heavy tenant trickling one task at a time reset its turn and starve a lighter one', () => {
    const q = tenantQueue({ heavy: 6, light: 3 });
    for (let i = 0; i < 10; i++) q.offer(owned(`l${i}`, 'light'));
    let next = 0;
    const order: string[] = [];
    for (let step = 0; step < 15; step++) {
      if (!q.has(`h${next - 1}`)) q.offer(owned(`h${next++}`, 'heavy')); // never more than one queued
      order.push((q.take() as Owned).tenant);
    }
    // Weights 6:3 give heavy two of every three dispatches while both wait, never more.
    expect(order.filter((t) => t === 'light')).toHaveLength(5);
  });

  it('forgets every tenant’s standing once the class runs empty', () => {
    const q = tenantQueue({ a: 1, b: 1 });
    q.offer(owned('a0', 'a'));
    q.offer(owned('b0', 'b'));
    expect(tenants(takeAll(q))).toBe('ab');
    q.offer(owned('b1', 'b'));
    q.offer(owned('a1', 'a'));
    expect(tenants(takeAll(q))).toBe('ba'); // a fresh busy period: the earlier lane wins the tie
  });

  it('reads tenant weights at every pick, so a changed weight applies at once', () => {
    const weights: Record<string, number> = { a: 1, b: 1 };
    const q = tenantQueue(weights);
    for (let i = 0; i < 20; i++) q.offer(owned(`a${i}`, 'a'));
    for (let i = 0; i < 20; i++) q.offer(owned(`b${i}`, 'b'));
    expect(tenants([q.take(), q.take()] as Owned[])).toBe('ab');
    weights.a = 3;
    expect(tenants(Array.from({ length: 8 }, () => q.take() as Owned))).toBe('aabaaaba');
  });

  it('under drop-lru evicts the oldest entry of the tenant with the most queued in the lowest class', () => {
    const q = tenantQueue({}, { maxQueued: 5, policy: 'drop-lru' });
    q.offer(owned('b-old', 'b', 'batch'));
    q.offer(owned('a0', 'a', 'batch'));
    q.offer(owned('a1', 'a', 'batch'));
    q.offer(owned('c0', 'c'));
    q.offer(owned('c1', 'c'));
    expect(q.offer(owned('b-new', 'b'))).toEqual({ admitted: true, evicted: owned('a0', 'a', 'batch') });
    expect(q.offer(owned('c2', 'c', 'batch'))).toEqual({ admitted: true, evicted: owned('b-old', 'b', 'batch') });
    expect(q.has('b-new')).toBe(true);
  });

  it('takes the drop-lru victim from the earlier tenant when two queue the same amount', () => {
    const q = tenantQueue({}, { maxQueued: 4, policy: 'drop-lru' });
    q.offer(owned('a0', 'a'));
    q.offer(owned('b0', 'b'));
    q.offer(owned('b1', 'b'));
    q.offer(owned('a1', 'a'));
    expect(q.offer(owned('c0', 'c'))).toEqual({ admitted: true, evicted: owned('a0', 'a') });
  });

  it('predicts positions across tenants that the takes follow', () => {
    const q = tenantQueue({ a: 2, b: 1 });
    for (let i = 0; i < 6; i++) q.offer(owned(`a${i}`, 'a'));
    for (let i = 0; i < 3; i++) q.offer(owned(`b${i}`, 'b'));
    expect([q.position('b0'), q.position('b1'), q.position('a5')]).toEqual([1, 4, 8]);
    expect(takeAll(q).map((j) => j.id)).toEqual(['a0', 'b0', 'a1', 'a2', 'b1', 'a3', 'a4', 'b2', 'a5']);
  });

  it('treats a tenant weight below 1 as a wiring bug', () => {
    const q = tenantQueue({ a: 0 });
    q.offer(owned('a0', 'a'));
    q.offer(owned('b0', 'b'));
    expect(() => q.take()).toThrow(RangeError);
  });
});

describe('FairQueue position beyond the exact cap', () => {
  const TENANT_WEIGHTS = { a: 3, b: 2, c: 1, d: 1 };
  /** 1,200 entries over four tenants (a floods) and both classes, in a fixed pattern. */
  function crowded(weightOf?: (tenant: string) => number): { q: FairQueue<Owned>; order: Owned[] } {
    const q = new FairQueue<Owned>({ ...OPTS, maxQueued: 2_000, weightOf: weightOf ?? ((t) => TENANT_WEIGHTS[t as keyof typeof TENANT_WEIGHTS] ?? 1) });
    for (let i = 0; i < 1_200; i++) q.offer(owned(`e${i}`, 'abacadab'[i % 8] as string, i % 5 === 0 ? 'batch' : 'interactive'));
    return { q, order: [...q] };
  }

  it('is exact below the cap and an estimate never below the cap beyond it', () => {
    const { q, order } = crowded();
    for (const [i, entry] of order.entries()) {
      const position = q.position(entry.id) as number;
      if (i < EXACT_POSITION_CAP) expect(position, entry.id).toBe(i);
      else expect(position, entry.id).toBeGreaterThanOrEqual(EXACT_POSITION_CAP);
    }
    expect(q.position('nope')).toBeUndefined();
  });

  it('estimates positions past the cap within a tenth of the real dispatch order', () => {
    const { q, order } = crowded();
    const off = order.slice(EXACT_POSITION_CAP).map((entry, i) => Math.abs((q.position(entry.id) as number) - (i + EXACT_POSITION_CAP)) / (i + EXACT_POSITION_CAP));
    expect(Math.max(...off)).toBeLessThan(0.1);
  });

  it('stays exact past the cap for one tenant in one class', () => {
    const q = tenantQueue({ a: 1 });
    for (let i = 0; i < 600; i++) q.offer(owned(`a${i}`, 'a'));
    expect([q.position('a255'), q.position('a256'), q.position('a599')]).toEqual([255, 256, 599]);
  });

  it('replays at most the cap\'s picks, however long the queue', () => {
    let reads = 0;
    const { q, order } = crowded((t) => {
      reads++;
      return TENANT_WEIGHTS[t as keyof typeof TENANT_WEIGHTS] ?? 1;
    });
    reads = 0;
    q.position((order.at(-1) as Owned).id);
    // Each replayed pick reads every lane's weight once: four tenants, at most two classes' worth.
    expect(reads).toBeLessThanOrEqual((EXACT_POSITION_CAP + 1) * 4 + 8);
  });
});
