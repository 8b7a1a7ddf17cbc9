// `npm run bench [-- <scenario> ...] [--quick] [--soak-s N] [--profile] [--render]`: runs the scenarios in one process tree on this
// machine, prints each result as JSON on stdout, and — for a full default run — writes
// bench/results/latest.json and docs/benchmarks.md. Partial or quick runs never touch those
// two files (they must come from one complete run); they go to bench/results/partial.json.
// --render re-renders docs/benchmarks.md from latest.json and bench/analysis.md, measuring nothing.

import { mkdtemp, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine, otherCpuShare, readCpuClock } from './machine.ts';
import { CpuMeter, ProcessGroup } from './processes.ts';
import { renderReport, type RunReport } from './report.ts';
import type { BenchContext, Scenario, ScenarioResult, Timing } from './scenario.ts';
import { SCENARIOS } from './scenarios/index.ts';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const PROFILE_DIR = join(RESULTS_DIR, 'profiles');
const DOC = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
const ANALYSIS = fileURLToPath(new URL('./analysis.md', import.meta.url));
/** Nothing in a run may outlive this (plus the soak's own duration), whatever goes wrong. */
const RUN_LIMIT_MS = 15 * 60_000;
/** The soak scenario's duration: 10 minutes in a full run, 30 s with --quick. */
const SOAK_FULL_MS = 10 * 60_000;
const SOAK_QUICK_MS = 30_000;

const FULL: Timing = { rounds: 2, warmupMs: 1_000, measureMs: 3_000, graceMs: 5_000 };
const QUICK: Timing = { rounds: 1, warmupMs: 500, measureMs: 1_500, graceMs: 3_000 };

async function runOne(scenario: Scenario, ctx: BenchContext): Promise<ScenarioResult> {
  const started = performance.now();
  ctx.log(`── ${scenario.name}: ${scenario.question}`);
  let body: Omit<ScenarioResult, 'name' | 'question' | 'durationS'>;
  try {
    body = await scenario.run(ctx);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    body = { status: 'failed', tables: [], targets: [], notes: [`The scenario failed: ${message}`], data: {} };
  } finally {
    await ctx.procs.stopAll();
  }
  return { name: scenario.name, question: scenario.question, durationS: Math.round((performance.now() - started) / 100) / 10, ...body };
}

async function readAnalysis(): Promise<string | undefined> {
  return readFile(ANALYSIS, 'utf8').catch(() => undefined);
}

/** The same figures, the current analysis text: for editing bench/analysis.md after a run. */
async function rerender(): Promise<number> {
  const saved = JSON.parse(await readFile(join(RESULTS_DIR, 'latest.json'), 'utf8')) as RunReport;
  const analysis = await readAnalysis();
  const { analysis: _old, ...rest } = saved;
  await writeFile(DOC, renderReport({ ...rest, ...(analysis ? { analysis } : {}) }));
  process.stderr.write('re-rendered docs/benchmarks.md from bench/results/latest.json\n');
  return 0;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { quick: { type: 'boolean', default: false }, profile: { type: 'boolean', default: false }, render: { type: 'boolean', default: false }, 'soak-s': { type: 'string' } } });
  if (values.render) return rerender();
  const unknown = positionals.filter((name) => !SCENARIOS.some((s) => s.name === name));
  if (unknown.length > 0) {
    process.stderr.write(`unknown scenario(s): ${unknown.join(', ')}; known: ${SCENARIOS.map((s) => s.name).join(', ')}\n`);
    return 2;
  }
  const soakS = values['soak-s'] === undefined ? undefined : Number(values['soak-s']);
  if (soakS !== undefined && !(Number.isInteger(soakS) && soakS >= 5 && soakS <= 3_600)) {
    process.stderr.write(`--soak-s must be an integer number of seconds from 5 to 3600, got ${values['soak-s']}\n`);
    return 2;
  }
  const soakMs = soakS !== undefined ? soakS * 1_000 : values.quick ? SOAK_QUICK_MS : SOAK_FULL_MS;
  const selected = positionals.length === 0 ? SCENARIOS : SCENARIOS.filter((s) => positionals.includes(s.name));
  // A profiled gateway is slower: its figures never go to docs/.
  const complete = positionals.length === 0 && !values.quick && !values.profile && soakS === undefined;
  const machine = describeMachine();
  const clockStart = readCpuClock();
  const tmpDir = await mkdtemp(join(tmpdir(), 'orchqueue-bench-'));
  const procs = new ProcessGroup();
  const ctx: BenchContext = { procs, cpu: new CpuMeter(), timing: values.quick ? QUICK : FULL, tmpDir, soakMs, log: (m) => process.stderr.write(`${m}\n`) };
  if (values.profile) {
    await mkdir(PROFILE_DIR, { recursive: true });
    ctx.profileDir = PROFILE_DIR;
  }
  const abandon = async (why: string) => {
    process.stderr.write(`bench: ${why}; stopping children\n`);
    await procs.stopAll();
    await rm(tmpDir, { recursive: true, force: true });
    process.exit(130);
  };
  process.once('SIGINT', () => void abandon('interrupted'));
  process.once('SIGTERM', () => void abandon('terminated'));
  const limitMs = RUN_LIMIT_MS + (selected.some((s) => s.name === 'soak') ? soakMs : 0);
  const watchdog = setTimeout(() => void abandon(`run exceeded ${Math.round(limitMs / 60_000)} minutes`), limitMs);
  watchdog.unref();

  const results: ScenarioResult[] = [];
  try {
    for (const scenario of selected) {
      const result = await runOne(scenario, ctx);
      results.push(result);
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    }
  } finally {
    clearTimeout(watchdog);
    await procs.stopAll();
    await rm(tmpDir, { recursive: true, force: true });
  }
  const analysis = await readAnalysis();
  const clockEnd = readCpuClock();
  if (clockStart && clockEnd) machine.otherCpuShare = Math.round(otherCpuShare(clockStart, clockEnd, machine.cores) * 1000) / 1000;
  const report: RunReport = { machine, timing: ctx.timing, complete, results, ...(analysis ? { analysis } : {}) };
  await mkdir(RESULTS_DIR, { recursive: true });
  if (complete) {
    await writeFile(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(DOC, renderReport(report));
    ctx.log(`wrote bench/results/latest.json and docs/benchmarks.md`);
  } else {
    await writeFile(join(RESULTS_DIR, 'partial.json'), `${JSON.stringify(report, null, 2)}\n`);
    ctx.log('partial run: wrote bench/results/partial.json (docs/benchmarks.md is only written by a full `npm run bench`)');
    if (values.profile) ctx.log('gateway CPU profiles: bench/results/profiles/ (summarise with `node bench/profile-summary.ts <file>`)');
  }
  return results.some((r) => r.status === 'failed') ? 1 : 0;
}

process.exitCode = await main();
