// Scenario "throughput": streams and tokens per second through each path, and what the gateway
// costs next to a bare proxy. Headline: 32-token streams at 64 and 256 concurrent on the unpaced
// simulator (every path at saturation, so the figures compare CPU cost) for direct, proxy and
// the gateway on its shipped defaults, with audit off and metrics off as extra rows; then
// 64-token streams at 256, and 256 streams at a realistic 10 ms between tokens. Also the
// gateways' memory: idle after start, and the peak (VmHWM) after all of it.

import { compareArms, medianRound, otherOutcomes, pairedRatios, spread, type Arm, type ArmResult } from '../compare.ts';
import { AUDIT_OFF, gatewayConfig, METRICS_OFF, poolConfig, SHIPPED_DEFAULTS, type GatewayOptions } from '../gateway-config.ts';
import type { WindowResult } from '../load.ts';
import { clientPool } from '../paths.ts';
import { memoryOf, resetPeak } from '../processes.ts';
import { verdictOf, type BenchContext, type Cell, type Scenario, type Table, type TargetCheck } from '../scenario.ts';
import { IDLE_SETTLE_MS, idleRssMiB, startGateway, startProxy, startSimulator, waitGatewayIdle, type Service } from '../services.ts';
import { median, ratio, round } from '../stats.ts';
import { llamacppProtocol, orchqueueProtocol } from '../stream-client.ts';
import { checkOf } from '../targets.ts';

/** The per-task case of issue 14. */
const STREAM_TOKENS = 32;
const CONCURRENCY = [64, 256] as const;
/** The longer streams: a per-token cost shows here more than a per-stream one. */
const LONG = { tokens: 64, concurrency: 256 };
/** A realistic engine pace: 10 ms between tokens (100 tokens/s per stream). */
const PACED = { tokens: 32, concurrency: 256, tokensPerS: 100 };
const IDLE_LIMIT_MIB = 200;

/** The gateway processes compared: the shipped defaults first, then one switch off each. */
const GATEWAYS: ReadonlyArray<{ arm: string; process: string; options: GatewayOptions }> = [
  { arm: 'gateway (defaults)', process: 'gateway-defaults', options: SHIPPED_DEFAULTS },
  { arm: 'gateway (audit off)', process: 'gateway-audit-off', options: AUDIT_OFF },
  { arm: 'gateway (metrics off)', process: 'gateway-metrics-off', options: METRICS_OFF },
];
const DEFAULTS_ARM = 'gateway (defaults)';

interface GatewayRun {
  arm: string;
  service: Service;
  idleMiB: number;
  /** VmHWM before the runs: the start-up peak (PGlite's initialisation is the big one). */
  startPeakMiB: number;
  /** Whether VmHWM was reset after the idle reading, so the later one is the peak under load. */
  peakReset: boolean;
}

/** CPU µs the hop process spent per stream completed in a window (NaN without a hop). */
function hopMicrosPerStream(w: WindowResult): number {
  const ms = w.cpuMs.hop;
  return ms === undefined || w.streamsFull === 0 ? Number.NaN : (ms * 1000) / w.streamsFull;
}

function hopMicrosPerToken(w: WindowResult): number {
  const ms = w.cpuMs.hop;
  return ms === undefined || w.tokens === 0 ? Number.NaN : (ms * 1000) / w.tokens;
}

const pct = (x: number) => `${round(x * 100)}%`;
const times = (x: number) => `${round(x)}×`;

/** "median (rounds: a, b, c)" of paired per-round ratios. */
function describe(samples: readonly number[], show: (x: number) => string): string {
  return samples.length === 0 ? 'not measured' : `${show(median(samples))} (rounds: ${samples.map(show).join(', ')})`;
}

function saturationRows(label: Cell, results: readonly ArmResult[]): Cell[][] {
  const byName = new Map(results.map((r) => [r.name, r]));
  const direct = byName.get('direct');
  const proxy = byName.get('proxy');
  return results.map((r) => {
    const w = medianRound(r);
    const vs = (base: ArmResult | undefined) => (base ? round(median(pairedRatios(r, base, (x) => x.streamsPerS))) : null);
    const cpuVsProxy = proxy && r.name !== 'direct' ? round(median(pairedRatios(r, proxy, hopMicrosPerStream))) : null;
    return [label, r.name, round(w.streamsPerS), spread(r.rounds, (x) => x.streamsPerS), round(w.tokensPerS), vs(direct), vs(proxy), round(w.ttftMs.p50), round(w.ttftMs.p99), round(hopMicrosPerStream(w)), cpuVsProxy, round(hopMicrosPerToken(w)), otherOutcomes(r.rounds)];
  });
}

const SATURATION_COLUMNS = ['streams', 'path', 'streams/s', 'streams/s spread', 'tokens/s', 'streams/s vs direct', 'streams/s vs proxy', 'TTFT p50 ms', 'TTFT p99 ms', 'hop CPU µs/stream', 'CPU/stream vs proxy', 'hop CPU µs/token', 'other outcomes'];

function pacedTable(results: readonly ArmResult[]): Table {
  const direct = results.find((r) => r.name === 'direct');
  return {
    title: `Paced: ${PACED.concurrency} streams of ${PACED.tokens} tokens, ${1000 / PACED.tokensPerS} ms between tokens`,
    columns: ['path', 'streams/s', 'streams/s spread', 'vs direct (median of rounds)', 'TTFT p50 ms', 'TTFT p99 ms', 'gap p50 ms', 'gap p99 ms', 'gap max ms', 'hop CPU µs/stream', 'other outcomes'],
    rows: results.map((r) => {
      const w = medianRound(r);
      return [r.name, round(w.streamsPerS), spread(r.rounds, (x) => x.streamsPerS), direct ? round(median(pairedRatios(r, direct, (x) => x.streamsPerS))) : null, round(w.ttftMs.p50), round(w.ttftMs.p99), round(w.gapMs.p50), round(w.gapMs.p99), round(w.gapMs.max), round(hopMicrosPerStream(w)), otherOutcomes(r.rounds)];
    }),
  };
}

/** Paired per-round share of `arm` over `base` in one comparison, by `pick`. */
function shares(results: readonly ArmResult[] | undefined, arm: string, base: string, pick: (w: WindowResult) => number): number[] {
  const a = results?.find((r) => r.name === arm);
  const b = results?.find((r) => r.name === base);
  return a && b ? pairedRatios(a, b, pick) : [];
}

/** Marginal CPU per token from 32- to 64-token streams, per paired round, gateway over proxy. */
function marginalCpuRatios(short: readonly ArmResult[] | undefined, long: readonly ArmResult[] | undefined): number[] {
  const slope = (name: string, i: number) => {
    const s = short?.find((r) => r.name === name)?.rounds[i];
    const l = long?.find((r) => r.name === name)?.rounds[i];
    if (!s || !l) return Number.NaN;
    const perToken = (hopMicrosPerStream(l) - hopMicrosPerStream(s)) / (LONG.tokens - STREAM_TOKENS);
    return perToken > 0 ? perToken : Number.NaN;
  };
  const n = Math.min(short?.[0]?.rounds.length ?? 0, long?.[0]?.rounds.length ?? 0);
  return Array.from({ length: n }, (_, i) => ratio(slope(DEFAULTS_ARM, i), slope('proxy', i))).filter(Number.isFinite);
}

function targetsOf(headline: Record<number, ArmResult[]>, long: ArmResult[], paced: ArmResult[], memory: { idleMiB: number; peakMiB: number }): TargetCheck[] {
  const streams = (results: ArmResult[] | undefined) => shares(results, DEFAULTS_ARM, 'proxy', (w) => w.streamsPerS);
  const s64 = streams(headline[64]);
  const s256 = streams(headline[256]);
  const sLong = streams(long);
  const tokens256 = shares(long, DEFAULTS_ARM, 'proxy', (w) => w.tokensPerS);
  const cpuStream = CONCURRENCY.flatMap((c) => shares(headline[c], DEFAULTS_ARM, 'proxy', hopMicrosPerStream));
  const cpuToken = marginalCpuRatios(headline[LONG.concurrency], long);
  const plainCpuToken = shares(long, DEFAULTS_ARM, 'proxy', hopMicrosPerToken);
  const pacedShare = shares(paced, DEFAULTS_ARM, 'direct', (w) => w.streamsPerS);
  const peakRatio = memory.peakMiB / memory.idleMiB;
  const single = (ok: boolean, value: number) => (Number.isFinite(value) ? (ok ? 'met' : 'missed') : 'not measured');
  return [
    checkOf('throughput.streams-32-c64', describe(s64, pct), verdictOf(s64, (s) => s >= 0.7)),
    checkOf('throughput.streams-32-c256', describe(s256, pct), verdictOf(s256, (s) => s >= 0.7)),
    checkOf('throughput.streams-64', describe(sLong, pct), verdictOf(sLong, (s) => s >= 0.85)),
    checkOf('throughput.tokens-256', describe(tokens256, pct), verdictOf(tokens256, (s) => s >= 0.8)),
    checkOf('throughput.cpu-per-stream', describe(cpuStream, times), verdictOf(cpuStream, (r) => r <= 1.5)),
    checkOf('throughput.cpu-per-token', `${describe(plainCpuToken, times)}; marginal (${STREAM_TOKENS} → ${LONG.tokens} tokens): ${cpuToken.length > 0 ? describe(cpuToken, times) : 'no round where both hops spent more per stream on the longer streams'}`, verdictOf(plainCpuToken, (r) => r <= 1.3)),
    checkOf('throughput.paced', describe(pacedShare, pct), verdictOf(pacedShare, (s) => s >= 0.9)),
    checkOf('memory.idle', `${round(memory.idleMiB)} MiB`, single(memory.idleMiB <= IDLE_LIMIT_MIB, memory.idleMiB)),
    checkOf('memory.peak', `${times(peakRatio)} (${round(memory.peakMiB)} MiB peak / ${round(memory.idleMiB)} MiB idle)`, single(peakRatio <= 2, peakRatio)),
  ];
}

export const throughputScenario: Scenario = {
  name: 'throughput',
  question: `How many ${STREAM_TOKENS}-token streams per second pass through each path at ${CONCURRENCY.join(' and ')} concurrent, what does a stream and a token cost the gateway next to a bare proxy, and how much memory does it hold?`,
  async run(ctx: BenchContext) {
    const sim = await startSimulator(ctx.procs, 'sim', { tokensPerS: 0, slots: 600 });
    const simPaced = await startSimulator(ctx.procs, 'sim-paced', { tokensPerS: PACED.tokensPerS, slots: 600 });
    const proxy = await startProxy(ctx.procs, sim.url);
    const proxyPaced = await startProxy(ctx.procs, simPaced.url, 'proxy-paced');
    const pools = [
      poolConfig({ id: 'bench', model: 'bench', engineUrl: sim.url, slots: 512, maxQueued: 1024 }),
      poolConfig({ id: 'paced', model: 'paced', engineUrl: simPaced.url, slots: 512, maxQueued: 1024 }),
    ];
    // One at a time, each measured idle before the next starts, so no start-up competes with the reading.
    const gateways: GatewayRun[] = [];
    for (const g of GATEWAYS) {
      const service = await startGateway(ctx, { name: g.process, config: gatewayConfig(pools, g.options) });
      const idleMiB = await idleRssMiB(service);
      const startPeakMiB = memoryOf(service.child.pid).peakKiB / 1024;
      gateways.push({ arm: g.arm, service, idleMiB, startPeakMiB, peakReset: await resetPeak(service.child.pid) });
    }
    const maxC = Math.max(...CONCURRENCY);
    const gatewayArm = (g: GatewayRun, model: string): Arm => ({
      name: g.arm,
      target: { name: g.arm, url: g.service.url, protocol: orchqueueProtocol, model },
      pool: clientPool(g.service.url, maxC),
      hopPid: g.service.child.pid,
      settle: () => waitGatewayIdle(g.service.url),
    });
    const direct: Arm = { name: 'direct', target: { name: 'direct', url: sim.url, protocol: llamacppProtocol, model: 'bench' }, pool: clientPool(sim.url, maxC) };
    const viaProxy: Arm = { name: 'proxy', target: { name: 'proxy', url: proxy.url, protocol: llamacppProtocol, model: 'bench' }, pool: clientPool(proxy.url, maxC), hopPid: proxy.child.pid };
    const headlineArms = [direct, viaProxy, ...gateways.map((g) => gatewayArm(g, 'bench'))];
    const defaults = gateways[0] as GatewayRun;
    const longArms = headlineArms.slice(0, 3);
    const pacedArms: Arm[] = [
      { name: 'direct', target: { name: 'direct', url: simPaced.url, protocol: llamacppProtocol, model: 'paced' }, pool: clientPool(simPaced.url, PACED.concurrency) },
      { name: 'proxy', target: { name: 'proxy', url: proxyPaced.url, protocol: llamacppProtocol, model: 'paced' }, pool: clientPool(proxyPaced.url, PACED.concurrency), hopPid: proxyPaced.child.pid },
      gatewayArm(defaults, 'paced'),
    ];
    const headline: Record<number, ArmResult[]> = {};
    let long: ArmResult[] = [];
    let paced: ArmResult[] = [];
    // The headline targets are decided here: one round more than the default.
    const more = { ...ctx, timing: { ...ctx.timing, rounds: ctx.timing.rounds + 1 } };
    try {
      for (const concurrency of CONCURRENCY) {
        headline[concurrency] = await compareArms(more, `throughput ${STREAM_TOKENS} tokens c=${concurrency}`, headlineArms, { concurrency, maxTokens: STREAM_TOKENS, pids: { sim: sim.child.pid } });
      }
      long = await compareArms(ctx, `throughput ${LONG.tokens} tokens c=${LONG.concurrency}`, longArms, { concurrency: LONG.concurrency, maxTokens: LONG.tokens, pids: { sim: sim.child.pid } });
      paced = await compareArms(ctx, `throughput paced c=${PACED.concurrency}`, pacedArms, { concurrency: PACED.concurrency, maxTokens: PACED.tokens, pids: { sim: simPaced.child.pid } });
    } finally {
      await Promise.all([...headlineArms, ...pacedArms].map((a) => a.pool.close()));
    }
    const memory = gateways.map((g) => ({ arm: g.arm, idleMiB: g.idleMiB, startPeakMiB: g.startPeakMiB, peakReset: g.peakReset, ...memoryOf(g.service.child.pid) }));
    const defaultsMemory = memory[0] as (typeof memory)[number];
    const retained = Object.values(headline).flat().concat(long, paced).filter((r) => r.name === DEFAULTS_ARM).reduce((n, r) => n + r.rounds.reduce((m, w) => m + w.streamsFull, 0), 0);
    const memoryTable: Table = {
      title: 'Gateway memory: idle after start, and after the runs above',
      columns: ['gateway', 'start-up peak MiB (VmHWM when idle)', `idle RSS MiB (${IDLE_SETTLE_MS / 1000} s after ready)`, 'peak RSS MiB under load (VmHWM)', 'peak vs idle', 'RSS MiB after the runs'],
      rows: memory.map((m) => [m.arm, round(m.startPeakMiB), round(m.idleMiB), `${round(m.peakKiB / 1024)}${m.peakReset ? '' : ' (includes start-up)'}`, round(m.peakKiB / 1024 / m.idleMiB), round(m.rssKiB / 1024)]),
    };
    return {
      status: 'ok',
      tables: [
        { title: `Throughput at saturation, ${STREAM_TOKENS}-token streams (the per-task case)`, columns: SATURATION_COLUMNS, rows: CONCURRENCY.flatMap((c) => saturationRows(c, headline[c] ?? [])) },
        { title: `Throughput at saturation, ${LONG.tokens}-token streams`, columns: SATURATION_COLUMNS, rows: saturationRows(LONG.concurrency, long) },
        pacedTable(paced),
        memoryTable,
      ],
      targets: targetsOf(headline, long, paced, { idleMiB: defaultsMemory.idleMiB, peakMiB: defaultsMemory.peakKiB / 1024 }),
      notes: [
        `Unpaced simulator (600 slots); each gateway has a pool of one replica with 512 slots and max_queued 1024 on it, so nothing queues or is refused. "gateway (defaults)" is the shipped configuration (audit on the embedded PGlite with fail_closed, metrics on); the two rows below it switch one of them off. The ${LONG.tokens}-token and paced runs compare direct, proxy and the defaults only.`,
        'Figures are the median round by tokens/s with the min–max spread over rounds; "vs" columns are medians of per-round ratios (arms of one round ran seconds apart). Hop CPU is the proxy or gateway process alone, all threads (PGlite runs in a worker thread of the gateway).',
        `CPU per token (target) is the hop's CPU per delivered token in the ${LONG.tokens}-token run, gateway over proxy per round. The marginal cost, (CPU per ${LONG.tokens}-token stream − CPU per ${STREAM_TOKENS}-token stream) / ${LONG.tokens - STREAM_TOKENS}, is shown beside it when both hops have one (in quick runs on a busy machine it came out at or below zero for one of them in every round).`,
        `The paced simulator sends each stream's tokens ${1000 / PACED.tokensPerS} ms apart (pool "paced" of the same gateway processes); nothing is saturated on the engine side, so a lower share of direct is the hop's own delay.`,
        `Memory is read from /proc/<pid>/status: VmRSS ${IDLE_SETTLE_MS / 1000} s after each gateway was ready (before any request); then VmHWM is read (the start-up peak) and reset through /proc/<pid>/clear_refs, so the VmHWM read after every run of this scenario is the peak under load, wherever it fell between samples. Finished tasks stay readable for server.retention_ms (default 300 s, bounded in bytes), so the ${retained}+ tasks of the defaults gateway counted in windows alone were still held at the end.`,
      ],
      data: { streamTokens: STREAM_TOKENS, long: LONG, paced: PACED, headline, longRuns: long, pacedRuns: paced, memory },
    };
  },
};
