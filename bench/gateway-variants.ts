// Compares gateway configurations (audit backends, telemetry switches): each variant is its
// own gateway process. Saturation phase: closed-loop load on a pool over the unpaced simulator,
// giving the throughput cost. Optional flow phase: moderate load on a pool over a simulator at
// a realistic pace, where token gaps near nominal show streams keep flowing while the variant
// does its background work (e.g. audit batches committing).

import { compareArms, hopMicrosPerToken, medianRound, otherOutcomes, pairedRatios, spread, type Arm, type ArmResult } from './compare.ts';
import { gatewayConfig, poolConfig, type GatewayOptions } from './gateway-config.ts';
import { runClosedLoop } from './load.ts';
import { clientPool, judgeFull, promptOf, streamRunner } from './paths.ts';
import { skipped, type BenchContext, type Cell, type Table } from './scenario.ts';
import { startGateway, startSimulator, waitGatewayIdle, type Service } from './services.ts';
import { median, ratio, round } from './stats.ts';
import { orchqueueProtocol } from './stream-client.ts';

/** Issue 14's per-task case: 32-token streams. */
export const SATURATION = { concurrency: 64, maxTokens: 32 };
export const FLOW = { concurrency: 32, maxTokens: 25, tokensPerS: 50 };

export interface Variant {
  name: string;
  options: GatewayOptions;
  env?: Record<string, string>;
  /** After a short smoke load: undefined when the variant really does what it says, else why not. */
  unavailable?: (gateway: Service) => Promise<string | undefined>;
}

export interface VariantOutcome {
  saturation: ArmResult[];
  flow: ArmResult[];
  /** Variants that could not be measured, with the reason. */
  unavailable: Record<string, string>;
  gateways: Map<string, Service>;
}

/** A short closed-loop burst so lazily started machinery (audit stores, exporters) has work. */
async function smoke(ctx: BenchContext, gateway: Service): Promise<void> {
  const pool = clientPool(gateway.url, 8);
  try {
    await runClosedLoop({ concurrency: 8, warmupMs: 0, measureMs: 500, maxStreams: 200, graceMs: 5_000 }, streamRunner(pool, { name: 'smoke', url: gateway.url, protocol: orchqueueProtocol, model: 'fast' }, 16, promptOf), judgeFull(16));
  } finally {
    await pool.close();
  }
  await waitGatewayIdle(gateway.url);
  ctx.log(`  smoke load done on ${gateway.child.name}`);
}

function armOf(name: string, gateway: Service, model: string, connections: number): Arm {
  return {
    name,
    target: { name, url: gateway.url, protocol: orchqueueProtocol, model },
    pool: clientPool(gateway.url, connections),
    hopPid: gateway.child.pid,
    settle: () => waitGatewayIdle(gateway.url),
  };
}

export async function runVariants(ctx: BenchContext, label: string, variants: readonly Variant[], opts: { flow: boolean }): Promise<VariantOutcome> {
  const fast = await startSimulator(ctx.procs, 'sim-fast', { tokensPerS: 0, slots: 600 });
  const paced = opts.flow ? await startSimulator(ctx.procs, 'sim-paced', { tokensPerS: FLOW.tokensPerS, slots: 64 }) : undefined;
  const pools = [poolConfig({ id: 'fast', model: 'fast', engineUrl: fast.url, slots: 512, maxQueued: 1024 })];
  if (paced) pools.push(poolConfig({ id: 'paced', model: 'paced', engineUrl: paced.url, slots: 64, maxQueued: 64 }));
  const outcome: VariantOutcome = { saturation: [], flow: [], unavailable: {}, gateways: new Map() };
  const ready: Array<{ name: string; gateway: Service }> = [];
  for (const v of variants) {
    let gateway: Service;
    try {
      gateway = await startGateway(ctx, { name: `gateway-${label}-${v.name.replace(/\W+/g, '-').replace(/-$/, '')}`, config: gatewayConfig(pools, v.options), ...(v.env ? { env: v.env } : {}) });
    } catch (err) {
      outcome.unavailable[v.name] = `the gateway did not start with this configuration (${(err instanceof Error ? err.message : String(err)).split('\n')[0]})`;
      continue;
    }
    outcome.gateways.set(v.name, gateway);
    await smoke(ctx, gateway);
    const why = await v.unavailable?.(gateway);
    if (why === undefined) ready.push({ name: v.name, gateway });
    else {
      outcome.unavailable[v.name] = why;
      await gateway.child.stop();
    }
  }
  // A baseline alone answers nothing: measure only when some variant can be compared with it.
  if (ready.length < 2) return outcome;
  const saturationArms = ready.map((r) => armOf(r.name, r.gateway, 'fast', SATURATION.concurrency));
  const flowArms = paced ? ready.map((r) => armOf(r.name, r.gateway, 'paced', FLOW.concurrency)) : [];
  try {
    // Differences of a few percent are the question here: one round more than the default.
    const more = { ...ctx, timing: { ...ctx.timing, rounds: ctx.timing.rounds + 1 } };
    outcome.saturation = await compareArms(more, `${label} saturation`, saturationArms, { ...SATURATION, pids: { sim: fast.child.pid } });
    if (paced) outcome.flow = await compareArms(ctx, `${label} flow`, flowArms, { concurrency: FLOW.concurrency, maxTokens: FLOW.maxTokens, pids: { sim: paced.child.pid } });
  } finally {
    await Promise.all([...saturationArms, ...flowArms].map((a) => a.pool.close()));
  }
  return outcome;
}

/** The result of a comparison in which no variant beyond the baseline could be measured: why each could not. */
export function noneMeasured(outcome: VariantOutcome): ReturnType<typeof skipped> {
  const reasons = Object.entries(outcome.unavailable).map(([name, why]) => `${name}: ${why}`).join('; ');
  return skipped(`${reasons}.`, { unavailable: outcome.unavailable });
}

/** Paired per-round throughput ratios of a variant to the baseline. */
export function shareRounds(results: readonly ArmResult[], name: string, baseline: string): number[] {
  const a = results.find((r) => r.name === name);
  const b = results.find((r) => r.name === baseline);
  return a && b ? pairedRatios(a, b, (w) => w.tokensPerS) : [];
}

/** "median% (rounds: a–b%)" for paired ratios. */
export function describeShare(shares: readonly number[]): string {
  if (shares.length === 0) return 'not measured';
  const pct = shares.map((s) => round(s * 100));
  return `${round(median(shares) * 100)}% (rounds: ${pct.join(', ')}%)`;
}

export function saturationTable(title: string, outcome: VariantOutcome, baseline: string): Table {
  const base = outcome.saturation.find((r) => r.name === baseline);
  const rows: Cell[][] = outcome.saturation.map((r) => {
    const w = medianRound(r);
    const shares = base ? pairedRatios(r, base, (x) => x.tokensPerS) : [];
    const cpu = base ? pairedRatios(r, base, hopMicrosPerToken) : [];
    return [
      r.name,
      round(w.streamsPerS),
      round(w.tokensPerS),
      spread(r.rounds, (x) => x.tokensPerS),
      r.name === baseline ? 1 : round(median(shares)),
      r.name === baseline ? '—' : shares.map((s) => round(s)).join(', '),
      round(hopMicrosPerToken(w)),
      r.name === baseline ? 1 : round(median(cpu)),
      otherOutcomes(r.rounds),
    ];
  });
  for (const [name, why] of Object.entries(outcome.unavailable)) rows.push([name, null, null, null, null, null, null, null, `not measured: ${why}`]);
  return {
    title,
    columns: ['variant', 'streams/s', 'tokens/s', 'tokens/s spread', `tokens/s vs ${baseline} (median of rounds)`, 'per round', 'gateway CPU µs/token', `CPU/token vs ${baseline}`, 'other outcomes'],
    rows,
  };
}

export function flowTable(title: string, outcome: VariantOutcome, baseline: string): Table {
  const base = outcome.flow.find((r) => r.name === baseline);
  const baseW = base ? medianRound(base) : undefined;
  const rows: Cell[][] = outcome.flow.map((r) => {
    const w = medianRound(r);
    return [
      r.name,
      round(w.tokensPerS),
      round(w.ttftMs.p50),
      round(w.ttftMs.p99),
      round(w.gapMs.p50),
      round(w.gapMs.p99),
      round(w.gapMs.max),
      spread(r.rounds, (x) => x.gapMs.max),
      round(ratio(w.gapMs.p99, baseW?.gapMs.p99 ?? Number.NaN)),
      otherOutcomes(r.rounds),
    ];
  });
  return {
    title,
    columns: ['variant', 'tokens/s', 'TTFT p50 ms', 'TTFT p99 ms', 'gap p50 ms', 'gap p99 ms', 'gap max ms', 'gap max spread', `gap p99 vs ${baseline}`, 'other outcomes'],
    rows,
  };
}

export const SATURATION_NOTE = `Saturation: ${SATURATION.concurrency} concurrent ${SATURATION.maxTokens}-token streams on the unpaced simulator (pool "fast", 512 slots), closed loop. Short streams on purpose: audit and telemetry cost per task more than per token, so this is the demanding case. "Per round" ratios pair the variant with the baseline measured seconds apart in the same round; a target is called met or missed only when every round agrees.`;
export const FLOW_NOTE = `Flow: ${FLOW.concurrency} concurrent ${FLOW.maxTokens}-token streams on a second simulator paced at ${FLOW.tokensPerS} tokens/s (pool "paced", nominal gap ${1000 / FLOW.tokensPerS} ms): the gateway is not saturated, so a stalled event loop (e.g. a store committing on the main thread) shows up as gaps well above nominal.`;
