// Renders docs/benchmarks.md from one run's results. Pure: the same report gives the same
// text. The method section is fixed prose here so the figures and how they were made stay
// together in one generated file.

import type { Machine } from './machine.ts';
import type { Cell, ScenarioResult, Table, TargetCheck, Timing, Verdict } from './scenario.ts';

export interface RunReport {
  machine: Machine;
  timing: Timing;
  /** A full default run (every scenario, full timing); only those are written to docs/. */
  complete: boolean;
  results: ScenarioResult[];
  /** Hand-written reading of the figures and profiles (bench/analysis.md), rendered verbatim. */
  analysis?: string;
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

export function renderTargets(results: readonly ScenarioResult[]): string {
  const checks: Array<TargetCheck & { scenario: string }> = results.flatMap((r) => r.targets.map((t) => ({ ...t, scenario: r.name })));
  const pending = results.filter((r) => r.status !== 'ok').map((r) => [r.name, r.status, r.notes[0] ?? ''] as Cell[]);
  const parts: string[] = [];
  if (checks.length > 0) {
    parts.push(renderTable({ columns: ['issue', 'figure', 'target', 'this run', 'verdict', 'scenario'], rows: checks.map((c) => [c.issue, c.name, c.target, c.actual, verdict(c.verdict), c.scenario]) }));
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
  the simulator, audit \`off\`, log level \`warn\`, every other setting at its shipped default —
  metrics on) unless a scenario says otherwise. The load generator runs in the runner process
  over undici Pools with one connection per concurrent stream.
- **Three paths.** *direct*: \`POST /completion {prompt, n_predict, stream: true}\` to the
  simulator; *proxy*: the same request through the pass-through proxy; *gateway*: the one
  round trip \`POST /v1/tasks\` with \`Accept: text/event-stream\` and \`{model, prompt,
  max_tokens}\`. Tokens are counted by parsing the SSE body incrementally with
  \`src/transport/sse-parser.ts\`; a stream counts as complete only if it ended normally with
  exactly the tokens it asked for.
- **One run, ratios.** All figures below come from one run on the machine above. Absolute
  numbers depend on the machine and on whatever else it was doing (see the load average);
  the ratios between paths or configurations measured in the same run are the figures to read.
  Configurations that are compared run interleaved (A, B, C, then B, C, A, …), each round with
  a warm-up that is not counted, and the median round is reported with the min–max spread.
- **Figures.** *TTFT*: client-side time from sending the request to parsing the first token.
  *Streams/s*: streams that completed in full inside the measurement window, per second.
  *Tokens/s*: tokens that arrived inside the window, per second. *Gap*: time between two
  consecutive tokens of one stream as the client saw them — a stalled event loop shows up
  here. *CPU µs/token*: CPU time (user + system, all threads, from /proc) of the process in
  the middle (proxy or gateway) during the window, divided by the tokens delivered.
- **Bounded.** Every loop is bounded in count and time: after a window closes no stream
  starts, streams in flight get a grace period and are then aborted; the whole run has a hard
  time limit.`;

export const REPRODUCE = `## Reproduce

\`\`\`sh
npm run bench                 # every scenario; rewrites this file and bench/results/latest.json
npm run bench -- ttft         # one scenario (JSON on stdout, bench/results/partial.json)
npm run bench -- --quick      # short windows, one round: a smoke test, never written here
npm run bench -- soak --quick # the soak for 30 s (--soak-s N for N seconds) instead of 10 minutes
npm run bench -- audit --profile   # CPU profiles of the gateways in bench/results/profiles/
\`\`\`

Postgres for the audit scenario: \`postgres://postgres@127.0.0.1:5432\` (trust auth); the run
creates and drops its own database. Run on an otherwise idle machine for stable absolute
numbers; see \`bench/README.md\` for what each scenario does. The \`soak\` scenario (10 minutes of
mixed clients at half capacity; the gateway's RSS and open file descriptors must stay within 5%
after warm-up) is for a quiet machine: other work on the cores changes how much the gateway
allocates between collections, and a 30-second \`--quick\` soak only smoke-tests it.`;

export function renderReport(report: RunReport): string {
  const { machine, results } = report;
  return [
    '# Benchmarks',
    `> Generated by \`npm run bench\` (bench/run.ts) on ${machine.date.slice(0, 10)}; do not edit by hand — rerun it. Raw figures: \`bench/results/latest.json\`.`,
    '## Machine',
    renderMachine(machine, report.timing),
    renderConditions(machine),
    '## Targets',
    renderTargets(results),
    METHOD,
    '## Results',
    ...results.map(renderScenario),
    ...(report.analysis ? [report.analysis.trim()] : []),
    REPRODUCE,
    '',
  ].join('\n\n');
}
