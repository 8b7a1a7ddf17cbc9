// Scenario "throughput": how many streams and tokens per second go through each path with 64
// and 256 concurrent streams, and what does the gateway cost next to a bare proxy? The
// simulator is unpaced (as fast as its event loop goes), so every path runs at saturation
// and the figures compare CPU cost per token on the same two cores. 32-token streams make the
// per-task cost visible (issue 14); a paced phase (10 ms between tokens) asks what a realistic
// engine keeps of its direct throughput behind each hop.

import { compareArms, hopMicrosPerToken, medianRound, otherOutcomes, pairedRatios, spread, type Arm, type ArmResult } from '../compare.ts';
import { gatewayConfig, poolConfig } from '../gateway-config.ts';
import type { WindowResult } from '../load.ts';
import { clientPool } from '../paths.ts';
import { verdictOf, type BenchContext, type Cell, type Scenario, type TargetCheck } from '../scenario.ts';
import { rssMiB } from '../processes.ts';
import { startGateway, startProxy, startSimulator, waitGatewayIdle } from '../services.ts';
import { median, ratio, round } from '../stats.ts';
import { llamacppProtocol, orchqueueProtocol } from '../stream-client.ts';

const CONCURRENCY = [64, 256] as const;
const MAX_TOKENS = 64;
/** The per-task case of issue 14: short streams, where admission and request setup weigh most. */
const SHORT_TOKENS = 32;
/** The paced phase: 256 streams of SHORT_TOKENS at 10 ms between tokens. */
const PACED = { concurrency: 256, tokensPerS: 100 } as const;

/**
 * CPU µs the hop process spent per stream of `maxTokens`: its CPU per delivered token times the
 * stream's length (steadier than dividing by the streams that happened to end in the window).
 */
function hopMicrosPerStream(maxTokens: number): (window: WindowResult) => number {
  return (window) => hopMicrosPerToken(window) * maxTokens;
}

function rowsFor(concurrency: number, maxTokens: number, results: readonly ArmResult[]): Cell[][] {
  const byName = new Map(results.map((r) => [r.name, medianRound(r)]));
  const proxy = byName.get('proxy');
  const direct = byName.get('direct');
  return results.map((r) => {
    const w = medianRound(r);
    return [
      concurrency,
      r.name,
      round(w.streamsPerS),
      round(w.tokensPerS),
      spread(r.rounds, (x) => x.tokensPerS),
      round(ratio(w.tokensPerS, direct?.tokensPerS ?? Number.NaN)),
      round(ratio(w.tokensPerS, proxy?.tokensPerS ?? Number.NaN)),
      round(w.ttftMs.p50),
      round(w.ttftMs.p99),
      round(hopMicrosPerToken(w)),
      round(hopMicrosPerStream(maxTokens)(w)),
      otherOutcomes(r.rounds),
    ];
  });
}

const COLUMNS = ['streams', 'path', 'streams/s', 'tokens/s', 'tokens/s spread', 'vs direct', 'vs proxy', 'TTFT p50 ms', 'TTFT p99 ms', 'hop CPU µs/token', 'hop CPU µs/stream', 'other outcomes'];

/** Paired per-round ratios of the gateway arm to `baseline` in one comparison. */
function gatewayRatios(results: readonly ArmResult[] | undefined, baseline: string, pick: (w: WindowResult) => number): number[] {
  const byName = new Map((results ?? []).map((r) => [r.name, r]));
  const gw = byName.get('gateway');
  const base = byName.get(baseline);
  return gw && base ? pairedRatios(gw, base, pick) : [];
}

function check(name: string, target: string, samples: number[], meets: (s: number) => boolean, asPercent: boolean): TargetCheck {
  const show = (s: number) => (asPercent ? `${round(s * 100)}%` : `${round(s)}×`);
  return {
    issue: '#14',
    name,
    target,
    actual: samples.length ? `${show(median(samples))} (rounds: ${samples.map(show).join(', ')})` : 'not measured',
    verdict: verdictOf(samples, meets),
  };
}

export const throughputScenario: Scenario = {
  name: 'throughput',
  question: 'How many streams and tokens per second pass through each path at 64 and 256 concurrent streams?',
  async run(ctx: BenchContext) {
    const sim = await startSimulator(ctx.procs, 'sim', { tokensPerS: 0, slots: 600 });
    const pacedSim = await startSimulator(ctx.procs, 'sim-paced', { tokensPerS: PACED.tokensPerS, slots: 600 });
    const proxy = await startProxy(ctx.procs, sim.url);
    const pacedProxy = await startProxy(ctx.procs, pacedSim.url);
    const pool = poolConfig({ id: 'bench', model: 'bench', engineUrl: sim.url, slots: 512, maxQueued: 1024 });
    const pacedPool = poolConfig({ id: 'paced', model: 'bench-paced', engineUrl: pacedSim.url, slots: 512, maxQueued: 1024 });
    const gateway = await startGateway(ctx, { name: 'gateway-throughput', config: gatewayConfig([pool, pacedPool]) });
    const maxC = Math.max(...CONCURRENCY);
    const settle = () => waitGatewayIdle(gateway.url);
    const arms: Arm[] = [
      { name: 'direct', target: { name: 'direct', url: sim.url, protocol: llamacppProtocol, model: 'bench' }, pool: clientPool(sim.url, maxC) },
      { name: 'proxy', target: { name: 'proxy', url: proxy.url, protocol: llamacppProtocol, model: 'bench' }, pool: clientPool(proxy.url, maxC), hopPid: proxy.child.pid },
      { name: 'gateway', target: { name: 'gateway', url: gateway.url, protocol: orchqueueProtocol, model: 'bench' }, pool: clientPool(gateway.url, maxC), hopPid: gateway.child.pid, settle },
    ];
    const pacedArms: Arm[] = [
      { name: 'direct', target: { name: 'direct', url: pacedSim.url, protocol: llamacppProtocol, model: 'bench-paced' }, pool: clientPool(pacedSim.url, PACED.concurrency) },
      { name: 'proxy', target: { name: 'proxy', url: pacedProxy.url, protocol: llamacppProtocol, model: 'bench-paced' }, pool: clientPool(pacedProxy.url, PACED.concurrency), hopPid: pacedProxy.child.pid },
      { name: 'gateway', target: { name: 'gateway', url: gateway.url, protocol: orchqueueProtocol, model: 'bench-paced' }, pool: clientPool(gateway.url, PACED.concurrency), hopPid: gateway.child.pid, settle },
    ];
    const byConcurrency: Record<number, ArmResult[]> = {};
    const shortByConcurrency: Record<number, ArmResult[]> = {};
    let paced: ArmResult[] = [];
    // The issue's main throughput target is decided here: one round more than the default.
    const timing = { ...ctx.timing, rounds: ctx.timing.rounds + 1 };
    let gatewayRss = Number.NaN;
    try {
      for (const concurrency of CONCURRENCY) {
        byConcurrency[concurrency] = await compareArms({ ...ctx, timing }, `throughput c=${concurrency}`, arms, { concurrency, maxTokens: MAX_TOKENS, pids: { sim: sim.child.pid } });
      }
      for (const concurrency of CONCURRENCY) {
        shortByConcurrency[concurrency] = await compareArms({ ...ctx, timing }, `throughput ${SHORT_TOKENS}-token c=${concurrency}`, arms, { concurrency, maxTokens: SHORT_TOKENS, pids: { sim: sim.child.pid } });
      }
      paced = await compareArms(ctx, `throughput paced c=${PACED.concurrency}`, pacedArms, { concurrency: PACED.concurrency, maxTokens: SHORT_TOKENS, pids: { sim: pacedSim.child.pid } });
      gatewayRss = rssMiB(gateway.child.pid);
    } finally {
      await Promise.all([...arms, ...pacedArms].map((a) => a.pool.close()));
    }
    const gatewayRuns = [...Object.values(byConcurrency), ...Object.values(shortByConcurrency), paced].flat().filter((r) => r.name === 'gateway');
    const retained = gatewayRuns.reduce((n, r) => n + r.rounds.reduce((m, w) => m + w.streamsFull, 0), 0);
    const shares = gatewayRatios(byConcurrency[256], 'proxy', (w) => w.tokensPerS);
    const cpu = gatewayRatios(byConcurrency[256], 'proxy', hopMicrosPerToken);
    const target: TargetCheck = {
      issue: '#2',
      name: 'gateway tokens/s at 256 streams, share of the bare proxy',
      target: '≥ 80%',
      actual: shares.length ? `${round(median(shares) * 100)}% (rounds: ${shares.map((s) => round(s * 100)).join(', ')}%)` : 'not measured',
      verdict: verdictOf(shares, (s) => s >= 0.8),
    };
    const streamsShare = (runs: Record<number, ArmResult[]>, c: number) => gatewayRatios(runs[c], 'proxy', (w) => w.streamsPerS);
    const targets: TargetCheck[] = [
      target,
      ...CONCURRENCY.map((c) => check(`gateway ${SHORT_TOKENS}-token streams/s at ${c} streams, share of the bare proxy`, '≥ 70%', streamsShare(shortByConcurrency, c), (s) => s >= 0.7, true)),
      ...CONCURRENCY.map((c) => check(`gateway ${MAX_TOKENS}-token streams/s at ${c} streams, share of the bare proxy`, '≥ 85%', streamsShare(byConcurrency, c), (s) => s >= 0.85, true)),
      check(`gateway CPU per ${SHORT_TOKENS}-token stream at 256 streams, × the bare proxy's`, '≤ 1.5×', gatewayRatios(shortByConcurrency[256], 'proxy', hopMicrosPerStream(SHORT_TOKENS)), (s) => s <= 1.5, false),
      check(`gateway CPU per token (${MAX_TOKENS}-token streams) at 256 streams, × the bare proxy's`, '≤ 1.3×', cpu, (s) => s <= 1.3, false),
      check(`gateway streams/s at ${PACED.concurrency} streams, 10 ms between tokens, share of direct`, '≥ 90%', gatewayRatios(paced, 'direct', (w) => w.streamsPerS), (s) => s >= 0.9, true),
    ];
    const notes = [
      `Each stream asks for ${MAX_TOKENS} (or ${SHORT_TOKENS}) tokens from the unpaced simulator (600 slots); the gateway pool has one replica with 512 slots and max_queued 1024, so nothing queues or is refused.`,
      'Figures are the median round by tokens/s; "spread" is min–max over rounds. Hop CPU is the proxy or gateway process alone; the targets pair gateway and proxy (or direct) within each round.',
      `The paced phase runs ${PACED.concurrency} streams of ${SHORT_TOKENS} tokens against a second simulator at ${PACED.tokensPerS} tokens/s per stream (its own proxy; a second pool of the same gateway), ${ctx.timing.rounds} round(s).`,
      `Gateway resident memory after the scenario: ${gatewayRss} MiB; finished tasks and their events stay readable for server.retention_ms (default 300 s), so every task of this scenario (${retained}+ counted in windows alone) was still held.`,
      `CPU per token, gateway vs proxy at 256 streams: ${cpu.length ? `${round(median(cpu))}× (rounds: ${cpu.map((c) => round(c)).join(', ')})` : 'not measured'} — the hop cost without the simulator and client sharing the cores.`,
    ];
    return {
      status: 'ok',
      tables: [
        { title: `Throughput at saturation (${MAX_TOKENS}-token streams)`, columns: COLUMNS, rows: CONCURRENCY.flatMap((c) => rowsFor(c, MAX_TOKENS, byConcurrency[c] ?? [])) },
        { title: `Throughput at saturation (${SHORT_TOKENS}-token streams)`, columns: COLUMNS, rows: CONCURRENCY.flatMap((c) => rowsFor(c, SHORT_TOKENS, shortByConcurrency[c] ?? [])) },
        { title: `Paced engine (${SHORT_TOKENS}-token streams, 10 ms between tokens)`, columns: COLUMNS, rows: rowsFor(PACED.concurrency, SHORT_TOKENS, paced) },
      ],
      targets,
      notes,
      data: { maxTokens: MAX_TOKENS, shortTokens: SHORT_TOKENS, gatewayRssMiB: gatewayRss, byConcurrency, shortByConcurrency, paced },
    };
  },
};
