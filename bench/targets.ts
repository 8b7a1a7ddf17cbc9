// The targets a full `npm run bench` must report, in the order of the Targets table: the wording
// of each (issue, figure, target) lives here once, scenarios fill in this run's figure and
// verdict by id, and the report lists a target no scenario answered as "not measured".

import type { TargetCheck, Verdict } from './scenario.ts';

export interface ExpectedTarget {
  id: string;
  issue: string;
  name: string;
  target: string;
  /** The scenario expected to check it. */
  scenario: string;
}

export const EXPECTED_TARGETS = [
  { id: 'ttft.pglite', issue: '#14', name: 'added time to first token p50 over direct, defaults (audit on PGlite), × the proxy\'s added', target: '≤ 2×', scenario: 'ttft' },
  { id: 'ttft.postgres', issue: '#14', name: 'added time to first token p50 over direct, audit on server Postgres, × the proxy\'s added', target: '≤ 2×', scenario: 'ttft' },
  { id: 'ttft.absolute', issue: '#2', name: 'added time to first token p50, gateway (defaults) over direct', target: '≤ 1 ms', scenario: 'ttft' },
  { id: 'throughput.streams-32-c64', issue: '#14', name: '32-token streams/s at 64 concurrent, share of the proxy', target: '≥ 70%', scenario: 'throughput' },
  { id: 'throughput.streams-32-c256', issue: '#14', name: '32-token streams/s at 256 concurrent, share of the proxy', target: '≥ 70%', scenario: 'throughput' },
  { id: 'throughput.streams-64', issue: '#14', name: '64-token streams/s at 256 concurrent, share of the proxy', target: '≥ 85%', scenario: 'throughput' },
  { id: 'throughput.tokens-256', issue: '#2', name: 'tokens/s at 256 streams (64 tokens), share of the proxy', target: '≥ 80%', scenario: 'throughput' },
  { id: 'throughput.cpu-per-stream', issue: '#14', name: 'gateway CPU per 32-token stream, × the proxy\'s (64 and 256 concurrent)', target: '≤ 1.5×', scenario: 'throughput' },
  { id: 'throughput.cpu-per-token', issue: '#14', name: 'gateway CPU per token (64-token streams at 256 concurrent), × the proxy\'s', target: '≤ 1.3×', scenario: 'throughput' },
  { id: 'throughput.paced', issue: '#14', name: '256 streams at 10 ms between tokens, streams/s share of direct', target: '≥ 90%', scenario: 'throughput' },
  { id: 'memory.idle', issue: '#14', name: 'idle resident memory of a fresh gateway on the embedded defaults', target: '≤ 200 MiB', scenario: 'throughput' },
  { id: 'memory.peak', issue: '#14', name: 'peak resident memory (VmHWM) under the throughput runs, × idle', target: '≤ 2×', scenario: 'throughput' },
  { id: 'memory.open-streams', issue: '#14', name: 'memory per open SSE stream at 10,000 streams on a slow engine, 0 errors', target: '≤ 32 KiB', scenario: 'open-streams' },
  { id: 'memory.after-burst', issue: '#14', name: 'V8 heap after a load burst (after full collections), × idle + the byte bound of retained finished tasks', target: '≤ idle + retention_max_bytes + 1.5 MiB one-off code and histograms', scenario: 'burst-memory' },
  { id: 'audit.pglite', issue: '#4, #14', name: 'throughput with audit on PGlite (32-token streams), share of audit off', target: '≥ 90%', scenario: 'audit' },
  { id: 'audit.postgres', issue: '#4, #14', name: 'throughput with audit on server Postgres (32-token streams), share of audit off', target: '≥ 90%', scenario: 'audit' },
  { id: 'backpressure.rate', issue: '#14', name: '429 answers per second from a full queue', target: '≥ 10,000/s', scenario: 'backpressure' },
  { id: 'backpressure.gaps', issue: '#14', name: 'admitted streams\' token gap p99 during the 429 burst, × before', target: '≤ 1.5×', scenario: 'backpressure' },
  { id: 'backpressure.complete', issue: '#2', name: 'streams admitted before a 429 burst all complete in full', target: 'all', scenario: 'backpressure' },
  { id: 'cluster.ttft', issue: '#15', name: 'added time to first token p50, redis state backend over the memory backend (audit off)', target: '≤ +1 ms', scenario: 'cluster' },
  { id: 'cluster.cpu', issue: '#15', name: 'gateway CPU per 32-token stream, redis backend × memory backend (reported, no target)', target: 'reported', scenario: 'cluster' },
  { id: 'telemetry.metrics', issue: '#5', name: 'throughput with metrics on, share of metrics off', target: '≥ 97% (cost ≤ 3%)', scenario: 'telemetry' },
] as const satisfies readonly ExpectedTarget[];

export type TargetId = (typeof EXPECTED_TARGETS)[number]['id'];

/** This run's check of an expected target: its wording from the table above, the figure and verdict from the scenario. */
export function checkOf(id: TargetId, actual: string, verdict: Verdict): TargetCheck {
  const expected = EXPECTED_TARGETS.find((t) => t.id === id) as ExpectedTarget;
  return { id, issue: expected.issue, name: expected.name, target: expected.target, actual, verdict };
}

/** A check of an expected target that this run could not measure, and why. */
export function notMeasured(id: TargetId, why: string): TargetCheck {
  return checkOf(id, `not measured: ${why}`, 'not measured');
}
