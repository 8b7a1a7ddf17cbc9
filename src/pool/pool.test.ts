import { describe, expect, it } from 'vitest';
import { createMockAdapter } from '../adapters/mock/adapter.ts';
import { validateConfig } from '../config/load.ts';
import type { PoolConfig } from '../config/schema.ts';
import { expectedVersion, Pool } from './pool.ts';
import { Replica } from './replica.ts';

function poolConfig(over: Record<string, unknown> = {}): PoolConfig {
  const result = validateConfig({ pools: [{ id: 'p', engine: 'mock', model: 'm', replicas: [{ id: 'a' }, { id: 'b' }, { id: 'c' }], ...over }] });
  if (!result.ok) throw new Error(result.problems.join('; '));
  return result.config.pools[0] as PoolConfig;
}

let now = 0;
const clock = { now: () => now, monotonic: () => now };

function replicas(config: PoolConfig, versions: Array<string | undefined>): Replica[] {
  return versions.map((v, i) => {
    const rc = { id: `r${i}` };
    const r = new Replica({ pool: config, config: rc, adapter: createMockAdapter({ baseUrl: '', model: 'm', timeouts: { connectMs: 1, firstByteMs: 1, idleMs: 1 }, options: {}, slots: 1, mock: {} }), clock, defaultSlots: 1 });
    r.engineVersion = v;
    r.versionSeq = i;
    r.state = 'ready';
    return r;
  });
}

describe('expectedVersion', () => {
  it('is the pin when one is configured', () => {
    const config = poolConfig({ engine_version: 'v9' });
    expect(expectedVersion(config, replicas(config, ['v1', 'v1']))).toEqual({ version: 'v9', source: 'pinned' });
  });

  it('with require_same_engine_version is the majority, a tie going to the version reported first', () => {
    const config = poolConfig({ require_same_engine_version: true });
    expect(expectedVersion(config, replicas(config, ['v2', 'v1', 'v1']))?.version).toBe('v1');
    const tie = replicas(config, ['v2', 'v1']);
    expect(expectedVersion(config, tie)?.version).toBe('v2');
    (tie[0] as Replica).versionSeq = 5;
    expect(expectedVersion(config, tie)?.version).toBe('v1');
    expect(expectedVersion(config, replicas(config, [undefined]))).toBeUndefined();
  });

  it('without either, only reports a version every replica agrees on and keeps nobody out', () => {
    const config = poolConfig();
    expect(expectedVersion(config, replicas(config, ['v1', 'v1']))?.version).toBe('v1');
    expect(expectedVersion(config, replicas(config, ['v1', 'v2']))).toBeUndefined();
    const pool = new Pool(config, replicas(config, ['v1', 'v2']));
    expect(pool.replicas.every((r) => r.versionOk)).toBe(true);
  });

  // ORCH-0510
  it('a pool judges its replicas live: the odd one out is kept out of placement and slots', () => {
    const config = poolConfig({ require_same_engine_version: true });
    const pool = new Pool(config, replicas(config, ['v1', 'v2', 'v2']));
    expect(pool.replicas.map((r) => r.versionOk)).toEqual([false, true, true]);
    expect(pool.slotsTotal).toBe(2);
    expect(pool.views()[0]?.versionOk).toBe(false);
    expect(pool.replicaStatuses()[0]).toMatchObject({ state: 'unready', last_error: expect.stringMatching(/v1 differs from the version its peers run v2/) });
  });
});

describe('unreadyError', () => {
  it('says REPLICA_EXHAUSTED with the earliest retry when every ready replica is backing off', () => {
    const config = poolConfig();
    const pool = new Pool(config, replicas(config, ['v1', 'v1']));
    now = 1_000;
    pool.replicas[0]?.backOff(300);
    pool.replicas[1]?.backOff(700);
    expect(pool.ready).toBe(false);
    expect(pool.unreadyError()).toMatchObject({ code: 'REPLICA_EXHAUSTED', retry_after_ms: 300 });
    now = 1_301;
    expect(pool.ready).toBe(true);
    for (const r of pool.replicas) r.state = 'starting';
    expect(pool.unreadyError()).toMatchObject({ code: 'POOL_UNREADY' });
  });
});
