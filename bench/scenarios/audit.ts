// Scenario "audit": what does the append-only audit trail cost in throughput, on the embedded
// store (PGlite) and on server Postgres, next to audit off — and do streams keep flowing while
// batches commit? Skips a backend, with the reason, when the gateway does not write rows for it.

import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { medianRound } from '../compare.ts';
import { verdictOf, type BenchContext, type Scenario, type TargetCheck } from '../scenario.ts';
import { describeShare, flowTable, FLOW_NOTE, noneMeasured, runVariants, saturationTable, SATURATION_NOTE, shareRounds, type Variant } from '../gateway-variants.ts';

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

async function withClient<T>(url: string, use: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** Rows in audit_log, or undefined when the table is not there (audit not wired for this backend). */
async function postgresRows(url: string): Promise<number | undefined> {
  return withClient(url, async (c) => {
    const exists = await c.query<{ t: string | null }>("SELECT to_regclass('public.audit_log')::text AS t");
    if (!exists.rows[0]?.t) return undefined;
    const count = await c.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_log');
    return Number(count.rows[0]?.n ?? 0);
  });
}

async function nonEmptyDir(path: string): Promise<boolean> {
  try {
    return (await readdir(path)).length > 0;
  } catch {
    return false;
  }
}

export const auditScenario: Scenario = {
  name: 'audit',
  question: 'What does the audit trail cost in gateway throughput (PGlite, server Postgres vs off), and do streams keep flowing while batches commit?',
  async run(ctx: BenchContext) {
    const pgliteDir = join(ctx.tmpDir, 'audit-pglite');
    const dbName = `orchqueue_bench_${process.pid}_${Date.now()}`;
    const dbUrl = `postgres://postgres@127.0.0.1:5432/${dbName}`;
    const notes = [SATURATION_NOTE, FLOW_NOTE];
    let postgresReady = false;
    try {
      await withClient(ADMIN_URL, (c) => c.query(`CREATE DATABASE ${dbName}`));
      postgresReady = true;
    } catch (err) {
      notes.push(`Server Postgres at 127.0.0.1:5432 was not usable (${err instanceof Error ? err.message : String(err)}).`);
    }
    await mkdir(ctx.tmpDir, { recursive: true });
    const variants: Variant[] = [
      { name: 'audit off', options: { audit: { backend: 'off' } } },
      {
        name: 'pglite',
        options: { audit: { backend: 'pglite', data_dir: pgliteDir } },
        unavailable: async () => ((await nonEmptyDir(pgliteDir)) ? undefined : 'the gateway created no PGlite data directory: audit.backend pglite is not wired into the gateway yet'),
      },
    ];
    if (postgresReady) {
      variants.push({
        name: 'postgres',
        options: { audit: { backend: 'postgres', database_url: dbUrl } },
        unavailable: async () => {
          const rows = await postgresRows(dbUrl).catch(() => undefined);
          if (rows === undefined) return 'no audit_log table appeared in the bench database: audit.backend postgres is not wired into the gateway yet';
          return rows > 0 ? undefined : 'audit_log stayed empty after a smoke load: the gateway does not record through it yet';
        },
      });
    }
    let rowsWritten: number | undefined;
    let outcome;
    try {
      outcome = await runVariants(ctx, 'audit', variants, { flow: true });
      if (outcome.saturation.some((r) => r.name === 'postgres')) {
        await outcome.gateways.get('postgres')?.child.stop();
        rowsWritten = await postgresRows(dbUrl).catch(() => undefined);
      }
    } finally {
      await ctx.procs.stopAll();
      if (postgresReady) await withClient(ADMIN_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`)).catch(() => undefined);
      await rm(pgliteDir, { recursive: true, force: true });
    }
    const measured = outcome.saturation.map((r) => r.name).filter((n) => n !== 'audit off');
    if (measured.length === 0) return noneMeasured(outcome);
    const targets: TargetCheck[] = measured.map((name) => {
      const shares = shareRounds(outcome.saturation, name, 'audit off');
      return { issue: '#4', name: `throughput with audit on (${name}), share of audit off`, target: '≥ 90% (cost ≤ 10%)', actual: describeShare(shares), verdict: verdictOf(shares, (s) => s >= 0.9) };
    });
    if (rowsWritten !== undefined) {
      const pgArm = outcome.saturation.find((r) => r.name === 'postgres');
      const streams = pgArm ? pgArm.rounds.reduce((n, w) => n + w.streamsFull, 0) : 0;
      notes.push(`Server Postgres held ${rowsWritten} audit rows after the run (${streams} full streams were counted inside its saturation windows; warm-up, smoke and flow streams are recorded too).`);
    }
    return {
      status: 'ok',
      tables: [saturationTable('Saturation: gateway throughput with the audit trail on and off', outcome, 'audit off'), flowTable('Flow: token gaps at a realistic pace while audit batches commit', outcome, 'audit off')],
      targets,
      notes,
      data: { saturation: outcome.saturation.map((r) => ({ ...r, median: medianRound(r) })), flow: outcome.flow.map((r) => ({ ...r, median: medianRound(r) })), unavailable: outcome.unavailable, postgresRows: rowsWritten },
    };
  },
};
