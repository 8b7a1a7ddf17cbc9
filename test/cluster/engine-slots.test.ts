// Issue 15: engine slots are counted once across gateway replicas. The engines' meters count
// concurrent generations cluster-wide; the memory-backend runs are the controls that show the
// check both reads no excess where there is none and catches the excess where it is.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { redisBackendRefusal, startCluster, type Cluster, type ClusterOptions, type EngineSpec } from '../support/cluster.ts';
import { engineLoad, incomplete, runLoad } from './cluster-load.ts';

const refusal = await redisBackendRefusal();

// Three engine replicas with small, unequal slot counts; short streams paced so tasks overlap.
const ENGINES: EngineSpec[] = [
  { slots: 2, tokensPerS: 200 },
  { slots: 3, tokensPerS: 200 },
  { slots: 4, tokensPerS: 200 },
];
const MAX_TOKENS = 8;

async function cluster(opts: ClusterOptions): Promise<Cluster> {
  const started = await startCluster(opts);
  if (!started.ok) throw new Error(started.refusal);
  return started.cluster;
}

describe('engine slots with memory-backend gateways (controls)', () => {
  // One cluster for both controls: memory-backend gateways share nothing, so load sent to one of
  // them alone is a one-gateway run.
  let c: Cluster;
  beforeAll(async () => void (c = await cluster({ backend: 'memory', engines: ENGINES })), 90_000);
  afterAll(() => c?.close());
  beforeEach(() => void c.engines.forEach((e) => e.meter.reset()));

  it('one memory-backend gateway keeps every engine within its slots: the meter reads no excess of its own', { timeout: 30_000 }, async () => {
    const outcomes = await runLoad(c, { tasks: 150, concurrency: 24, maxTokens: MAX_TOKENS, to: c.gateways.slice(0, 1) });
    expect(incomplete(outcomes, MAX_TOKENS)).toEqual([]);
    const load = engineLoad(c);
    for (const e of load) expect(e.peak, JSON.stringify(e)).toBeLessThanOrEqual(e.slots);
    // The load did fill the engines, so the bound above was tested, not idle.
    expect(load.some((e) => e.peak === e.slots), JSON.stringify(load)).toBe(true);
  });

  it('three memory-backend replicas oversubscribe — the check sees it', { timeout: 30_000 }, async () => {
    const outcomes = await runLoad(c, { tasks: 200, concurrency: 36, maxTokens: MAX_TOKENS });
    // Each replica counts the slots alone: every task still completes, but the engines are oversubscribed.
    expect(incomplete(outcomes, MAX_TOKENS)).toEqual([]);
    expect(new Set(outcomes.map((o) => o.submittedTo)).size).toBe(3);
    const load = engineLoad(c);
    expect(load.some((e) => e.peak > e.slots), JSON.stringify(load)).toBe(true);
  });
});

describe.skipIf(refusal !== undefined)(`engine slots with redis-backend gateways${refusal === undefined ? '' : ` — skipped, the gateway refuses the backend: ${refusal}`}`, () => {
  let c: Cluster;
  beforeAll(async () => void (c = await cluster({ backend: 'redis', engines: ENGINES })), 90_000);
  afterAll(() => c?.close());

  // About 20 s on an idle 2-core machine; several times that while other test runs load it.
  it('2,000 tasks submitted to random replicas never oversubscribe any engine slot and all complete', { timeout: 120_000 }, async () => {
    const outcomes = await runLoad(c, { tasks: 2_000, concurrency: 36, maxTokens: MAX_TOKENS });
    expect(outcomes).toHaveLength(2_000);
    expect(incomplete(outcomes, MAX_TOKENS)).toEqual([]);
    // Every replica took submissions, and the engines ran exactly the tasks submitted.
    expect(new Set(outcomes.map((o) => o.submittedTo)).size).toBe(3);
    const load = engineLoad(c);
    expect(load.reduce((n, e) => n + e.generations, 0)).toBe(2_000);
    for (const e of load) expect(e.peak, JSON.stringify(e)).toBeLessThanOrEqual(e.slots);
    expect(load.some((e) => e.peak === e.slots), JSON.stringify(load)).toBe(true);
  });
});
