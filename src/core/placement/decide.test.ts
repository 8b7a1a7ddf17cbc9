import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../test/support/seeded-random.ts';
import { decide, everPlaceable, type PlacementJob, type ReplicaView } from './decide.ts';

const r = (id: string, over: Partial<ReplicaView> = {}): ReplicaView => ({
  id, state: 'ready', breaker: 'closed', slotsTotal: 4, slotsBusy: 0, ctxMax: 4096, versionOk: true, ...over,
});
const job = (over: Partial<PlacementJob> = {}): PlacementJob => ({ promptTokens: 10, maxTokens: 10, allowFallback: false, ...over });

describe('decide', () => {
  // ORCH-0503 ORCH-0514
  it('is deterministic and breaks ties by replica id', () => {
    const replicas = [r('b'), r('a'), r('c')];
    const first = decide(replicas, job());
    expect(first).toMatchObject({ kind: 'assigned', replicaId: 'a' });
    expect(decide(replicas, job())).toEqual(first);
  });

  // ORCH-0514
  it('prefers the least loaded replica', () => {
    expect(decide([r('a', { slotsBusy: 3 }), r('b', { slotsBusy: 1 })], job())).toMatchObject({ replicaId: 'b' });
  });

  it('prefers the session affinity replica while it has a free slot', () => {
    const replicas = [r('a'), r('b', { slotsBusy: 3 })];
    expect(decide(replicas, job({ affinityReplicaId: 'b' }))).toMatchObject({ replicaId: 'b' });
    expect(decide([r('a'), r('b', { slotsBusy: 4 })], job({ affinityReplicaId: 'b' }))).toMatchObject({ replicaId: 'a' });
  });

  // ORCH-0514 ORCH-0510
  it('filters out replicas that are not ready, breaker-open, version-mismatched, too small or tried', () => {
    const replicas = [
      r('a', { state: 'draining' }), r('b', { breaker: 'open' }), r('c', { versionOk: false }),
      r('d', { ctxMax: 8 }), r('e'), r('f'),
    ];
    const d = decide(replicas, job({ exclude: ['e'] }));
    expect(d).toMatchObject({ kind: 'assigned', replicaId: 'f' });
    expect(d.log.join('\n')).toMatch(/a: skip \(state draining\)[\s\S]*b: skip \(breaker open\)/);
  });

  it('says busy when eligible replicas exist but none has a free slot', () => {
    expect(decide([r('a', { slotsBusy: 4 })], job())).toMatchObject({ kind: 'no_capacity', reason: 'busy' });
  });

  // ORCH-0505
  it('never silently falls back from a pin unless allowed', () => {
    const replicas = [r('a'), r('b', { state: 'unready' })];
    expect(decide(replicas, job({ pin: 'b' }))).toMatchObject({ kind: 'no_capacity', reason: 'none_eligible' });
    expect(decide(replicas, job({ pin: 'b', allowFallback: true }))).toMatchObject({ replicaId: 'a' });
    expect(decide([r('a', { slotsBusy: 4 }), r('b')], job({ pin: 'a' }))).toMatchObject({ reason: 'busy' });
  });

  // ORCH-0505 ORCH-0513
  it('honours prefer and avoid, and filters by accelerator', () => {
    const replicas = [r('a', { accelerator: 'cpu' }), r('b', { accelerator: 'nvidia' }), r('c', { accelerator: 'nvidia' })];
    expect(decide(replicas, job({ prefer: ['c'] }))).toMatchObject({ replicaId: 'c' });
    expect(decide(replicas, job({ avoid: ['a'] }))).toMatchObject({ replicaId: 'b' });
    expect(decide(replicas, job({ accelerator: 'nvidia', avoid: ['b', 'c'] }))).toMatchObject({ reason: 'none_eligible' });
    expect(decide(replicas, job({ accelerator: 'nvidia', avoid: ['b', 'c'], allowFallback: true }))).toMatchObject({ replicaId: 'b' });
  });

  it('ranks prefer in the order given, and an overloaded replica is not eligible', () => {
    const replicas = [r('a'), r('b'), r('c')];
    expect(decide(replicas, job({ prefer: ['c', 'b'] }))).toMatchObject({ replicaId: 'c' });
    expect(decide(replicas, job({ prefer: ['b', 'c'] }))).toMatchObject({ replicaId: 'b' });
    const d = decide([r('a', { exhausted: true }), r('b')], job());
    expect(d).toMatchObject({ replicaId: 'b' });
    expect(d.log[0]).toBe('a: skip (engine overloaded, backing off)');
  });

  it('with allow_fallback, pin and avoid only rank: a busy pin or a free avoided replica still takes work', () => {
    expect(decide([r('a', { slotsBusy: 4 }), r('b')], job({ pin: 'a', allowFallback: true }))).toMatchObject({ replicaId: 'b' });
    expect(decide([r('a'), r('b')], job({ pin: 'b', allowFallback: true }))).toMatchObject({ replicaId: 'b' });
    expect(decide([r('a'), r('b', { slotsBusy: 4 })], job({ avoid: ['a'], allowFallback: true }))).toMatchObject({ replicaId: 'a' });
    expect(decide([r('a'), r('b')], job({ avoid: ['a'], allowFallback: true }))).toMatchObject({ replicaId: 'b' });
    expect(decide([r('a'), r('b', { slotsBusy: 4 })], job({ avoid: ['a'] }))).toMatchObject({ kind: 'no_capacity', reason: 'busy' });
  });

  it('a client preference beats session affinity, which beats load', () => {
    expect(decide([r('a'), r('b', { slotsBusy: 2 })], job({ affinityReplicaId: 'b' }))).toMatchObject({ replicaId: 'b' });
    expect(decide([r('a'), r('b')], job({ affinityReplicaId: 'b', prefer: ['a'] }))).toMatchObject({ replicaId: 'a' });
  });
});

describe('everPlaceable', () => {
  /** What everPlaceable was defined as: `decide` on the pool with every replica idle. */
  const byDecide = (replicas: readonly ReplicaView[], j: PlacementJob) => decide(replicas.map((x) => ({ ...x, slotsBusy: 0 })), j).kind === 'assigned';

  it('answers as decide on an idle pool would, over generated pools and jobs', () => {
    const rnd = seededRandom(1403);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    const maybe = <T>(x: T): T | undefined => (rnd() < 0.5 ? x : undefined);
    const ids = ['a', 'b', 'c', 'd'];
    const some = () => ids.filter(() => rnd() < 0.3);
    const answers = { true: 0, false: 0 };
    for (let n = 0; n < 5000; n++) {
      const replicas = ids.slice(0, Math.floor(rnd() * 5)).map((id) =>
        r(id, {
          state: rnd() < 0.8 ? 'ready' : pick(['starting', 'draining', 'unready', 'failed'] as const),
          breaker: rnd() < 0.85 ? 'closed' : pick(['open', 'half_open'] as const),
          slotsTotal: pick([0, 1, 4]),
          slotsBusy: pick([0, 1, 4]),
          ctxMax: pick([64, 4096]),
          versionOk: rnd() < 0.9,
          exhausted: maybe(rnd() < 0.2),
          accelerator: maybe(pick(['nvidia', 'cpu'] as const)),
        }),
      );
      const j = job({
        maxTokens: pick([10, 100]),
        pin: maybe(pick([...ids, 'z'])),
        prefer: maybe(some()),
        avoid: maybe(some()),
        exclude: maybe(some()),
        accelerator: maybe(pick(['nvidia', 'cpu'] as const)),
        allowFallback: rnd() < 0.5,
      });
      const expected = byDecide(replicas, j);
      expect(everPlaceable(replicas, j), `case ${n}: ${JSON.stringify({ replicas, j })}`).toBe(expected);
      answers[`${expected}`]++;
    }
    // Both answers occur often enough for the comparison to mean something.
    expect(answers.true).toBeGreaterThan(500);
    expect(answers.false).toBeGreaterThan(500);
  });
});
