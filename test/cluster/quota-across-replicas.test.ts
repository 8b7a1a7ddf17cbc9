// Issue 15: a tenant's tokens-per-minute quota holds for the cluster, not per replica (the
// LiteLLM bug: limits read from local memory multiply by the replica count). The memory-backend
// run is the control that shows the count can fail.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisBackendRefusal, startCluster, type Cluster, type ClusterOptions } from '../support/cluster.ts';
import { postJson, taskBody } from './cluster-load.ts';

const refusal = await redisBackendRefusal();
const skipped = refusal === undefined ? '' : ` — skipped, the gateway refuses the backend: ${refusal}`;

const TOKENS_PER_MIN = 1_000;
const MAX_TOKENS = 10;
/** Twice what the quota admits, so a cluster that multiplies it by three is seen doing so. */
const SUBMITTED = 200;

const options = (backend: ClusterOptions['backend']): ClusterOptions => ({
  backend,
  // The fakes send exactly max_tokens tokens, so the reservation is never trued down.
  engines: [{ slots: 4 }, { slots: 4 }],
  config: { tenancy: { default_tenant: { limits: { tokens_per_min: TOKENS_PER_MIN } } } },
});

async function start(opts: ClusterOptions): Promise<Cluster> {
  const started = await startCluster(opts);
  if (!started.ok) throw new Error(started.refusal);
  return started.cluster;
}

/** Waits until at least `seconds` remain in the current fixed minute window (windows start on whole minutes). */
async function awayFromMinuteEnd(seconds: number): Promise<number> {
  const left = () => 60_000 - (Date.now() % 60_000);
  if (left() < seconds * 1000) await new Promise((r) => setTimeout(r, left() + 50));
  return Math.floor(Date.now() / 60_000);
}

/** Submits `SUBMITTED` detached tasks to random gateways; the admitted token total and the refusals. */
async function burst(c: Cluster): Promise<{ admittedTokens: number; refusals: unknown[]; minutes: number[] }> {
  const minute = await awayFromMinuteEnd(20);
  let admitted = 0;
  const refusals: unknown[] = [];
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < SUBMITTED; i = next++) {
      const res = await postJson(c.any(), '/v1/tasks', taskBody(`quota task ${i}`, MAX_TOKENS, { detach: true }));
      if (res.status === 202) admitted++;
      else refusals.push({ status: res.status, retryAfter: res.headers['retry-after'], body: res.body });
    }
  };
  await Promise.all(Array.from({ length: 24 }, worker));
  return { admittedTokens: admitted * MAX_TOKENS, refusals, minutes: [minute, Math.floor(Date.now() / 60_000)] };
}

const quotaRefusal = { status: 429, retryAfter: expect.stringMatching(/^\d+$/), body: { error: expect.objectContaining({ code: 'RATE_LIMITED', limit: 'tokens_per_min' }) } };

describe('tokens-per-minute quota with memory-backend gateways (control)', () => {
  let c: Cluster;
  beforeAll(async () => void (c = await start(options('memory'))), 90_000);
  afterAll(() => c?.close());

  it('three memory-backend replicas each admit the whole quota — the check sees it', { timeout: 60_000 }, async () => {
    const { admittedTokens, refusals, minutes } = await burst(c);
    expect(minutes[1], 'the burst stayed in one minute window').toBe(minutes[0]);
    expect(admittedTokens).toBeGreaterThan(TOKENS_PER_MIN * 1.01);
    for (const r of refusals) expect(r, JSON.stringify(r)).toMatchObject(quotaRefusal);
  });
});

describe.skipIf(refusal !== undefined)(`tokens-per-minute quota across redis-backend replicas${skipped}`, () => {
  let c: Cluster;
  beforeAll(async () => void (c = await start(options('redis'))), 90_000);
  afterAll(() => c?.close());

  it('a quota of N tokens per minute admits N (±1%) across all replicas together', { timeout: 60_000 }, async () => {
    const { admittedTokens, refusals, minutes } = await burst(c);
    expect(minutes[1], 'the burst stayed in one minute window').toBe(minutes[0]);
    expect(admittedTokens).toBeGreaterThanOrEqual(TOKENS_PER_MIN * 0.99);
    expect(admittedTokens).toBeLessThanOrEqual(TOKENS_PER_MIN * 1.01);
    expect(refusals).toHaveLength(SUBMITTED - admittedTokens / MAX_TOKENS);
    for (const r of refusals) expect(r, JSON.stringify(r)).toMatchObject(quotaRefusal);
  });
});
