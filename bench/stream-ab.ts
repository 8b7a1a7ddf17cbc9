// Sequential A/B of the stream path: two gateway source trees (A and B, each a checkout with its
// own src/main.ts) in front of one unpaced simulator. Each round measures A then B (B then A on
// odd rounds) with the same closed-loop load, so machine noise falls on both arms alike. Prints
// per-round and median streams/s, gateway CPU µs per stream and TTFT p50, and B/A ratios.
// With --concurrency 1 the TTFT figures are the ones to read (the first-token path).
//   node bench/stream-ab.ts --a /path/to/baseline --b . [--rounds 6] [--ms 5000] [--concurrency 64]
//     [--tokens 32] [--audit pglite|off] [--pace N] [--profile-dir DIR] [--rss] [--a-flags=...] [--b-flags=...]
// --pace N: the simulator sends each stream's tokens at N per second (unpaced without it); the
// per-round line's token gap p50/p99 (as the client saw them) are then the figures to read.
// --rss prints each gateway's VmRSS once ready (idle, before the rounds) and its VmHWM after them
// (the peak under load: the mark is reset after the idle reading, so start-up's peak is not it).
// --a-flags / --b-flags: Node flags for that arm's gateway, before the script (e.g. to A/B a V8
// flag on one tree: --a . --b . --b-flags=--max-semi-space-size=16).

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { AUDIT_OFF, SHIPPED_DEFAULTS, gatewayConfig, poolConfig } from './gateway-config.ts';
import { runClosedLoop } from './load.ts';
import { clientPool, judgeFull, promptOf, streamRunner } from './paths.ts';
import { CpuMeter, ProcessGroup, memoryOf, readUrlLine, resetPeak, type Child } from './processes.ts';
import { idleRssMiB, startGateway } from './services.ts';
import { median } from './stats.ts';
import { orchqueueProtocol } from './stream-client.ts';

const { values } = parseArgs({
  options: {
    a: { type: 'string' }, b: { type: 'string', default: '.' }, rounds: { type: 'string', default: '6' },
    ms: { type: 'string', default: '5000' }, concurrency: { type: 'string', default: '64' },
    tokens: { type: 'string', default: '32' }, audit: { type: 'string', default: 'pglite' },
    'profile-dir': { type: 'string' }, rss: { type: 'boolean', default: false },
    'a-flags': { type: 'string', default: '' }, 'b-flags': { type: 'string', default: '' },
    pace: { type: 'string' },
  },
});
const CONCURRENCY = Number(values.concurrency);
const TOKENS = Number(values.tokens);
const MEASURE_MS = Number(values.ms);

interface Arm {
  name: string;
  url: string;
  child: Child;
  rates: number[];
  usPer: number[];
  ttft: number[];
}

const procs = new ProcessGroup();
if (values['profile-dir'] !== undefined) procs.profileInto(resolve(values['profile-dir']), 'ab');
const cpu = new CpuMeter();
const tmp = await mkdtemp(join(tmpdir(), 'stream-ab-'));
const sim = procs.spawnNode('sim', fileURLToPath(new URL('../test/fakes/llamacpp/fake-main.ts', import.meta.url)), ['--port', '0', '--slots', '512', '--first-token-delay-ms', '0', ...(values.pace === undefined ? [] : ['--tokens-per-s', values.pace])]);
const simUrl = await readUrlLine('sim', sim.stdoutLine());

async function start(name: string, tree: string, flags: string): Promise<Arm> {
  const config = gatewayConfig([poolConfig({ id: 'bench', model: 'bench', engineUrl: simUrl, slots: 512, maxQueued: 1024 })], values.audit === 'off' ? AUDIT_OFF : SHIPPED_DEFAULTS);
  const gateway = await startGateway({ procs, tmpDir: tmp }, { name, config, tree, nodeArgs: flags.split(' ').filter(Boolean) });
  return { name, url: gateway.url, child: gateway.child, rates: [], usPer: [], ttft: [] };
}

const arms = [await start('A', values.a ?? '.', values['a-flags']), await start('B', values.b, values['b-flags'])];
if (values.rss) {
  for (const arm of arms) {
    console.log(`${arm.name} idle: VmRSS ${(await idleRssMiB(arm)).toFixed(1)} MiB`);
    await resetPeak(arm.child.pid); // VmHWM from here on is the peak under load
  }
}
const pools = new Map(arms.map((arm) => [arm.name, clientPool(arm.url, CONCURRENCY)]));
const target = (arm: Arm) => ({ name: arm.name, url: arm.url, protocol: orchqueueProtocol, model: 'bench' });
for (let round = 0; round < Number(values.rounds); round++) {
  const order = round % 2 === 0 ? arms : [...arms].reverse();
  for (const arm of order) {
    const plan = { concurrency: CONCURRENCY, warmupMs: 1_000, measureMs: MEASURE_MS, maxStreams: 1_000_000, graceMs: 5_000 };
    const run = streamRunner(pools.get(arm.name)!, target(arm), TOKENS, promptOf);
    const w = await runClosedLoop(plan, run, judgeFull(TOKENS), { meter: cpu, pids: { gw: arm.child.pid } });
    const us = ((w.cpuMs.gw ?? 0) * 1000) / Math.max(1, w.streamsFull);
    arm.rates.push(w.streamsPerS);
    arm.usPer.push(us);
    arm.ttft.push(w.ttftMs.p50);
    const other = Object.keys(w.streamsOther).length > 0 ? ` other ${JSON.stringify(w.streamsOther)}` : '';
    console.log(`round ${round} ${arm.name}: ${w.streamsPerS.toFixed(0)} streams/s, ${us.toFixed(0)} µs CPU/stream, TTFT p50 ${w.ttftMs.p50.toFixed(2)} ms, gap p50 ${w.gapMs.p50.toFixed(1)} p99 ${w.gapMs.p99.toFixed(1)} ms${other}`);
    await sleep(300);
  }
}
for (const arm of arms) console.log(`${arm.name}: median ${median(arm.rates).toFixed(0)} streams/s, ${median(arm.usPer).toFixed(0)} µs/stream, TTFT p50 ${median(arm.ttft).toFixed(2)} ms`);
const [a, b] = arms as [Arm, Arm];
const ratio = (pick: (arm: Arm) => number[]) => {
  const rs = pick(a).map((x, i) => (pick(b)[i] ?? Number.NaN) / x);
  return `${rs.map((r) => r.toFixed(3)).join(' ')}; median ${median(rs).toFixed(3)}`;
};
console.log(`B/A streams/s per round: ${ratio((arm) => arm.rates)}`);
console.log(`B/A CPU per stream per round: ${ratio((arm) => arm.usPer)}`);
console.log(`B/A TTFT p50 per round: ${ratio((arm) => arm.ttft)}`);
if (values.rss) {
  for (const arm of arms) {
    const memory = memoryOf(arm.child.pid);
    console.log(`${arm.name} peak under load: VmHWM ${(memory.peakKiB / 1024).toFixed(1)} MiB, VmRSS now ${(memory.rssKiB / 1024).toFixed(1)} MiB`);
    // Finished tasks kept readable for server.retention_ms: part of the main thread's old space.
    const metrics = await (await request(`${arm.url}/metrics`)).body.text();
    const retained = /^orchqueue_retained_task_bytes (\S+)$/m.exec(metrics)?.[1];
    console.log(`  finished tasks held for retention: ${(Number(retained) / 2 ** 20).toFixed(1)} MiB (estimate)`);
  }
}
await procs.stopAll();
process.exit(0);
