// Compares gateway configurations (audit backends, telemetry switches) under one workload:
// every variant is its own gateway process with a "fast" pool on the unpaced simulator and a
// "paced" pool on a simulator at a realistic pace. The load runs on "fast"; a few probe streams
// on "paced" show whether tokens keep flowing (gaps near nominal) while the variant works.

import { compareArms, hopMicrosPerToken, medianRound, otherOutcomes, spread, type Arm, type ArmResult } from './compare.ts';
import { gatewayConfig, poolConfig, type GatewayOptions } from './gateway-config.ts';
import { clientPool, judgeFull, promptOf, streamRunner } from './paths.ts';
import { runClosedLoop } from './load.ts';
import type { BenchContext, Cell, Table } from './scenario.ts';
import { startGateway, startSimulator, waitGatewayIdle, type Service } from './services.ts';
import { ratio, round } from './stats.ts';
import { orchqueueProtocol } from './stream-client.ts';

export const LOAD = { concurrency: 64, maxTokens: 64 };
export const PROBE = { concurrency: 8, maxTokens: 50, tokensPerS: 50 };

export interface Variant {
  name: string;
  options: GatewayOptions;
  env?: Record<string, string>;
  /** After a short smoke load: undefined when the variant really does what it says, else why not. */
  unavailable?: (gateway: Service) => Promise<string | undefined>;
}

export interface VariantOutcome {
  results: ArmResult[];
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

export async function runVariants(ctx: BenchContext, label: string, variants: readonly Variant[]): Promise<VariantOutcome> {
  const fast = await startSimulator(ctx.procs, 'sim-fast', { tokensPerS: 0, slots: 600 });
  const paced = await startSimulator(ctx.procs, 'sim-paced', { tokensPerS: PROBE.tokensPerS, slots: 64 });
  const pools = [
    poolConfig({ id: 'fast', model: 'fast', engineUrl: fast.url, slots: 512, maxQueued: 1024 }),
    poolConfig({ id: 'paced', model: 'paced', engineUrl: paced.url, slots: 64, maxQueued: 64 }),
  ];
  const unavailable: Record<string, string> = {};
  const gateways = new Map<string, Service>();
  const arms: Arm[] = [];
  const probes = new Map<string, Arm>();
  for (const v of variants) {
    let gateway: Service;
    try {
      gateway = await startGateway(ctx.procs, { name: `gateway-${label}-${v.name}`, config: gatewayConfig(pools, v.options), tmpDir: ctx.tmpDir, ...(v.env ? { env: v.env } : {}) });
    } catch (err) {
      unavailable[v.name] = `the gateway did not start with this configuration (${(err instanceof Error ? err.message : String(err)).split('\n')[0]})`;
      continue;
    }
    gateways.set(v.name, gateway);
    await smoke(ctx, gateway);
    const why = await v.unavailable?.(gateway);
    if (why !== undefined) {
      unavailable[v.name] = why;
      await gateway.child.stop();
      continue;
    }
    const settle = () => waitGatewayIdle(gateway.url);
    arms.push({ name: v.name, target: { name: v.name, url: gateway.url, protocol: orchqueueProtocol, model: 'fast' }, pool: clientPool(gateway.url, LOAD.concurrency), hopPid: gateway.child.pid, settle });
    probes.set(v.name, { name: `${v.name}-probe`, target: { name: `${v.name}-probe`, url: gateway.url, protocol: orchqueueProtocol, model: 'paced' }, pool: clientPool(gateway.url, PROBE.concurrency), settle });
  }
  let results: ArmResult[] = [];
  try {
    // A baseline alone answers nothing: measure only when some variant can be compared with it.
    if (arms.length > 1) {
      // These comparisons look for differences of a few percent: one round more than the default.
      const more = { ...ctx, timing: { ...ctx.timing, rounds: ctx.timing.rounds + 1 } };
      results = await compareArms(more, label, arms, {
        ...LOAD,
        pids: { sim: fast.child.pid },
        probe: { arm: (main) => probes.get(main.name), concurrency: PROBE.concurrency, maxTokens: PROBE.maxTokens },
      });
    }
  } finally {
    await Promise.all([...arms, ...probes.values()].map((a) => a.pool.close()));
  }
  return { results, unavailable, gateways };
}

/** One row per measured variant: throughput, cost next to the baseline, CPU, probe gaps. */
export function variantTable(title: string, outcome: VariantOutcome, baseline: string): Table {
  const base = outcome.results.find((r) => r.name === baseline);
  const baseW = base ? medianRound(base) : undefined;
  const rows: Cell[][] = outcome.results.map((r) => {
    const w = medianRound(r);
    const probe = r.probeRounds[r.medianIndex];
    const cost = 1 - ratio(w.tokensPerS, baseW?.tokensPerS ?? Number.NaN);
    const hopMs = w.cpuMs.hop ?? Number.NaN;
    return [
      r.name,
      round(w.streamsPerS),
      round(w.tokensPerS),
      spread(r.rounds, (x) => x.tokensPerS),
      round(ratio(w.tokensPerS, baseW?.tokensPerS ?? Number.NaN)),
      r.name === baseline ? '—' : `${round(cost * 100)}%`,
      round(hopMicrosPerToken(w)),
      round((hopMs * 1000) / Math.max(1, w.streamsFull)),
      probe ? `${round(probe.gapMs.p50)} / ${round(probe.gapMs.p99)} / ${round(probe.gapMs.max)}` : '—',
      otherOutcomes([...r.rounds, ...r.probeRounds.filter((p) => p !== undefined)]),
    ];
  });
  for (const [name, why] of Object.entries(outcome.unavailable)) rows.push([name, null, null, null, null, null, null, null, null, `not measured: ${why}`]);
  return {
    title,
    columns: ['variant', 'streams/s', 'tokens/s', 'tokens/s spread', `vs ${baseline}`, 'throughput cost', 'gateway CPU µs/token', 'gateway CPU µs/stream', `probe gap p50 / p99 / max ms (nominal ${1000 / PROBE.tokensPerS})`, 'other outcomes'],
    rows,
  };
}

/** Throughput of a variant as a share of the baseline's (median rounds); NaN when either is missing. */
export function shareOf(outcome: VariantOutcome, name: string, baseline: string): number {
  const a = outcome.results.find((r) => r.name === name);
  const b = outcome.results.find((r) => r.name === baseline);
  return a && b ? ratio(medianRound(a).tokensPerS, medianRound(b).tokensPerS) : Number.NaN;
}

export const VARIANT_NOTES = [
  `Load: ${LOAD.concurrency} concurrent ${LOAD.maxTokens}-token streams on the unpaced simulator (pool "fast", 512 slots). Probe: ${PROBE.concurrency} concurrent ${PROBE.maxTokens}-token streams on a second simulator paced at ${PROBE.tokensPerS} tokens/s (pool "paced"), run at the same time through the same gateway; their token gaps show whether streams keep flowing.`,
  'Short streams on purpose: audit and telemetry cost per task more than per token, so this is the demanding case. Figures are the median round; spread is min–max over rounds.',
];
