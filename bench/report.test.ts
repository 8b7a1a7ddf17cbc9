// The pure parts of bench/: percentiles, the bounded sample set, round rotation, SSE message
// classification for both wire protocols, and report rendering. No timing assertions here.

import { describe, expect, it } from 'vitest';
import { otherCpuShare, type Machine } from './machine.ts';
import { withAuditDir } from './gateway-config.ts';
import { summarise, type CpuProfile } from './profile-summary.ts';
import { formatCell, renderConditions, renderProfiles, renderReport, renderTable, renderTargets, targetRows, type RunReport } from './report.ts';
import { checkOf, EXPECTED_TARGETS } from './targets.ts';
import { rotated, verdictOf, type ScenarioResult } from './scenario.ts';
import { median, percentile, ratio, SampleSet } from './stats.ts';
import { isFull, llamacppProtocol, orchqueueProtocol, type StreamOutcome } from './stream-client.ts';

describe('percentile', () => {
  it('interpolates linearly between ranks', () => {
    const sorted = [10, 20, 30, 40];
    expect(percentile(sorted, 0)).toBe(10);
    expect(percentile(sorted, 50)).toBe(25);
    expect(percentile(sorted, 100)).toBe(40);
    expect(percentile(sorted, 90)).toBeCloseTo(37);
  });

  it('is NaN for no samples and the value itself for one', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(percentile([7], 99)).toBe(7);
  });

  it('takes the median of unsorted values without reordering them', () => {
    const values = [5, 1, 3];
    expect(median(values)).toBe(3);
    expect(values).toEqual([5, 1, 3]);
  });

  it('answers NaN for a ratio over zero', () => {
    expect(ratio(1, 0)).toBeNaN();
    expect(ratio(3, 4)).toBe(0.75);
  });
});

describe('SampleSet', () => {
  it('summarises every sample while under its cap', () => {
    const set = new SampleSet(100);
    for (let i = 1; i <= 100; i++) set.add(i);
    const s = set.summary();
    expect(s).toMatchObject({ count: 100, min: 1, max: 100, p50: 50.5 });
    expect(s.mean).toBe(50.5);
  });

  it('keeps a bounded reservoir past its cap but counts every sample', () => {
    const set = new SampleSet(50);
    for (let i = 0; i < 10_000; i++) set.add(i);
    const s = set.summary();
    expect(s.count).toBe(10_000);
    expect(s.max).toBeLessThan(10_000);
    // A uniform reservoir over 0..9999 has its median far from the first 50 values.
    expect(s.p50).toBeGreaterThan(1_000);
  });
});

describe('otherCpuShare', () => {
  it('is the machine busy time not spent by this run, over the wall time of every core', () => {
    const start = { machineBusyMs: 1_000, ownMs: 100, at: 0 };
    expect(otherCpuShare(start, { machineBusyMs: 3_000, ownMs: 1_100, at: 1_000 }, 2)).toBe(0.5);
    expect(otherCpuShare(start, { machineBusyMs: 1_500, ownMs: 700, at: 1_000 }, 2)).toBe(0);
  });
});

describe('rotated', () => {
  it('starts each round with the next arm', () => {
    expect(rotated(['a', 'b', 'c'], 0)).toEqual(['a', 'b', 'c']);
    expect(rotated(['a', 'b', 'c'], 1)).toEqual(['b', 'c', 'a']);
    expect(rotated(['a', 'b', 'c'], 5)).toEqual(['c', 'a', 'b']);
  });
});

describe('verdictOf', () => {
  const atLeast80 = (s: number) => s >= 0.8;

  it('is met or missed only when every round agrees', () => {
    expect(verdictOf([0.85, 0.9, 0.82], atLeast80)).toBe('met');
    expect(verdictOf([0.5, 0.7], atLeast80)).toBe('missed');
    expect(verdictOf([0.75, 0.85], atLeast80)).toBe('inconclusive');
  });

  it('is not measured without a finite sample', () => {
    expect(verdictOf([], atLeast80)).toBe('not measured');
    expect(verdictOf([Number.NaN], atLeast80)).toBe('not measured');
  });
});

describe('protocols', () => {
  const msg = (event: string | undefined, data: string) => ({ event, data, id: undefined, retry: undefined });

  it('reads llama.cpp partial, final and error events', () => {
    expect(llamacppProtocol.classify(msg(undefined, '{"content":" fox","stop":false}'))).toBe('token');
    const final = msg(undefined, '{"content":"","stop":true,"tokens_predicted":7}');
    expect(llamacppProtocol.classify(final)).toBe('end');
    expect(llamacppProtocol.reportedTokens(final)).toBe(7);
    expect(llamacppProtocol.classify(msg(undefined, '{"error":{"code":500}}'))).toBe('error');
    expect(llamacppProtocol.classify(msg(undefined, '{"content":"\\"stop\\":true","stop":false}'))).toBe('token');
  });

  it('reads OrchQueue token, end and other events', () => {
    expect(orchqueueProtocol.classify(msg('token', '{"t":"a","i":0}'))).toBe('token');
    expect(orchqueueProtocol.classify(msg('started', '{}'))).toBe('other');
    const end = msg('end', '{"tokens_out":4,"decode_time_ms":1,"finish_reason":"length"}');
    expect(orchqueueProtocol.classify(end)).toBe('end');
    expect(orchqueueProtocol.reportedTokens(end)).toBe(4);
    expect(orchqueueProtocol.body('m', 'p', 3)).toBe('{"model":"m","prompt":"p","max_tokens":3}');
  });

  it('calls a stream full only with status 200, an end event and every token', () => {
    const base: StreamOutcome = { status: 200, tokens: 4, terminal: 'end', reportedTokens: 4, ttftMs: 1, durationMs: 2, errorCode: undefined, headers: {} };
    expect(isFull(base, 4)).toBe(true);
    expect(isFull({ ...base, tokens: 3 }, 4)).toBe(false);
    expect(isFull({ ...base, terminal: 'error' }, 4)).toBe(false);
  });
});

const machine: Machine = { cpuModel: 'Test CPU', cores: 2, memoryGiB: 4, node: 'v24.0.0', os: 'Linux 6', date: '2025-01-02T03:04:05.000Z', loadAvgStart: [0.1, 0.2, 0.3], otherCpuShare: 0.042 };

const result = (over: Partial<ScenarioResult>): ScenarioResult => ({
  name: 'ttft',
  question: 'What does a hop add?',
  status: 'ok',
  durationS: 1.5,
  tables: [{ title: 'TTFT (ms)', columns: ['path', 'p50'], rows: [['direct', 0.5], ['gateway', null]] }],
  targets: [{ issue: '#2', name: 'added TTFT p50', target: '≤ 1 ms', actual: '0.4 ms', verdict: 'met' }],
  notes: ['a | note'],
  data: {},
  ...over,
});

describe('report rendering', () => {
  it('renders cells: dashes for missing values, escaped pipes', () => {
    expect(formatCell(null)).toBe('—');
    expect(formatCell(Number.NaN)).toBe('—');
    expect(formatCell(1.25)).toBe('1.25');
    expect(formatCell('a|b')).toBe('a\\|b');
    expect(renderTable({ columns: ['x', 'y'], rows: [[1, 'z']] })).toBe('| x | y |\n| --- | --- |\n| 1 | z |');
  });

  it('marks targets met, missed or not measured and lists scenarios without figures', () => {
    const text = renderTargets([
      result({}),
      result({ name: 'throughput', targets: [{ issue: '#2', name: 'share', target: '≥ 80%', actual: '70%', verdict: 'missed' }] }),
      result({ name: 'audit', status: 'skipped', tables: [], targets: [], notes: ['Not yet available: audit is not wired'] }),
    ]);
    expect(text).toContain('| #2 | added TTFT p50 | ≤ 1 ms | 0.4 ms | met | ttft |');
    expect(text).toContain('| #2 | share | ≥ 80% | 70% | **missed** | throughput |');
    expect(text).toContain('| audit | skipped | Not yet available: audit is not wired |');
  });

  it('warns when the machine was busy and says so when it was quiet', () => {
    expect(renderConditions(machine)).toContain('quiet: other work took 4.2%');
    expect(renderConditions({ ...machine, otherCpuShare: 0.35 })).toContain('Other work took 35% of the machine');
  });

  it('renders the machine, method, every scenario and how to reproduce', () => {
    const report: RunReport = { machine, timing: { rounds: 2, warmupMs: 1000, measureMs: 4000, graceMs: 5000 }, complete: true, results: [result({})] };
    const text = renderReport(report);
    expect(text).toContain('| Test CPU | 2 | 4 GiB | v24.0.0 | Linux 6 | 2025-01-02 03:04:05 | 0.1 / 0.2 / 0.3 | 4.2% | 2 × (1 s warm-up + 4 s) |');
    expect(text).toContain('## Method');
    expect(text).toContain('### `ttft` — What does a hop add?');
    expect(text).toContain('| gateway | — |');
    expect(text).toContain('- a | note');
    expect(text).toContain('## Reproduce');
    expect(renderReport(report)).toBe(text);
    expect(renderReport({ ...report, analysis: '## Analysis\n\nby hand\n' })).toContain('## Analysis\n\nby hand\n\n## Reproduce');
  });
});

describe('expected targets', () => {
  const ok = (name: string, targets: ScenarioResult['targets']) => result({ name, targets, tables: [] });

  it('takes the wording of a check from the expected table', () => {
    expect(checkOf('memory.idle', '180 MiB', 'met')).toEqual({ id: 'memory.idle', issue: '#14', name: 'idle resident memory of a fresh gateway on the embedded defaults', target: '≤ 200 MiB', actual: '180 MiB', verdict: 'met' });
  });

  it('lists an expected target of a scenario that ran but did not answer it as not measured', () => {
    const rows = targetRows([ok('backpressure', [checkOf('backpressure.rate', '12000/s', 'met')])], false);
    expect(rows.map((r) => [r.id, r.verdict])).toEqual([
      ['backpressure.rate', 'met'],
      ['backpressure.gaps', 'not measured'],
      ['backpressure.complete', 'not measured'],
    ]);
    expect(rows[1]?.actual).toBe('not measured: the scenario returned no figure for it');
  });

  it('lists every expected target in a complete run, saying which scenario did not run or why it had no figures', () => {
    const rows = targetRows([ok('ttft', []), result({ name: 'audit', status: 'skipped', tables: [], targets: [], notes: ['Not yet available: no Postgres'] })], true);
    expect(rows).toHaveLength(EXPECTED_TARGETS.length);
    expect(rows.find((r) => r.id === 'memory.open-streams')?.actual).toBe('not measured: scenario `open-streams` was not part of this run');
    expect(rows.find((r) => r.id === 'audit.pglite')?.actual).toBe('not measured: the scenario was skipped (Not yet available: no Postgres)');
  });

  it("lets a scenario's own checks of an issue stand in for its expected targets, once, in the expected place", () => {
    const own = { issue: '#14', name: 'KiB per open stream at 10,000 streams', target: '≤ 32 KiB', actual: '20 KiB', verdict: 'met' as const };
    const rows = targetRows([ok('open-streams', [own, { ...own, name: 'errors', target: '0', actual: '0' }]), ok('backpressure', [])], true);
    const at = rows.findIndex((r) => r.scenario === 'open-streams');
    expect(rows.filter((r) => r.scenario === 'open-streams').map((r) => r.name)).toEqual(['KiB per open stream at 10,000 streams', 'errors']);
    expect(rows[at - 1]?.id).toBe('memory.peak');
    expect(rows[at + 2]?.id).toBe('memory.after-burst');
    expect(renderTargets([ok('open-streams', [own])])).toContain('| #14 | KiB per open stream at 10,000 streams | ≤ 32 KiB | 20 KiB | met | open-streams |');
  });

  it('appends checks no expected target covers after the expected ones', () => {
    const extra = { issue: '#11', name: 'something new', target: '≥ 1', actual: '2', verdict: 'met' as const };
    const rows = targetRows([ok('chat-path', [extra]), ok('telemetry', [checkOf('telemetry.metrics', '99%', 'met')])], false);
    expect(rows.map((r) => r.name)).toEqual(['throughput with metrics on, share of metrics off', 'something new']);
  });
});

describe('gateway configs', () => {
  it('gives the embedded audit store the dir it is handed unless the config names one or another backend', () => {
    expect(withAuditDir({ audit: { backend: 'pglite' } }, '/tmp/a')).toEqual({ audit: { backend: 'pglite', data_dir: '/tmp/a' } });
    expect(withAuditDir({ pools: [] }, '/tmp/a')).toEqual({ pools: [], audit: { backend: 'pglite', data_dir: '/tmp/a' } });
    expect(withAuditDir({ audit: { backend: 'pglite', data_dir: '/x' } }, '/tmp/a')).toEqual({ audit: { backend: 'pglite', data_dir: '/x' } });
    expect(withAuditDir({ audit: { backend: 'off' } }, '/tmp/a')).toEqual({ audit: { backend: 'off' } });
    expect(withAuditDir({ audit: { backend: 'postgres', database_url: 'u' } }, '/tmp/a')).toEqual({ audit: { backend: 'postgres', database_url: 'u' } });
  });
});

describe('profile summaries', () => {
  const frame = (id: number, functionName: string, line = 0) => ({ id, callFrame: { functionName, url: 'file:///repo/src/core/x.ts', lineNumber: line } });
  const profile: CpuProfile = {
    startTime: 0,
    nodes: [frame(1, '(root)'), frame(2, '(idle)'), frame(3, 'push', 9), frame(4, 'append', 19), frame(5, '(garbage collector)')],
    samples: [2, 3, 3, 3, 4, 5, 2],
    timeDeltas: [1_000_000, 300_000, 300_000, 200_000, 100_000, 100_000, 1_000_000],
  };

  it('ranks functions by self time as a share of busy time, with the collector apart', () => {
    const s = summarise(profile, 1);
    expect(s.sampledS).toBeCloseTo(3);
    expect(s.busyS).toBeCloseTo(1);
    expect(s.gcShare).toBeCloseTo(0.1);
    expect(s.top).toEqual([{ fn: 'push src/core/x.ts:10', share: 0.8 }]);
  });

  it('leaves out the samples taken before a given moment (start-up)', () => {
    // Sample times: 1.0, 1.3, 1.6, 1.8, 1.9, 2.0, 3.0 s; from 1.7 s on: push 0.2 s, append 0.1 s, the collector 0.1 s, idle.
    const s = summarise(profile, 5, 1_700_000);
    expect(s.busyS).toBeCloseTo(0.4);
    expect(s.top.map((t) => t.fn)).toEqual(['push src/core/x.ts:10', 'append src/core/x.ts:20']);
    expect(s.top[0]?.share).toBeCloseTo(0.5);
  });

  it('renders one table per busy thread and counts the quiet ones', () => {
    const busy = summarise(profile, 5);
    const text = renderProfiles('2026-12-05T05:00:00.000Z', [
      { scenario: 'throughput', process: 'gateway-defaults', thread: 'main thread', summary: busy },
      { scenario: 'throughput', process: 'gateway-defaults', thread: 'worker thread 1', summary: { ...busy, busyS: 0.01 } },
    ], 5);
    expect(text).toContain('## `throughput` — gateway-defaults, main thread');
    expect(text).toContain('| 80.0% | push | src/core/x.ts:10 |');
    expect(text).toContain('1 more thread profile(s) were busy less than 0.2 s');
    expect(text).not.toContain('worker thread 1');
  });
});
