import { describe, expect, it } from 'vitest';
import { defaultReplicaId } from '../state/replica-id.ts';
import { auditChainOf } from './audit-chain.ts';

describe('auditChainOf', () => {
  it('names the audit chain by the replica with the redis backend, and the default chain with memory', () => {
    expect(auditChainOf({ backend: 'redis', replica_id: 'gw-a' })).toBe('gw-a');
    expect(auditChainOf({ backend: 'redis' })).toBe(defaultReplicaId());
    expect(auditChainOf({ backend: 'memory', replica_id: 'gw-a' })).toBe('main');
  });
});
