// Scenario "ttft": what does each hop add to the time to first token of a lone request?
// Concurrency 1, simulator with no first-token delay and no pacing, requests interleaved
// direct → proxy → gateway (audit off) → gateway (PGlite audit) → gateway (Postgres audit),
// order rotated every round so drift hits every path alike.

import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Pool } from 'undici';
import { gatewayConfig, poolConfig } from '../gateway-config.ts';
import { clientPool, promptOf, type PathTarget } from '../paths.ts';
import { createBenchDatabase, dropBenchDatabase } from '../postgres-db.ts';
import { rotated, verdictOf, type BenchContext, type Scenario, type TargetCheck } from '../scenario.ts';
import { startGateway, startProxy, startSimulator, type Service } from '../services.ts';
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

/** A path's p50 minus direct p50 in each consecutive block of requests. */
function addedP50ByBlock(runs: readonly PathRun[], name: string): number[] {
  const direct = runs.find((r) => r.target.name === 'direct')?.ordered ?? [];
  const path = runs.find((r) => r.target.name === name)?.ordered ?? [];
  const size = Math.ceil(direct.length / BLOCKS);
  const out: number[] = [];
  for (let b = 0; b < BLOCKS; b++) {
    const slice = (xs: number[]) => xs.slice(b * size, (b + 1) * size).filter(Number.isFinite);
    const d = slice(direct);
    const g = slice(path);
    if (d.length > 0 && g.length > 0) out.push(median(g) - median(d));
  }
  return out;
}

/** The gateway paths: audit off (the issue #2 figure), then the audit backends (issue #14). */
const GATEWAYS = { off: 'gateway', pglite: 'gateway pglite', postgres: 'gateway postgres' } as const;

export const ttftScenario: Scenario = {
  name: 'ttft',
  question: 'What does each hop add to the time to first token of a single request (concurrency 1), with the audit trail off, on PGlite and on server Postgres?',
  async run(ctx: BenchContext) {
    const requests = ctx.timing.rounds > 1 ? 400 : 100;
    const warmup = 50;
    const notes = [
      `Each request asks for ${MAX_TOKENS} tokens; TTFT is measured at the client from sending the request to parsing the first token event.`,
      'With the audit on, the engine call starts while the admission row commits and the first token waits for the commit: an audit arm adds max(commit, engine first token), so with this zero-delay simulator its floor is the store\'s commit latency (on Postgres one WAL flush; `pg_test_fsync` shows what the disk allows).',
    ];
    const pgliteDir = join(ctx.tmpDir, 'ttft-pglite');
    await mkdir(ctx.tmpDir, { recursive: true });
    const database = await createBenchDatabase('ttft');
    if (!database.ok) notes.push(`Server Postgres at 127.0.0.1:5432 was not usable (${database.reason}); the postgres arm is left out.`);
    const runs: PathRun[] = [];
    try {
      const sim = await startSimulator(ctx.procs, 'sim', { tokensPerS: 0, slots: 8, firstTokenDelayMs: 0 });
      const proxy = await startProxy(ctx.procs, sim.url);
      const pool = poolConfig({ id: 'bench', model: 'bench', engineUrl: sim.url, slots: 8, maxQueued: 64 });
      // A fresh PGlite data directory is initialised at start (tens of seconds on a loaded machine).
      const gateway = (name: string, audit: Record<string, unknown>): Promise<Service> =>
        startGateway(ctx, { name: `ttft-${name.replace(/ /g, '-')}`, config: gatewayConfig([pool], { audit }), readyTimeoutMs: 120_000 });
      const targets: PathTarget[] = [
        { name: 'direct', url: sim.url, protocol: llamacppProtocol, model: 'bench' },
        { name: 'proxy', url: proxy.url, protocol: llamacppProtocol, model: 'bench' },
        { name: GATEWAYS.off, url: (await gateway(GATEWAYS.off, { backend: 'off' })).url, protocol: orchqueueProtocol, model: 'bench' },
        { name: GATEWAYS.pglite, url: (await gateway(GATEWAYS.pglite, { backend: 'pglite', data_dir: pgliteDir })).url, protocol: orchqueueProtocol, model: 'bench' },
      ];
      if (database.ok) {
        targets.push({ name: GATEWAYS.postgres, url: (await gateway(GATEWAYS.postgres, { backend: 'postgres', database_url: database.url })).url, protocol: orchqueueProtocol, model: 'bench' });
      }
      runs.push(...targets.map((target) => ({ target, pool: clientPool(target.url, 1), ttft: new SampleSet(), ordered: [], failures: 0 })));
      ctx.log(`ttft: ${warmup} warm-up + ${requests} measured requests per path (${targets.map((t) => t.name).join(', ')}), interleaved`);
      const deadline = performance.now() + 150_000;
      for (let i = 0; i < warmup + requests && performance.now() < deadline; i++) {
        for (const run of rotated(runs, i)) await once(run, i, i >= warmup);
      }
    } finally {
      await Promise.all(runs.map((r) => r.pool.close()));
      await ctx.procs.stopAll();
      if (database.ok) await dropBenchDatabase(database.name);
      await rm(pgliteDir, { recursive: true, force: true });
    }
    return summarize(runs, requests, notes);
  },
};

function summarize(runs: readonly PathRun[], requests: number, notes: string[]): Awaited<ReturnType<Scenario['run']>> {
  const summaries = new Map<string, Summary>(runs.map((r) => [r.target.name, r.ttft.summary()]));
  const direct = summaries.get('direct') as Summary;
  const added = (name: string): number => (summaries.get(name)?.p50 ?? Number.NaN) - direct.p50;
  const rows = runs.map((r) => {
    const s = summaries.get(r.target.name) as Summary;
    const overProxy = r.target.name === 'direct' || r.target.name === 'proxy' ? null : round(added(r.target.name) / added('proxy'));
    return [r.target.name, s.count, round(s.p50), round(s.p90), round(s.p99), round(s.max), round(s.p50 - direct.p50), round(s.p99 - direct.p99), round(s.p50 / direct.p50), overProxy, r.failures];
  });
  const proxyBlocks = addedP50ByBlock(runs, 'proxy');
  const blocksOf = (name: string) => addedP50ByBlock(runs, name);
  const described = (blocks: number[]) => blocks.map((b) => round(b)).join(', ');
  const offBlocks = blocksOf(GATEWAYS.off);
  const targets: TargetCheck[] = [
    {
      issue: '#2',
      name: 'added time to first token p50, gateway (audit off) over direct',
      target: '≤ 1 ms',
      actual: `${round(added(GATEWAYS.off))} ms (per block of ${Math.round(requests / BLOCKS)} requests: ${described(offBlocks)} ms)`,
      verdict: verdictOf(offBlocks, (b) => b <= 1),
    },
  ];
  for (const name of [GATEWAYS.pglite, GATEWAYS.postgres]) {
    if (!summaries.has(name)) continue;
    // Paired per block: the gateway's added time over the proxy's added time in the same block.
    const ratios = blocksOf(name).map((g, b) => g / (proxyBlocks[b] ?? Number.NaN));
    targets.push({
      issue: '#14',
      name: `added time to first token p50, ${name} over direct, × the pass-through's`,
      target: '≤ 2×',
      actual: `${round(added(name))} ms = ${round(added(name) / added('proxy'))}× the proxy's ${round(added('proxy'))} ms (per block: ${ratios.map((r) => round(r)).join(', ')}×)`,
      verdict: verdictOf(ratios, (r) => r <= 2),
    });
  }
  return {
    status: 'ok',
    tables: [
      {
        title: 'Time to first token, concurrency 1 (ms)',
        columns: ['path', 'requests', 'p50', 'p90', 'p99', 'max', 'added p50 vs direct', 'added p99 vs direct', 'p50 ratio vs direct', 'added p50 × proxy\'s', 'failed'],
        rows,
      },
    ],
    targets,
    notes,
    data: {
      maxTokens: MAX_TOKENS,
      addedP50ByBlockMs: Object.fromEntries(runs.filter((r) => r.target.name !== 'direct').map((r) => [r.target.name, blocksOf(r.target.name)])),
      ttftMs: Object.fromEntries(summaries),
      failures: Object.fromEntries(runs.map((r) => [r.target.name, r.failures])),
    },
  };
}
