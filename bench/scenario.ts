// What a scenario is and what it hands back: one question, figures as tables (absolute and
// ratios), the targets it checks and honest notes. The runner prints each result as JSON and
// the report renders the same structure; scenarios never write files themselves.

import type { CpuMeter, ProcessGroup } from './processes.ts';

export type Cell = string | number | null;

export interface Table {
  title: string;
  columns: string[];
  rows: Cell[][];
}

export type Verdict = 'met' | 'missed' | 'inconclusive' | 'not measured';

export interface TargetCheck {
  /** Key into bench/targets.ts when the target is one the report expects from every full run. */
  id?: string;
  /** Issue that set the target, e.g. "#2". */
  issue: string;
  name: string;
  target: string;
  actual: string;
  verdict: Verdict;
}

/**
 * Met or missed only when every paired sample (one per round or block) lands on the same side
 * of the target; a target inside the run's own noise is called inconclusive, not met.
 */
export function verdictOf(samples: readonly number[], meets: (value: number) => boolean): Verdict {
  const finite = samples.filter(Number.isFinite);
  if (finite.length === 0) return 'not measured';
  const hits = finite.filter(meets).length;
  if (hits === finite.length) return 'met';
  return hits === 0 ? 'missed' : 'inconclusive';
}

export interface ScenarioResult {
  name: string;
  question: string;
  status: 'ok' | 'skipped' | 'failed';
  durationS: number;
  tables: Table[];
  targets: TargetCheck[];
  notes: string[];
  /** Raw figures for bench/results/latest.json. */
  data: Record<string, unknown>;
}

export interface Timing {
  /** Rounds per configuration in scenarios that compare configurations (interleaved A, B, C, A, B, C…). */
  rounds: number;
  warmupMs: number;
  measureMs: number;
  graceMs: number;
}

export interface BenchContext {
  procs: ProcessGroup;
  cpu: CpuMeter;
  timing: Timing;
  tmpDir: string;
  /** How long the soak scenario runs (10 min; 30 s with --quick; `--soak-s N`). */
  soakMs: number;
  /** Progress lines go to stderr; stdout carries only the JSON results. */
  log(message: string): void;
}

export interface Scenario {
  name: string;
  question: string;
  run(ctx: BenchContext): Promise<Omit<ScenarioResult, 'name' | 'question' | 'durationS'>>;
}

export function skipped(reason: string, data: Record<string, unknown> = {}): Omit<ScenarioResult, 'name' | 'question' | 'durationS'> {
  return { status: 'skipped', tables: [], targets: [], notes: [`Not yet available: ${reason}`], data };
}

/** Rotates a list by `round` so no configuration always runs first (or last) in a round. */
export function rotated<T>(items: readonly T[], round: number): T[] {
  const k = items.length === 0 ? 0 : round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
