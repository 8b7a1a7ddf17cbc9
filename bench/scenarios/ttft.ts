// Scenario "ttft": what does each hop add to the time to first token of a lone request?
// Concurrency 1, simulator with no first-token delay and no pacing, requests interleaved
// direct → proxy → gateway (order rotated every round) so drift hits all three alike.

import type { Pool } from 'undici';
import { gatewayConfig, poolConfig } from '../gateway-config.ts';
import { clientPool, promptOf, type PathTarget } from '../paths.ts';
import { rotated, verdictOf, type BenchContext, type Scenario } from '../scenario.ts';
import { startGateway, startProxy, startSimulator } from '../services.ts';
import { median, round, SampleSet, type Summary } from '../stats.ts';
import { isFull, llamacppProtocol, orchqueueProtocol, streamOnce } from '../stream-client.ts';

const MAX_TOKENS = 4;
/** The measured requests are split in this many consecutive blocks for the verdict. */
const BLOCKS = 4;

interface PathRun {
  target: PathTarget;
  pool: Pool;
  ttft: SampleSet;
  /** TTFT per measured request in order (NaN for a failed one), for the per-block verdict. */
  ordered: number[];
  failures: number;
}

async function once(run: PathRun, n: number, record: boolean): Promise<void> {
  const o = await streamOnce(run.pool, run.target.protocol, { model: run.target.model, prompt: promptOf(n), maxTokens: MAX_TOKENS }, AbortSignal.timeout(10_000));
  if (!record) return;
  const ok = isFull(o, MAX_TOKENS);
  if (ok) run.ttft.add(o.ttftMs);
  else run.failures++;
  run.ordered.push(ok ? o.ttftMs : Number.NaN);
}

/** Gateway p50 minus direct p50 in each consecutive block of requests. */
function addedP50ByBlock(runs: readonly PathRun[]): number[] {
  const direct = runs.find((r) => r.target.name === 'direct')?.ordered ?? [];
  const gateway = runs.find((r) => r.target.name === 'gateway')?.ordered ?? [];
  const size = Math.ceil(direct.length / BLOCKS);
  const out: number[] = [];
  for (let b = 0; b < BLOCKS; b++) {
    const slice = (xs: number[]) => xs.slice(b * size, (b + 1) * size).filter(Number.isFinite);
    const d = slice(direct);
    const g = slice(gateway);
    if (d.length > 0 && g.length > 0) out.push(median(g) - median(d));
  }
  return out;
}

export const ttftScenario: Scenario = {
  name: 'ttft',
  question: 'What does each hop add to the time to first token of a single request (concurrency 1)?',
  async run(ctx: BenchContext) {
    const requests = ctx.timing.rounds > 1 ? 400 : 100;
    const warmup = 50;
    const sim = await startSimulator(ctx.procs, 'sim', { tokensPerS: 0, slots: 8, firstTokenDelayMs: 0 });
    const proxy = await startProxy(ctx.procs, sim.url);
    const pool = poolConfig({ id: 'bench', model: 'bench', engineUrl: sim.url, slots: 8, maxQueued: 64 });
    const gateway = await startGateway(ctx, { name: 'gateway-ttft', config: gatewayConfig([pool]) });
    const targets: PathTarget[] = [
      { name: 'direct', url: sim.url, protocol: llamacppProtocol, model: 'bench' },
      { name: 'proxy', url: proxy.url, protocol: llamacppProtocol, model: 'bench' },
      { name: 'gateway', url: gateway.url, protocol: orchqueueProtocol, model: 'bench' },
    ];
    const runs: PathRun[] = targets.map((target) => ({ target, pool: clientPool(target.url, 1), ttft: new SampleSet(), ordered: [], failures: 0 }));
    try {
      ctx.log(`ttft: ${warmup} warm-up + ${requests} measured requests per path, interleaved`);
      const deadline = performance.now() + 90_000;
      for (let i = 0; i < warmup + requests && performance.now() < deadline; i++) {
        for (const run of rotated(runs, i)) await once(run, i, i >= warmup);
      }
    } finally {
      await Promise.all(runs.map((r) => r.pool.close()));
      await Promise.all([gateway.child.stop(), proxy.child.stop(), sim.child.stop()]);
    }
    const summaries = new Map<string, Summary>(runs.map((r) => [r.target.name, r.ttft.summary()]));
    const direct = summaries.get('direct') as Summary;
    const gw = summaries.get('gateway') as Summary;
    const addedP50 = gw.p50 - direct.p50;
    const blocks = addedP50ByBlock(runs);
    const rows = runs.map((r) => {
      const s = summaries.get(r.target.name) as Summary;
      return [r.target.name, s.count, round(s.p50), round(s.p90), round(s.p99), round(s.max), round(s.p50 - direct.p50), round(s.p99 - direct.p99), round(s.p50 / direct.p50), r.failures];
    });
    const notes = [`Each request asks for ${MAX_TOKENS} tokens; TTFT is measured at the client from sending the request to parsing the first token event.`];
    return {
      status: 'ok',
      tables: [
        {
          title: 'Time to first token, concurrency 1 (ms)',
          columns: ['path', 'requests', 'p50', 'p90', 'p99', 'max', 'added p50 vs direct', 'added p99 vs direct', 'p50 ratio vs direct', 'failed'],
          rows,
        },
      ],
      targets: [
        {
          issue: '#2',
          name: 'added time to first token p50, gateway over direct',
          target: '≤ 1 ms',
          actual: `${round(addedP50)} ms (per block of ${Math.round(requests / BLOCKS)} requests: ${blocks.map((b) => round(b)).join(', ')} ms)`,
          verdict: verdictOf(blocks, (b) => b <= 1),
        },
      ],
      notes,
      data: { maxTokens: MAX_TOKENS, addedP50ByBlockMs: blocks, ttftMs: Object.fromEntries(summaries), failures: Object.fromEntries(runs.map((r) => [r.target.name, r.failures])) },
    };
  },
};
