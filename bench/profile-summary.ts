// Summarises a V8 CPU profile (from `npm run bench -- --profile`): the functions with the most
// self time as a share of busy (non-idle) time, and where the garbage collector stands, so
// "which function in the hot path is slow" has an answer anyone can reproduce.
//   node bench/profile-summary.ts bench/results/profiles/<scenario>.<process>/CPU.….cpuprofile [--top 30] [--from-us N]
// (--from-us: leave out samples before N µs on the profile's clock, e.g. the readyAtUs of ready.json beside it)

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export interface CpuProfile {
  nodes: ProfileNode[];
  /** CLOCK_MONOTONIC µs of the first sample's time base. */
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

const PSEUDO = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

export function where(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*\/node_modules\//, '~/').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/');
  return `${functionName || '(anonymous)'} ${file || '(native)'}:${lineNumber + 1}`;
}

/**
 * Self time per function, in µs, keyed by "name file:line"; pseudo frames keep their own names.
 * Samples taken before `fromUs` (the profile's clock: CLOCK_MONOTONIC µs) are left out.
 */
export function selfTimes(profile: CpuProfile, fromUs = Number.NEGATIVE_INFINITY): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  let at = profile.startTime;
  profile.samples.forEach((id, i) => {
    at += profile.timeDeltas[i] ?? 0;
    const node = byId.get(id);
    if (!node || at < fromUs) return;
    const key = PSEUDO.has(node.callFrame.functionName) ? node.callFrame.functionName : where(node);
    out.set(key, (out.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return out;
}

export interface ProfileSummary {
  sampledS: number;
  busyS: number;
  /** Shares of busy (non-idle) time, 0..1. */
  gcShare: number;
  programShare: number;
  top: Array<{ fn: string; share: number }>;
}

/** The `top` functions by self time from `fromUs` on, and where the garbage collector and V8 itself stand. */
export function summarise(profile: CpuProfile, top: number, fromUs?: number): ProfileSummary {
  const times = selfTimes(profile, fromUs);
  const total = [...times.values()].reduce((a, b) => a + b, 0);
  const busy = total - (times.get('(idle)') ?? 0);
  const share = (us: number) => us / Math.max(1, busy);
  return {
    sampledS: total / 1e6,
    busyS: busy / 1e6,
    gcShare: share(times.get('(garbage collector)') ?? 0),
    programShare: share(times.get('(program)') ?? 0),
    top: [...times].filter(([k]) => !PSEUDO.has(k)).sort((a, b) => b[1] - a[1]).slice(0, top).map(([fn, us]) => ({ fn, share: share(us) })),
  };
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' }, 'from-us': { type: 'string' } } });
  const file = positionals[0];
  if (!file) {
    process.stderr.write('usage: node bench/profile-summary.ts <file.cpuprofile> [--top N]\n');
    process.exit(2);
  }
  const s = summarise(JSON.parse(await readFile(file, 'utf8')) as CpuProfile, Number(values.top), values['from-us'] === undefined ? undefined : Number(values['from-us']));
  const pct = (x: number) => `${(100 * x).toFixed(1).padStart(5)}%`;
  process.stdout.write(`${file}: ${s.sampledS.toFixed(1)} s sampled, ${s.busyS.toFixed(1)} s busy; GC ${pct(s.gcShare)}, program ${pct(s.programShare)}\n`);
  for (const { fn, share } of s.top) process.stdout.write(`${pct(share)}  ${fn}\n`);
}

if (import.meta.main) await main();
