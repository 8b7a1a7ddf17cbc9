// The `state` config block (issue 15): memory stays the default, REDIS_URL sets only the URL,
// bad values name their field. (The redis backend's behaviour: test/integration/cluster-*.test.ts.)

import { describe, expect, it } from 'vitest';
import { applyEnv, validateConfig } from '../config/load.ts';

const pools = [{ id: 'demo', engine: 'mock', model: 'demo', replicas: [{ id: 'm0' }] }];
const problems = (input: Record<string, unknown>): string[] => {
  const result = validateConfig({ pools, ...input });
  return result.ok ? [] : result.problems;
};

describe('state configuration', () => {
  it('defaults to the memory backend with the orchqueue: key prefix', () => {
    const result = validateConfig({ pools });
    expect(result.ok && result.config.state).toEqual({ backend: 'memory', key_prefix: 'orchqueue:', lease_ms: 10_000 });
  });

  it('takes REDIS_URL as the URL without choosing the backend', () => {
    const input = applyEnv({ pools }, { REDIS_URL: 'redis://:secret@10.0.0.7:6380/2' });
    const result = validateConfig(input);
    expect(result.ok && result.config.state).toEqual({ backend: 'memory', url: 'redis://:secret@10.0.0.7:6380/2', key_prefix: 'orchqueue:', lease_ms: 10_000 });
    const chosen = validateConfig(applyEnv({ pools, state: { backend: 'redis', url: 'redis://file:6379' } }, { REDIS_URL: 'rediss://env:6379' }));
    expect(chosen.ok && chosen.config.state.url).toBe('rediss://env:6379');
  });

  it('takes ORCHQUEUE_REPLICA_ID as the replica id, and validates it like the file', () => {
    const named = validateConfig(applyEnv({ pools, state: { replica_id: 'from-file' } }, { ORCHQUEUE_REPLICA_ID: 'gw-7' }));
    expect(named.ok && named.config.state.replica_id).toBe('gw-7');
    const bad = validateConfig(applyEnv({ pools }, { ORCHQUEUE_REPLICA_ID: 'gw 7' }));
    expect(bad.ok ? [] : bad.problems[0]).toMatch(/^\/state\/replica_id must match pattern/);
  });

  it.each([
    ['redis without a URL', { backend: 'redis' }, /^\/state\/url: required when backend is redis/],
    ['an unknown backend', { backend: 'etcd' }, /^\/state\/backend /],
    ['a URL that is not redis://', { backend: 'redis', url: 'http://127.0.0.1:6379' }, /^\/state\/url must match pattern/],
    ['a key prefix with a space', { key_prefix: 'orch queue' }, /^\/state\/key_prefix must match pattern/],
    ['an unknown key', { backend: 'memory', shards: 3 }, /^\/state must NOT have additional properties \(shards\)/],
    ['a replica id with a slash', { replica_id: 'gw/1' }, /^\/state\/replica_id must match pattern/],
    ['an empty replica id', { replica_id: '' }, /^\/state\/replica_id must NOT have fewer than 1 characters/],
    ['a lease under a second', { lease_ms: 500 }, /^\/state\/lease_ms must be >= 1000/],
    ['a fractional lease', { lease_ms: 1500.5 }, /^\/state\/lease_ms must be integer/],
  ])('refuses %s, naming the field', (_title, state, problem) => {
    expect(problems({ state })[0]).toMatch(problem);
  });
});
