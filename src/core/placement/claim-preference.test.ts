import { describe, expect, it } from 'vitest';
import { claimPreference } from './claim-preference.ts';
import { choices, decide, type PlacementJob, type ReplicaView } from './decide.ts';

const r = (id: string, over: Partial<ReplicaView> = {}): ReplicaView => ({
  id, state: 'ready', breaker: 'closed', slotsTotal: 4, slotsBusy: 0, ctxMax: 4096, versionOk: true, ...over,
});
const job = (over: Partial<PlacementJob> = {}): PlacementJob => ({ promptTokens: 10, maxTokens: 10, allowFallback: false, ...over });

describe('claimPreference', () => {
  it('states nothing for a job without pin, prefer, avoid or affinity', () => {
    expect(claimPreference(job())).toBeUndefined();
  });

  it('orders the client pin, then its prefer list, then session affinity, as decide ranks them', () => {
    expect(claimPreference(job({ affinityReplicaId: 'c' }))).toEqual({ prefer: ['c'], avoid: [] });
    expect(claimPreference(job({ pin: 'a', prefer: ['b', 'a'], affinityReplicaId: 'b', allowFallback: true }))).toEqual({ prefer: ['a', 'b'], avoid: [] });
  });

  it('leaves an avoided affinity replica out of the preferred ones and ranks it last', () => {
    expect(claimPreference(job({ avoid: ['c'], affinityReplicaId: 'c', allowFallback: true }))).toEqual({ prefer: [], avoid: ['c'] });
  });

  it('makes a pin and avoid without allow_fallback hard, as decide filters them: the pin alone, never an avoided replica', () => {
    expect(claimPreference(job({ pin: 'a', prefer: ['b'], affinityReplicaId: 'c' }))).toEqual({ prefer: ['a', 'b', 'c'], avoid: [], only: 'a' });
    expect(claimPreference(job({ avoid: ['c'], affinityReplicaId: 'c' }))).toEqual({ prefer: [], avoid: ['c'], avoidStrictly: true });
    expect(claimPreference(job({ pin: 'a', avoid: ['c'], allowFallback: true }))).toEqual({ prefer: ['a'], avoid: ['c'] });
  });
});

describe('choices', () => {
  it('lists every replica decide could choose now, its choice first, skipping full and ineligible ones', () => {
    const replicas = [r('a', { slotsBusy: 3 }), r('b', { slotsBusy: 4 }), r('c', { breaker: 'open' }), r('d'), r('e', { slotsBusy: 1 })];
    const affine = job({ affinityReplicaId: 'a' });
    expect(choices(replicas, affine)).toEqual(['a', 'd', 'e']);
    expect(decide(replicas, affine)).toMatchObject({ replicaId: 'a' });
    expect(choices(replicas, job({ exclude: ['d'] }))).toEqual(['e', 'a']);
    expect(choices(replicas, job({ pin: 'e' }))).toEqual(['e']);
  });
});
