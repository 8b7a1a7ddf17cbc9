// Scenario "ttft": what does each hop add to the time to first token of a lone request?
// Concurrency 1, simulator with no first-token delay and no pacing, requests interleaved
// direct → proxy → gateway (defaults: audit on PGlite) → gateway with audit on server Postgres
// (order rotated every round) so drift hits every path alike.

import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'undici';
import { AUDIT_OFF, auditOnPostgres, gatewayConfig, poolConfig } from '../gateway-config.ts';
import { clientPool, promptOf, type PathTarget } from '../paths.ts';
import { rotated, verdictOf, type BenchContext, type Scenario, type TargetCheck } from '../scenario.ts';
import { createBenchDatabase, startGateway, startProxy, startSimulator, type Service } from '../services.ts';
import { median, ratio, round, SampleSet, type Summary } from '../stats.ts';
import { isFull, llamacppProtocol, orchqueueProtocol, streamOnce } from '../stream-client.ts';
import { checkOf, notMeasured, type TargetId } from '../targets.ts';

const MAX_TOKENS = 4;
const GATEWAY = 'gateway (defaults)';
const GATEWAY_POSTGRES = 'gateway (audit on Postgres)';
const GATEWAY_OFF = 'gateway (audit off)';
/** The measured requests are split in this many consecutive blocks for the verdict. */
const BLOCKS = 4;
/**
 * A pause after each request, longer than the audit writer's linger (5 ms): a gateway's trailing
 * rows (placement, terminal) commit in it instead of during the next path's request.
 */
const PAUSE_MS = 10;

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

/** A path's p50 minus direct's p50 in each consecutive block of requests (NaN for a block without samples). */
function addedP50ByBlock(runs: readonly PathRun[], path: string): number[] {
  const direct = runs.find((r) => r.target.name === 'direct')?.ordered ?? [];
  const other = runs.find((r) => r.target.name === path)?.ordered ?? [];
  const size = Math.ceil(direct.length / BLOCKS);
  const out: number[] = [];
  for (let b = 0; b < BLOCKS; b++) {
    const slice = (xs: number[]) => xs.slice(b * size, (b + 1) * size).filter(Number.isFinite);
    const d = slice(direct);
    const g = slice(other);
    out.push(d.length > 0 && g.length > 0 ? median(g) - median(d) : Number.NaN);
  }
  return out;
}

/** Issue 14: a gateway's added p50 at most twice the bare proxy's, block by block. */
function relativeToProxy(id: TargetId, runs: readonly PathRun[], path: string, summaries: Map<string, Summary>): TargetCheck {
  const gateway = summaries.get(path);
  const direct = summaries.get('direct') as Summary;
  const proxy = summaries.get('proxy') as Summary;
  if (!gateway || gateway.count === 0) return notMeasured(id, `no request completed through ${path}`);
  const blocks = addedP50ByBlock(runs, path).map((g, b) => ratio(g, addedP50ByBlock(runs, 'proxy')[b] ?? Number.NaN)).filter((x) => Number.isFinite(x) && x > 0);
  const added = gateway.p50 - direct.p50;
  const proxyAdded = proxy.p50 - direct.p50;
  return checkOf(id, `${round(added)} ms vs the proxy's ${round(proxyAdded)} ms: ${round(added / proxyAdded)}× (per block: ${blocks.map((x) => `${round(x)}×`).join(', ')})`, verdictOf(blocks, (x) => x <= 2));
}

export const ttftScenario: Scenario = {
  name: 'ttft',
  question: 'What does each hop add to the time to first token of a single request (concurrency 1)?',
  async run(ctx: BenchContext) {
    const requests = ctx.timing.rounds > 1 ? 400 : 100;
    const warmup = 50;
    const sim = await startSimulator(ctx.procs, 'sim', { tokensPerS: 0, slots: 16, firstTokenDelayMs: 0 });
    const proxy = await startProxy(ctx.procs, sim.url);
    const pool = poolConfig({ id: 'bench', model: 'bench', engineUrl: sim.url, slots: 8, maxQueued: 64 });
    const gateway = await startGateway(ctx, { name: 'gateway-defaults', config: gatewayConfig([pool]) });
    const auditOff = await startGateway(ctx, { name: 'gateway-audit-off', config: gatewayConfig([pool], AUDIT_OFF) });
    const database = await createBenchDatabase('ttft');
    let postgresWhy = 'unavailable' in database ? database.unavailable : undefined;
    let postgres: Service | undefined;
    if ('url' in database) {
      postgres = await startGateway(ctx, { name: 'gateway-postgres', config: gatewayConfig([pool], auditOnPostgres(database.url)) }).catch((err: unknown) => {
        postgresWhy = `the gateway did not start with audit on Postgres (${(err instanceof Error ? err.message : String(err)).split('\n')[0]})`;
        return undefined;
      });
    }
    const targets: PathTarget[] = [
      { name: 'direct', url: sim.url, protocol: llamacppProtocol, model: 'bench' },
      { name: 'proxy', url: proxy.url, protocol: llamacppProtocol, model: 'bench' },
      { name: GATEWAY, url: gateway.url, protocol: orchqueueProtocol, model: 'bench' },
      ...(postgres ? [{ name: GATEWAY_POSTGRES, url: postgres.url, protocol: orchqueueProtocol, model: 'bench' }] : []),
      { name: GATEWAY_OFF, url: auditOff.url, protocol: orchqueueProtocol, model: 'bench' },
    ];
    const runs: PathRun[] = targets.map((target) => ({ target, pool: clientPool(target.url, 1), ttft: new SampleSet(), ordered: [], failures: 0 }));
    try {
      ctx.log(`ttft: ${warmup} warm-up + ${requests} measured requests per path, interleaved`);
      const deadline = performance.now() + 90_000;
      for (let i = 0; i < warmup + requests && performance.now() < deadline; i++) {
        for (const run of rotated(runs, i)) {
          await once(run, i, i >= warmup);
          await sleep(PAUSE_MS);
        }
      }
    } finally {
      await Promise.all(runs.map((r) => r.pool.close()));
      await Promise.all([gateway.child.stop(), auditOff.child.stop(), postgres?.child.stop(), proxy.child.stop(), sim.child.stop()]);
      if ('drop' in database) await database.drop();
    }
    const summaries = new Map<string, Summary>(runs.map((r) => [r.target.name, r.ttft.summary()]));
    const direct = summaries.get('direct') as Summary;
    const gw = summaries.get(GATEWAY) as Summary;
    const addedP50 = gw.p50 - direct.p50;
    const blocks = addedP50ByBlock(runs, GATEWAY).filter(Number.isFinite);
    const rows = runs.map((r) => {
      const s = summaries.get(r.target.name) as Summary;
      return [r.target.name, s.count, round(s.p50), round(s.p90), round(s.p99), round(s.max), round(s.p50 - direct.p50), round(s.p99 - direct.p99), round(s.p50 / direct.p50), r.failures];
    });
    const notes = [
      `Each request asks for ${MAX_TOKENS} tokens; TTFT is measured at the client from sending the request to parsing the first token event.`,
      `"${GATEWAY}" runs the shipped defaults (audit on the embedded PGlite, fail_closed: admission waits for its row's commit); "${GATEWAY_POSTGRES}" is the same with audit on server Postgres (a throwaway database on 127.0.0.1:5432).`,
      `"${GATEWAY_OFF}" is an extra row: the same gateway without the audit trail, what the hop itself adds.`,
      'With the audit on, the engine call starts while the admission row commits and the first token waits for the commit: an audit arm adds max(commit, engine first token), so with this zero-delay simulator its floor is the store\'s commit latency (on Postgres one WAL flush; `pg_test_fsync` shows what the disk allows).',
      `Each request is followed by a ${PAUSE_MS} ms pause, so the rows a gateway commits after a task (placement, terminal; the writer lingers 5 ms) do not land during the next path's request.`,
      'Issue 14 targets: the gateway adds at most twice what the bare proxy adds, judged per block of consecutive requests (a block where the proxy added nothing measurable is left out).',
    ];
    if (postgresWhy !== undefined) notes.push(`No server Postgres arm: ${postgresWhy}.`);
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
        relativeToProxy('ttft.pglite', runs, GATEWAY, summaries),
        postgresWhy === undefined ? relativeToProxy('ttft.postgres', runs, GATEWAY_POSTGRES, summaries) : notMeasured('ttft.postgres', postgresWhy),
        checkOf('ttft.absolute', `${round(addedP50)} ms (per block of ${Math.round(requests / BLOCKS)} requests: ${blocks.map((b) => round(b)).join(', ')} ms)`, verdictOf(blocks, (b) => b <= 1)),
      ],
      notes,
      data: { maxTokens: MAX_TOKENS, addedP50ByBlockMs: blocks, ttftMs: Object.fromEntries(summaries), failures: Object.fromEntries(runs.map((r) => [r.target.name, r.failures])) },
    };
  },
};
