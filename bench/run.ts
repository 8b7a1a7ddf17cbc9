// `npm run bench [-- <scenario> ...] [--quick] [--soak-s N] [--profile] [--render]`: runs the scenarios in one process tree on this
// machine, prints each result as JSON on stdout, and — for a full run (every scenario, full
// timing) — writes bench/results/latest.json and docs/benchmarks.md (with --profile also
// bench/results/profiles.md, the summaries the analysis cites). Partial or quick runs never
// touch those files (they must come from one complete run); they go to bench/results/partial.json.
// --render re-renders docs/benchmarks.md from latest.json and bench/analysis.md, measuring nothing.

import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine, otherCpuShare, readCpuClock } from './machine.ts';
import { CpuMeter, ProcessGroup, PROFILE_INTERVAL_US, READY_FILE } from './processes.ts';
import { summarise, type CpuProfile } from './profile-summary.ts';
import { renderProfiles, renderReport, renderTargets, type ProfiledThread, type RunReport } from './report.ts';
import type { BenchContext, Scenario, ScenarioResult, Timing } from './scenario.ts';
import { SCENARIOS } from './scenarios/index.ts';

const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
const PROFILE_DIR = join(RESULTS_DIR, 'profiles');
const DOC = fileURLToPath(new URL('../docs/benchmarks.md', import.meta.url));
const ANALYSIS = fileURLToPath(new URL('./analysis.md', import.meta.url));
/** Where a complete profiled run puts its profile summaries (committed; the .cpuprofile files are not). */
const PROFILES_MD = 'bench/results/profiles.md';
const PROFILES_PARTIAL_MD = 'bench/results/profiles.partial.md';
const REPO = fileURLToPath(new URL('../', import.meta.url));
/** Functions per profiled thread in the summaries. */
const PROFILE_TOP = 15;
/** Never profiled: the soak judges memory growth, and the profiler's samples grow the heap. */
const UNPROFILED = new Set(['soak']);
/** Nothing in a run may outlive this (plus the soak's own duration), whatever goes wrong. */
const RUN_LIMIT_MS = 20 * 60_000;
/** The soak scenario's duration: 10 minutes in a full run, 30 s with --quick. */
const SOAK_FULL_MS = 10 * 60_000;
const SOAK_QUICK_MS = 30_000;

const FULL: Timing = { rounds: 2, warmupMs: 1_000, measureMs: 3_000, graceMs: 5_000 };
const QUICK: Timing = { rounds: 1, warmupMs: 500, measureMs: 1_500, graceMs: 3_000 };

async function runOne(scenario: Scenario, ctx: BenchContext, profileDir: string | undefined): Promise<ScenarioResult> {
  const started = performance.now();
  ctx.log(`── ${scenario.name}: ${scenario.question}`);
  ctx.procs.profileInto(UNPROFILED.has(scenario.name) ? undefined : profileDir, scenario.name);
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

/** `CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile`: thread 0 is the main thread. */
function threadOf(file: string): string {
  const tid = file.split('.').at(-3);
  return tid === '0' ? 'main thread' : `worker thread ${tid ?? '?'}`;
}

/** Every profile the run wrote, one directory per `<scenario>.<process>`, in scenario order. */
async function collectProfiles(order: readonly string[]): Promise<ProfiledThread[]> {
  const out: ProfiledThread[] = [];
  const dirs = await readdir(PROFILE_DIR).catch(() => [] as string[]);
  const rank = (dir: string) => order.indexOf(dir.split('.')[0] ?? '');
  for (const dir of dirs.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))) {
    const [scenario = dir, ...rest] = dir.split('.');
    const files = (await readdir(join(PROFILE_DIR, dir)).catch(() => [] as string[])).filter((f) => f.endsWith('.cpuprofile')).sort();
    const ready = await readFile(join(PROFILE_DIR, dir, READY_FILE), 'utf8').then((t) => (JSON.parse(t) as { readyAtUs: number }).readyAtUs, () => undefined);
    for (const file of files) {
      const profile = JSON.parse(await readFile(join(PROFILE_DIR, dir, file), 'utf8')) as CpuProfile;
      out.push({ scenario, process: rest.join('.'), thread: threadOf(file), summary: summarise(profile, PROFILE_TOP, ready) });
    }
  }
  return out;
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
  // A profiled run can be the documented one: every hop (proxy and gateway) is profiled alike
  // and the report says so; the soak, which judges memory growth, never is.
  const complete = positionals.length === 0 && !values.quick && soakS === undefined;
  const machine = describeMachine();
  const clockStart = readCpuClock();
  const tmpDir = await mkdtemp(join(tmpdir(), 'orchqueue-bench-'));
  const procs = new ProcessGroup();
  const ctx: BenchContext = { procs, cpu: new CpuMeter(), timing: values.quick ? QUICK : FULL, tmpDir, soakMs, log: (m) => process.stderr.write(`${m}\n`) };
  if (values.profile) {
    // Only this run's profiles: the summaries must not mix runs.
    await rm(PROFILE_DIR, { recursive: true, force: true });
    await mkdir(PROFILE_DIR, { recursive: true });
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
      const result = await runOne(scenario, ctx, values.profile ? PROFILE_DIR : undefined);
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
  const summaries = complete ? PROFILES_MD : PROFILES_PARTIAL_MD;
  const report: RunReport = { machine, timing: ctx.timing, complete, results, ...(analysis ? { analysis } : {}), ...(values.profile ? { profiled: { intervalUs: PROFILE_INTERVAL_US, summaries } } : {}) };
  await mkdir(RESULTS_DIR, { recursive: true });
  if (values.profile) {
    await writeFile(join(REPO, summaries), renderProfiles(machine.date, await collectProfiles(selected.map((s) => s.name)), PROFILE_TOP));
    ctx.log(`CPU profiles: bench/results/profiles/<scenario>.<process>/, top ${PROFILE_TOP} per thread in ${summaries}`);
  }
  if (complete) {
    await writeFile(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(report, null, 2)}\n`);
    await writeFile(DOC, renderReport(report));
    ctx.log(`wrote bench/results/latest.json and docs/benchmarks.md`);
  } else {
    await writeFile(join(RESULTS_DIR, 'partial.json'), `${JSON.stringify(report, null, 2)}\n`);
    ctx.log('partial run: wrote bench/results/partial.json (docs/benchmarks.md is only written by a full `npm run bench`)');
  }
  ctx.log(`\nTargets of this run:\n\n${renderTargets(results, complete)}\n`);
  return results.some((r) => r.status === 'failed') ? 1 : 0;
}

process.exitCode = await main();
