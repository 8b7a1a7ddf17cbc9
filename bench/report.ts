// Renders docs/benchmarks.md from one run's results. Pure: the same report gives the same
// text. The method section is fixed prose here so the figures and how they were made stay
// together in one generated file.

import type { Machine } from './machine.ts';
import type { Cell, ScenarioResult, Table, TargetCheck, Timing, Verdict } from './scenario.ts';
import type { ProfileSummary } from './profile-summary.ts';
import { EXPECTED_TARGETS, type ExpectedTarget } from './targets.ts';

export interface RunReport {
  machine: Machine;
  timing: Timing;
  /** A full run (every scenario, full timing, with or without --profile); only those are written to docs/. */
  complete: boolean;
  results: ScenarioResult[];
  /** Hand-written reading of the figures and profiles (bench/analysis.md), rendered verbatim. */
  analysis?: string;
  /** With --profile: the hop processes ran under V8's sampling profiler; summaries in `summaries`. */
  profiled?: { intervalUs: number; summaries: string };
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function formatCell(cell: Cell): string {
  if (cell === null) return '—';
  if (typeof cell === 'number') {
    if (!Number.isFinite(cell)) return '—';
    return Number.isInteger(cell) ? String(cell) : String(cell);
  }
  return escapeCell(cell);
}

export function renderTable(table: Pick<Table, 'columns' | 'rows'>): string {
  const head = `| ${table.columns.map(escapeCell).join(' | ')} |`;
  const rule = `| ${table.columns.map(() => '---').join(' | ')} |`;
  const body = table.rows.map((row) => `| ${row.map(formatCell).join(' | ')} |`);
  return [head, rule, ...body].join('\n');
}

function verdict(v: Verdict): string {
  return v === 'missed' ? '**missed**' : v;
}

type Row = TargetCheck & { scenario: string };

/** Why an expected target has no figure in this run. */
function missingReason(expected: ExpectedTarget, results: readonly ScenarioResult[]): string {
  const r = results.find((x) => x.name === expected.scenario);
  if (!r) return `not measured: scenario \`${expected.scenario}\` was not part of this run`;
  if (r.status !== 'ok') return `not measured: the scenario was ${r.status}${r.notes[0] ? ` (${r.notes[0]})` : ''}`;
  return 'not measured: the scenario returned no figure for it';
}

/**
 * Every check of the run, expected targets first in their fixed order. A check a scenario
 * returns without an expected id (a scenario written elsewhere) stands in for that scenario's
 * expected targets of the same issue; an expected target nobody answered is listed as not
 * measured — with `expectAll` for every scenario, otherwise only for scenarios that ran.
 */
export function targetRows(results: readonly ScenarioResult[], expectAll: boolean): Row[] {
  const checks: Row[] = results.flatMap((r) => r.targets.map((t) => ({ ...t, scenario: r.name })));
  const known = new Set<string>(EXPECTED_TARGETS.map((t) => t.id));
  const unkeyed = checks.filter((c) => c.id === undefined || !known.has(c.id));
  const placed = new Set<Row>();
  const rows: Row[] = [];
  for (const expected of EXPECTED_TARGETS as readonly ExpectedTarget[]) {
    const answered = checks.filter((c) => c.id === expected.id);
    if (answered.length > 0) {
      rows.push(...answered);
      continue;
    }
    const standIns = unkeyed.filter((c) => c.scenario === expected.scenario && c.issue.includes(expected.issue));
    if (standIns.length > 0) {
      for (const c of standIns.filter((x) => !placed.has(x))) {
        rows.push(c);
        placed.add(c);
      }
      continue;
    }
    if (expectAll || results.some((r) => r.name === expected.scenario)) rows.push({ ...expected, actual: missingReason(expected, results), verdict: 'not measured' });
  }
  rows.push(...unkeyed.filter((c) => !placed.has(c)));
  return rows;
}

export function renderTargets(results: readonly ScenarioResult[], expectAll = false): string {
  const rows = targetRows(results, expectAll);
  const pending = results.filter((r) => r.status !== 'ok').map((r) => [r.name, r.status, r.notes[0] ?? ''] as Cell[]);
  const parts: string[] = [];
  if (rows.length > 0) {
    parts.push(renderTable({ columns: ['issue', 'figure', 'target', 'this run', 'verdict', 'scenario'], rows: rows.map((c) => [c.issue, c.name, c.target, c.actual, verdict(c.verdict), c.scenario]) }));
  } else {
    parts.push('No target could be checked in this run.');
  }
  if (pending.length > 0) parts.push(`Scenarios without figures in this run:\n\n${renderTable({ columns: ['scenario', 'status', 'why'], rows: pending })}`);
  return parts.join('\n\n');
}

function percent(share: number | undefined): string {
  return share === undefined ? 'unknown' : `${Math.round(share * 1000) / 10}%`;
}

export function renderMachine(m: Machine, timing: Timing): string {
  return renderTable({
    columns: ['CPU', 'cores', 'memory', 'Node', 'OS', 'date (UTC)', 'load average before the run', 'CPU taken by other work during the run', 'rounds × window'],
    rows: [[m.cpuModel, m.cores, `${m.memoryGiB} GiB`, m.node, m.os, m.date.replace('T', ' ').replace(/\.\d+Z$/, ''), m.loadAvgStart.join(' / '), percent(m.otherCpuShare), `${timing.rounds} × (${timing.warmupMs / 1000} s warm-up + ${timing.measureMs / 1000} s)`]],
  });
}

/** Other work above this share of the machine's CPU makes absolute figures unreliable. */
const QUIET_SHARE = 0.1;

/** A warning when other work took a real share of the CPU: absolute figures drop and rounds disagree. */
export function renderConditions(m: Machine): string {
  if (m.otherCpuShare === undefined) return 'How much CPU other work took during the run is unknown (no /proc).';
  if (m.otherCpuShare <= QUIET_SHARE) return `The machine was quiet: other work took ${percent(m.otherCpuShare)} of its CPU time during the run.`;
  return [
    `> **Shared machine.** Other work took ${percent(m.otherCpuShare)} of the machine's CPU time during this run`,
    `> (load average ${m.loadAvgStart.join(' / ')} before it started). Absolute figures are lower than on a quiet machine`,
    '> and rounds disagree more; read the paired ratios and the verdicts (a target is *inconclusive* when its',
    '> rounds land on both sides of it).',
  ].join('\n');
}

function renderScenario(r: ScenarioResult): string {
  const parts = [`### \`${r.name}\` — ${r.question}`, `Status: ${r.status}, ${r.durationS} s.`];
  for (const table of r.tables) parts.push(`**${escapeCell(table.title)}**\n\n${renderTable(table)}`);
  if (r.notes.length > 0) parts.push(r.notes.map((n) => `- ${n}`).join('\n'));
  return parts.join('\n\n');
}

export const METHOD = `## Method

- **Processes.** Every party runs in its own Node process on loopback (127.0.0.1), started and
  stopped by \`bench/run.ts\`: the engine simulator (the protocol-faithful llama.cpp fake,
  \`test/fakes/llamacpp/fake-main.ts\`), the bare pass-through proxy
  (\`bench/passthrough-proxy.ts\`: node:http + an undici Pool piping the SSE body, no parsing),
  and the gateway (\`node src/main.ts --config <file>\`: pools of engine \`llamacpp\` pointing at
  the simulator). The load generator runs in the runner process over undici Pools with one
  connection per concurrent stream.
- **Shipped defaults.** Unless a row names a variant, the gateway runs as shipped: the audit
  trail on the embedded PGlite (\`fail_closed: true\`; each gateway process gets a fresh data
  directory of its own under the run's temp dir, as on a first start), metrics on, every other
  setting at its default. The one deviation is log level \`warn\` instead of \`info\`, so the
  load generator does not read three log lines per task. Variants are named where they appear:
  *audit off*, *metrics off*, *audit on server Postgres* (a throwaway database on
  \`127.0.0.1:5432\`).
- **Three paths.** *direct*: \`POST /completion {prompt, n_predict, stream: true}\` to the
  simulator; *proxy*: the same request through the pass-through proxy; *gateway*: the one
  round trip \`POST /v1/tasks\` with \`Accept: text/event-stream\` and \`{model, prompt,
  max_tokens}\`. Tokens are counted by parsing the SSE body incrementally with
  \`src/transport/sse-parser.ts\`; a stream counts as complete only if it ended normally with
  exactly the tokens it asked for. The per-task case is a 32-token stream.
- **One run, ratios.** All figures below come from one run on the machine above. Absolute
  numbers depend on the machine and on whatever else it was doing (see the load average);
  the ratios between paths or configurations measured in the same run are the figures to read.
  Configurations that are compared run interleaved (A, B, C, then B, C, A, …), each round with
  a warm-up that is not counted, and the median round is reported with the min–max spread.
  A target is *met* or *missed* only when every paired round (or block) lands on the same side.
- **Figures.** *TTFT*: client-side time from sending the request to parsing the first token.
  *Streams/s*: streams that completed in full inside the measurement window, per second.
  *Tokens/s*: tokens that arrived inside the window, per second. *Gap*: time between two
  consecutive tokens of one stream as the client saw them — a stalled event loop shows up
  here. *CPU per stream / per token*: CPU time (user + system, all threads, from /proc) of the
  process in the middle (proxy or gateway) during the window, divided by the streams or tokens
  delivered: per stream on 32-token streams, per token on 64-token streams (the marginal cost
  between the two is shown beside it where both hops have one).
  *Idle memory*: VmRSS of a freshly started gateway, ready and left alone for 2 s; *peak*:
  its VmHWM (the kernel's high-water mark), reset after the idle reading and read after the
  throughput runs, so it is the peak under load wherever it fell (the start-up peak is shown
  apart).
- **Bounded.** Every loop is bounded in count and time: after a window closes no stream
  starts, streams in flight get a grace period and are then aborted; the whole run has a hard
  time limit.`;

export const REPRODUCE = `## Reproduce

\`\`\`sh
npm run bench -- --profile    # every scenario; rewrites this file, bench/results/latest.json and bench/results/profiles.md
npm run bench                 # the same without the profiler (profiles.md untouched)
npm run bench -- ttft         # one scenario (JSON on stdout, bench/results/partial.json)
npm run bench -- --quick      # short windows, one round: a smoke test, never written here
npm run bench -- soak --quick # the soak for 30 s (--soak-s N for N seconds) instead of 10 minutes
npm run bench -- throughput --profile   # CPU profiles per arm in bench/results/profiles/<scenario>.<process>/
node bench/profile-summary.ts bench/results/profiles/throughput.gateway-defaults/<file>.cpuprofile --top 25
npm run bench -- --render     # re-render this file from latest.json and bench/analysis.md
\`\`\`

Postgres for the server-Postgres arms: \`postgres://postgres@127.0.0.1:5432\` (trust auth); each
such arm creates and drops its own database. Run on an otherwise idle machine: about 20 minutes
on 2 cores, 10 of them the \`soak\` scenario (10 minutes of mixed clients at half capacity; the
gateway's RSS and open file descriptors must stay within 5% after warm-up), which is not
profiled (the profiler's samples grow the heap). See \`bench/README.md\` for what each scenario
does.`;

function renderProfiling(report: RunReport): string {
  if (!report.profiled) return 'The processes ran without a profiler; CPU profiles of the hot paths come from `npm run bench -- <scenario> --profile`.';
  return `Every proxy and gateway process (the soak's excepted) ran under V8's sampling profiler (\`--cpu-prof\`, one sample every ${report.profiled.intervalUs / 1000} ms), in every arm alike. The top self-time functions of each arm's threads are in [\`${report.profiled.summaries}\`](../${report.profiled.summaries}); the analysis below cites them.`;
}

/** One thread's profile from a --profile run: scenario, process (the arm's hop), thread. */
export interface ProfiledThread {
  scenario: string;
  process: string;
  thread: string;
  summary: ProfileSummary;
}

/** Threads busier than this get a table; the rest (idle workers, helpers) are only counted. */
const PROFILE_MIN_BUSY_S = 0.2;

const share = (x: number) => `${(100 * x).toFixed(1)}%`;

/** bench/results/profiles.md: the top self-time functions of every profiled thread of one run. */
export function renderProfiles(date: string, threads: readonly ProfiledThread[], top: number): string {
  const shown = threads.filter((t) => t.summary.busyS >= PROFILE_MIN_BUSY_S);
  const parts = [
    '# CPU profiles of the bench run',
    `> Generated by \`npm run bench -- --profile\` (bench/run.ts) on ${date.slice(0, 10)}, from the same run as \`docs/benchmarks.md\` when that run was complete. Top ${top} functions by self time, as a share of the thread's busy (non-idle) time, counted from the moment the process answered ready (start-up — module loading, config and schema compilation — is left out); \`node bench/profile-summary.ts <file> --from-us <readyAtUs>\` gives more. The \`.cpuprofile\` files stay in \`bench/results/profiles/\` (not committed).`,
  ];
  for (const t of shown) {
    const s = t.summary;
    parts.push(`## \`${t.scenario}\` — ${t.process}, ${t.thread}`);
    parts.push(`${s.sampledS.toFixed(1)} s sampled, ${s.busyS.toFixed(1)} s busy; garbage collector ${share(s.gcShare)}, V8 program ${share(s.programShare)} of busy time.`);
    parts.push(renderTable({ columns: ['self time', 'function', 'where'], rows: s.top.map(({ fn, share: x }) => [share(x), fn.split(' ')[0] ?? fn, fn.split(' ').slice(1).join(' ')]) }));
  }
  const quiet = threads.length - shown.length;
  if (quiet > 0) parts.push(`${quiet} more thread profile(s) were busy less than ${PROFILE_MIN_BUSY_S} s and are left out.`);
  return `${parts.join('\n\n')}\n`;
}

export function renderReport(report: RunReport): string {
  const { machine, results } = report;
  return [
    '# Benchmarks',
    `> Generated by \`npm run bench\` (bench/run.ts) on ${machine.date.slice(0, 10)}; do not edit by hand — rerun it. Raw figures: \`bench/results/latest.json\`.`,
    '## Machine',
    renderMachine(machine, report.timing),
    renderConditions(machine),
    '## Targets',
    renderTargets(results, report.complete),
    METHOD,
    renderProfiling(report),
    '## Results',
    ...results.map(renderScenario),
    ...(report.analysis ? [report.analysis.trim()] : []),
    REPRODUCE,
    '',
  ].join('\n\n');
}
