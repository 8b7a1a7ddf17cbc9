import { describe, expect, it } from 'vitest';
import { decide, type PlacementJob, type ReplicaView } from './decide.ts';

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
