import { describe, expect, it } from 'vitest';
import { defaultReplicaId, replicaIdOf } from './replica-id.ts';

describe('replica id', () => {
  it('defaults to <hostname>-<pid>, with characters state.replica_id refuses replaced and the name cut to 64', () => {
    expect(defaultReplicaId('gw-3.example', 4711)).toBe('gw-3.example-4711');
    expect(defaultReplicaId('höst name', 7)).toBe('h_st_name-7');
    expect(defaultReplicaId('', 7)).toBe('gateway-7');
    const long = defaultReplicaId('h'.repeat(100), 123456);
    expect(long).toHaveLength(64);
    expect(long).toMatch(/^[A-Za-z0-9._-]+-123456$/);
  });

  it('takes state.replica_id when set', () => {
    expect(replicaIdOf({ replica_id: 'gw-a' })).toBe('gw-a');
    expect(replicaIdOf({})).toBe(defaultReplicaId());
  });
});
