import { describe, expect, it } from 'vitest';
import { poolClusterStatus } from './cluster-status.ts';

const figures = {
  gatewayReplicasLive: ['gw-a', 'gw-b'],
  pools: new Map([['demo', { queue: { interactive: 2, batch: 1 }, capacity: { v1: 4, v0: 2 }, busy: { v0: 2, gone: 1 } }]]),
};

describe('poolClusterStatus', () => {
  it('sums engine replicas (sorted, one only busy counted with 0 capacity) and both queue classes', () => {
    expect(poolClusterStatus({ available: true, readAtMs: 0, figures }, 'demo', 'gw-b')).toEqual({
      available: true,
      gateway_replica: 'gw-b',
      read_at: '1970-01-01T00:00:00.000Z',
      queue: { depth: 3, interactive: 2, batch: 1 },
      slots: { total: 6, busy: 3 },
      replicas: [
        { replica_id: 'gone', slots_total: 0, slots_busy: 1 },
        { replica_id: 'v0', slots_total: 2, slots_busy: 2 },
        { replica_id: 'v1', slots_total: 4, slots_busy: 0 },
      ],
      gateway_replicas_live: ['gw-a', 'gw-b'],
    });
  });

  it('shows an empty pool for a pool Redis knows nothing of yet', () => {
    expect(poolClusterStatus({ available: true, readAtMs: 0, figures }, 'new-pool', 'gw-a')).toMatchObject({
      queue: { depth: 0, interactive: 0, batch: 0 }, slots: { total: 0, busy: 0 }, replicas: [],
    });
  });

  it('says only who answered when the figures are unavailable', () => {
    expect(poolClusterStatus({ available: false, readAtMs: 5 }, 'demo', 'gw-a')).toEqual({ available: false, gateway_replica: 'gw-a' });
  });
});
