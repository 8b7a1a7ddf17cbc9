// Interleaved comparison of "arms" (paths or gateway configurations) under the same closed-loop
// load: round r runs every arm once, in an order rotated by r, so drift on a shared machine
// hits every arm alike. Reports the median round per arm with the spread of all rounds.

import type { Pool } from 'undici';
import { runClosedLoop, type LoadPlan, type WindowResult } from './load.ts';
import { judgeFull, promptOf, streamRunner, type PathTarget } from './paths.ts';
import { rotated, type BenchContext } from './scenario.ts';
import { ratio, round } from './stats.ts';

export interface Arm {
  name: string;
  target: PathTarget;
  pool: Pool;
  /** The process between client and simulator (proxy or gateway), whose CPU is charged to the hop. */
  hopPid?: number;
  /** Waits until leftovers of a measurement stopped running (a gateway keeps tasks whose client hung up). */
  settle?: () => Promise<unknown>;
}

export interface Workload {
  concurrency: number;
  maxTokens: number;
  /** Other processes whose CPU is recorded (simulator, …). */
  pids: Record<string, number>;
}

export interface ArmResult {
  name: string;
  rounds: WindowResult[];
  /** Index (into rounds) of the median round by tokens/s. */
  medianIndex: number;
}

export function medianRound(result: ArmResult): WindowResult {
  return result.rounds[result.medianIndex] as WindowResult;
}

function medianIndexOf(rounds: readonly WindowResult[]): number {
  const order = rounds.map((r, i) => [r.tokensPerS, i] as const).sort((a, b) => a[0] - b[0]);
  return order[Math.floor((order.length - 1) / 2)]?.[1] ?? 0;
}

export async function compareArms(ctx: BenchContext, label: string, arms: readonly Arm[], work: Workload): Promise<ArmResult[]> {
  const { timing } = ctx;
  const plan = (concurrency: number): LoadPlan => ({ concurrency, warmupMs: timing.warmupMs, measureMs: timing.measureMs, maxStreams: 2_000_000, graceMs: timing.graceMs });
  const results = new Map<string, ArmResult>(arms.map((a) => [a.name, { name: a.name, rounds: [], medianIndex: 0 }]));
  for (let r = 0; r < timing.rounds; r++) {
    for (const arm of rotated(arms, r)) {
      const pids: Record<string, number | 'self'> = { ...work.pids, client: 'self' };
      if (arm.hopPid !== undefined) pids.hop = arm.hopPid;
      const window = await runClosedLoop(plan(work.concurrency), streamRunner(arm.pool, arm.target, work.maxTokens, promptOf), judgeFull(work.maxTokens), { meter: ctx.cpu, pids });
      await arm.settle?.();
      const entry = results.get(arm.name) as ArmResult;
      entry.rounds.push(window);
      ctx.log(`${label} round ${r + 1}/${timing.rounds} ${arm.name}: ${round(window.tokensPerS)} tokens/s, ${round(window.streamsPerS)} streams/s${Object.keys(window.streamsOther).length ? ` (other: ${JSON.stringify(window.streamsOther)})` : ''}`);
    }
  }
  for (const entry of results.values()) entry.medianIndex = medianIndexOf(entry.rounds);
  return [...results.values()];
}

/**
 * Per-round ratios of `pick(arm)` to `pick(baseline)`: arms of one round ran seconds apart, so
 * these pairs cancel most of the drift a shared machine adds between rounds.
 */
export function pairedRatios(arm: ArmResult, baseline: ArmResult, pick: (w: WindowResult) => number): number[] {
  const n = Math.min(arm.rounds.length, baseline.rounds.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(ratio(pick(arm.rounds[i] as WindowResult), pick(baseline.rounds[i] as WindowResult)));
  return out.filter(Number.isFinite);
}

/** CPU µs the hop process spent per delivered token in a window (NaN without a hop). */
export function hopMicrosPerToken(window: WindowResult): number {
  const ms = window.cpuMs.hop;
  return ms === undefined || window.tokens === 0 ? Number.NaN : (ms * 1000) / window.tokens;
}

/** "median (min–max)" of a figure across rounds. */
export function spread(rounds: readonly WindowResult[], pick: (w: WindowResult) => number): string {
  const values = rounds.map(pick).filter(Number.isFinite);
  if (values.length === 0) return '—';
  const min = Math.min(...values);
  const max = Math.max(...values);
  return values.length === 1 ? `${round(min)}` : `${round(min)}–${round(max)}`;
}

/** Every stream that ended in a window any way other than full, summed over rounds. */
export function otherOutcomes(rounds: readonly WindowResult[]): string {
  const sum: Record<string, number> = {};
  for (const w of rounds) for (const [k, v] of Object.entries(w.streamsOther)) sum[k] = (sum[k] ?? 0) + v;
  const aborted = rounds.reduce((n, w) => n + w.abortedAfterGrace, 0);
  const parts = Object.entries(sum).map(([k, v]) => `${v} × ${k}`);
  if (aborted > 0) parts.push(`${aborted} aborted after the grace period`);
  return parts.length === 0 ? 'none' : parts.join('; ');
}
