// Summarises a V8 CPU profile (from `npm run bench -- --profile`): the functions with the most
// self time as a share of busy (non-idle) time, and where the garbage collector stands, so
// "which function in the hot path is slow" has an answer anyone can reproduce.
//   node bench/profile-summary.ts bench/results/profiles/gateway-throughput.cpuprofile [--top 30]

import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const PSEUDO = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

export function where(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*\/node_modules\//, '~/').replace(/^file:\/\/.*?\/(src|bench)\//, '$1/');
  return `${functionName || '(anonymous)'} ${file || '(native)'}:${lineNumber + 1}`;
}

/** Self time per function, in µs, keyed by "name file:line"; pseudo frames keep their own names. */
export function selfTimes(profile: CpuProfile): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const key = PSEUDO.has(node.callFrame.functionName) ? node.callFrame.functionName : where(node);
    out.set(key, (out.get(key) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  return out;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' } } });
  const file = positionals[0];
  if (!file) {
    process.stderr.write('usage: node bench/profile-summary.ts <file.cpuprofile> [--top N]\n');
    process.exit(2);
  }
  const times = selfTimes(JSON.parse(await readFile(file, 'utf8')) as CpuProfile);
  const total = [...times.values()].reduce((a, b) => a + b, 0);
  const busy = total - (times.get('(idle)') ?? 0);
  const pct = (us: number) => `${((100 * us) / Math.max(1, busy)).toFixed(1).padStart(5)}%`;
  process.stdout.write(`${file}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy; GC ${pct(times.get('(garbage collector)') ?? 0)}, program ${pct(times.get('(program)') ?? 0)}\n`);
  const top = [...times].filter(([k]) => !PSEUDO.has(k)).sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
  for (const [key, us] of top) process.stdout.write(`${pct(us)}  ${key}\n`);
}

if (import.meta.main) await main();
