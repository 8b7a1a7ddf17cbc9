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

describe('breaker and readiness', () => {
  it('does not report a half-open replica ready, to the pool or to operators, until its trial succeeds', () => {
    const config = poolConfig({ health: { breaker_failures: 1, breaker_open_ms: 100 } });
    const pool = new Pool(config, replicas(config, ['v1']));
    const r = pool.replicas[0] as Replica;
    now = 0;
    r.breaker.failure(now);
    expect(pool.ready).toBe(false);
    expect(pool.replicaStatuses()[0]).toMatchObject({ state: 'failed', breaker: 'open' });
    now = 100;
    expect(r.breaker.state(now)).toBe('half_open');
    expect(pool.ready).toBe(false);
    expect(pool.replicaStatuses()[0]).toMatchObject({ state: 'unready', breaker: 'half_open', last_error: expect.stringMatching(/half-open/) });
    // Placement may still send the one trial there.
    expect(pool.views()[0]).toMatchObject({ state: 'ready', breaker: 'half_open' });
    r.breaker.success();
    expect(pool.ready).toBe(true);
    expect(pool.replicaStatuses()[0]).toMatchObject({ state: 'ready', breaker: 'closed' });
  });

  it("refuses with the open breaker's remaining wait as the retry hint", () => {
    const config = poolConfig({ health: { breaker_failures: 1, breaker_open_ms: 1_000, interval_ms: 50 } });
    const pool = new Pool(config, replicas(config, ['v1']));
    now = 0;
    pool.replicas[0]?.breaker.failure(0);
    now = 300;
    expect(pool.unreadyError()).toMatchObject({ code: 'POOL_UNREADY', retry_after_ms: 700 });
  });
});

describe('replacement after a failure before the first token', () => {
  const job = { promptTokens: 1, maxTokens: 1, allowFallback: false };
  function single(over: Record<string, unknown> = {}) {
    const config = poolConfig({ health: { breaker_failures: 1, breaker_open_ms: 1_000 }, ...over });
    const pool = new Pool(config, replicas(config, ['v1', 'v1']));
    for (const r of pool.replicas) r.ctxMax = 4096;
    now = 0;
    return pool;
  }

  it('goes elsewhere when another replica can take the task now', () => {
    const pool = single();
    const [a] = pool.replicas as [Replica, Replica];
    a.breaker.failure(now);
    expect(pool.replacement(a, job, undefined)).toEqual({ kind: 'elsewhere' });
  });

  it('may return to the failed replica when it is the only one and still serves', () => {
    const pool = single({ health: { breaker_failures: 3, breaker_open_ms: 1_000 } });
    const [a, b] = pool.replicas as [Replica, Replica];
    b.state = 'failed';
    a.breaker.failure(now);
    expect(pool.replacement(a, job, undefined)).toEqual({ kind: 'same' });
  });

  it('waits for the only replica when the deadline outlasts its open breaker, else ends with the remaining wait', () => {
    const pool = single();
    const [a, b] = pool.replicas as [Replica, Replica];
    b.state = 'failed';
    a.breaker.failure(now);
    now = 200;
    expect(pool.replacement(a, job, 5_000)).toEqual({ kind: 'same' });
    expect(pool.replacement(a, job, 500)).toEqual({ kind: 'none', retryAfterMs: 800 });
    expect(pool.replacement(a, job, undefined)).toEqual({ kind: 'none', retryAfterMs: 800 });
  });

  it('waits out an overloaded only replica within the deadline, else ends with the back-off as the hint', () => {
    const pool = single();
    const [a, b] = pool.replicas as [Replica, Replica];
    b.state = 'failed';
    a.backOff(7_000);
    expect(pool.replacement(a, job, 8_000)).toEqual({ kind: 'same' });
    expect(pool.replacement(a, job, 3_000)).toEqual({ kind: 'none', retryAfterMs: 7_000 });
  });
});

describe("a provider's spent rate-limit budget (issue 13 item 5)", () => {
  function limited(resets: Array<number | undefined>) {
    const config = poolConfig();
    const pool = new Pool(config, replicas(config, resets.map(() => 'v1')));
    now = 1_000;
    pool.replicas.forEach((r, i) => {
      const resetAtMs = resets[i];
      Object.assign(r.adapter, { rateLimit: () => ({ observedAtMs: now, remainingRequests: 0, ...(resetAtMs !== undefined ? { resetAtMs } : {}) }) });
    });
    return pool;
  }

  it('keeps a replica out until the reset and says so only when every replica up is held by it', () => {
    const pool = limited([7_000, undefined]);
    const [a, b] = pool.replicas as [Replica, Replica];
    expect(a.heedRateLimit()).toBe(6_000);
    expect(b.heedRateLimit()).toBeUndefined();
    expect(a.exhausted && a.rateLimited).toBe(true);
    expect(pool.rateLimitedForMs()).toBeUndefined();
    b.state = 'failed';
    expect(pool.rateLimitedForMs()).toBe(6_000);
    now = 7_000;
    expect(a.exhausted || a.rateLimited).toBe(false);
    expect(pool.rateLimitedForMs()).toBeUndefined();
  });

  it('ignores a reset already past and an overload back-off', () => {
    const pool = limited([500, 500]);
    const [a, b] = pool.replicas as [Replica, Replica];
    expect(a.heedRateLimit()).toBeUndefined();
    a.backOff(2_000);
    b.backOff(2_000);
    expect(pool.rateLimitedForMs()).toBeUndefined();
    expect(pool.unreadyError()).toMatchObject({ code: 'REPLICA_EXHAUSTED' });
  });
});
