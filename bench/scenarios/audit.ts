// Scenario "audit": what does the append-only audit trail cost in throughput, on the embedded
// store (PGlite) and on server Postgres, next to audit off — and do streams keep flowing while
// batches commit? Skips a backend, with the reason, when the gateway does not write rows for it.

import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { medianRound } from '../compare.ts';
import { AUDIT_OFF, auditOnPostgres } from '../gateway-config.ts';
import { verdictOf, type BenchContext, type Scenario, type TargetCheck } from '../scenario.ts';
import { createBenchDatabase, withPgClient } from '../services.ts';
import { checkOf, notMeasured } from '../targets.ts';
import { describeShare, flowTable, FLOW_NOTE, noneMeasured, runVariants, saturationTable, SATURATION_NOTE, shareRounds, type Variant } from '../gateway-variants.ts';

const OFF = 'audit off';
const PGLITE = 'pglite (default)';
const POSTGRES = 'postgres';

/** Rows in audit_log, or undefined when the table is not there (audit not wired for this backend). */
async function postgresRows(url: string): Promise<number | undefined> {
  return withPgClient(url, async (c) => {
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
    const notes = [SATURATION_NOTE, FLOW_NOTE];
    const database = await createBenchDatabase('audit');
    if ('unavailable' in database) notes.push(`${database.unavailable}.`);
    await mkdir(ctx.tmpDir, { recursive: true });
    const variants: Variant[] = [
      { name: OFF, options: AUDIT_OFF },
      {
        // The shipped default, with the data dir named here so the check below can look into it.
        name: PGLITE,
        options: { audit: { backend: 'pglite', data_dir: pgliteDir } },
        unavailable: async () => ((await nonEmptyDir(pgliteDir)) ? undefined : 'the gateway created no PGlite data directory: audit.backend pglite is not wired into the gateway yet'),
      },
    ];
    if ('url' in database) {
      variants.push({
        name: POSTGRES,
        options: auditOnPostgres(database.url),
        unavailable: async () => {
          const rows = await postgresRows(database.url).catch(() => undefined);
          if (rows === undefined) return 'no audit_log table appeared in the bench database: audit.backend postgres is not wired into the gateway yet';
          return rows > 0 ? undefined : 'audit_log stayed empty after a smoke load: the gateway does not record through it yet';
        },
      });
    }
    let rowsWritten: number | undefined;
    let outcome;
    try {
      outcome = await runVariants(ctx, 'audit', variants, { flow: true });
      if ('url' in database && outcome.saturation.some((r) => r.name === POSTGRES)) {
        await outcome.gateways.get(POSTGRES)?.child.stop();
        rowsWritten = await postgresRows(database.url).catch(() => undefined);
      }
    } finally {
      await ctx.procs.stopAll();
      if ('drop' in database) await database.drop();
      await rm(pgliteDir, { recursive: true, force: true });
    }
    const measured = new Set(outcome.saturation.map((r) => r.name));
    if (measured.size <= 1) return noneMeasured(outcome);
    const check = (id: 'audit.pglite' | 'audit.postgres', name: string): TargetCheck => {
      if (!measured.has(name)) return notMeasured(id, outcome.unavailable[name] ?? ('unavailable' in database ? database.unavailable : 'no figures'));
      const shares = shareRounds(outcome.saturation, name, OFF);
      return checkOf(id, describeShare(shares), verdictOf(shares, (s) => s >= 0.9));
    };
    const targets = [check('audit.pglite', PGLITE), check('audit.postgres', POSTGRES)];
    if (rowsWritten !== undefined) {
      const pgArm = outcome.saturation.find((r) => r.name === POSTGRES);
      const streams = pgArm ? pgArm.rounds.reduce((n, w) => n + w.streamsFull, 0) : 0;
      notes.push(`Server Postgres held ${rowsWritten} audit rows after the run (${streams} full streams were counted inside its saturation windows; warm-up, smoke and flow streams are recorded too).`);
    }
    return {
      status: 'ok',
      tables: [saturationTable('Saturation: gateway throughput with the audit trail on and off', outcome, OFF), flowTable('Flow: token gaps at a realistic pace while audit batches commit', outcome, OFF)],
      targets,
      notes,
      data: { saturation: outcome.saturation.map((r) => ({ ...r, median: medianRound(r) })), flow: outcome.flow.map((r) => ({ ...r, median: medianRound(r) })), unavailable: outcome.unavailable, postgresRows: rowsWritten },
    };
  },
};
