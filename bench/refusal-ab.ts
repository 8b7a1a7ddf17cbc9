// Paired A/B of the 429 path: two gateway source trees (A and B, each a checkout with its own
// src/main.ts) run side by side against one paced simulator, each with a full queue held by
// background streams; bursts of the backpressure scenario's load (bench/refusal-burst.ts) go
// to A and B in alternation, so machine noise falls on both arms alike. Prints per-round and
// median refusals/s, gateway CPU µs per refusal and the background streams' token-gap p99
// during each arm's bursts over their calm gaps. One uncounted burst per arm warms both up first.
//   node bench/refusal-ab.ts --a /path/to/baseline --b . [--rounds 6] [--pace 40] [--burst-ms 1500] [--profile-dir DIR]

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { on } from 'node:events';
import { fileURLToPath } from 'node:url';
import { gatewayConfig, poolConfig } from './gateway-config.ts';
import { clientPool, promptOf } from './paths.ts';
import type { BurstMessage, BurstOptions, BurstTally } from './refusal-burst.ts';
import { CpuMeter, ProcessGroup, readUrlLine } from './processes.ts';
import { gatewayLoad, startGateway } from './services.ts';
import { SampleSet, median } from './stats.ts';
import { orchqueueProtocol, streamOnce } from './stream-client.ts';

const { values } = parseArgs({
  options: {
    a: { type: 'string' }, b: { type: 'string', default: '.' }, rounds: { type: 'string', default: '6' },
    'burst-ms': { type: 'string', default: '1500' }, 'profile-dir': { type: 'string' },
    // Tokens/s of the background streams: 40 as in the backpressure scenario; a low pace leaves
    // almost only the refusals' CPU in the per-refusal figure (no gap figure worth reading then).
    pace: { type: 'string', default: '40' },
  },
});
const SLOTS = 16;
const MAX_QUEUED = 8;
const PACE = Number(values.pace);
/** Enough tokens that the background streams outlast every round (100 s at 40 tokens/s), within the gateway's max_tokens. */
const TOKENS = 4_000;
const BURST_MS = Number(values['burst-ms']);
const CALM_MS = 700;

interface Arm {
  name: string;
  url: string;
  pid: number;
  phase: 'calm' | 'burst' | 'idle';
  calm: SampleSet;
  burst: SampleSet;
  rates: number[];
  usPer: number[];
}

const procs = new ProcessGroup();
if (values['profile-dir'] !== undefined) procs.profileInto(resolve(values['profile-dir']), 'ab');
const cpu = new CpuMeter();
const tmp = await mkdtemp(join(tmpdir(), 'refusal-ab-'));
const sim = procs.spawnNode('sim', fileURLToPath(new URL('../test/fakes/llamacpp/fake-main.ts', import.meta.url)), ['--port', '0', '--tokens-per-s', String(PACE), '--slots', '64', '--first-token-delay-ms', '0']);
const simUrl = await readUrlLine('sim', sim.stdoutLine());

async function start(name: string, tree: string): Promise<Arm> {
  const config = gatewayConfig([poolConfig({ id: 'bench', model: 'bench', engineUrl: simUrl, slots: SLOTS, maxQueued: MAX_QUEUED, policy: 'reject' })]);
  const gateway = await startGateway({ procs, tmpDir: tmp }, { name, config, tree });
  return { name, url: gateway.url, pid: gateway.child.pid, phase: 'idle', calm: new SampleSet(), burst: new SampleSet(), rates: [], usPer: [] };
}

function fill(arm: Arm): void {
  const pool = clientPool(arm.url, SLOTS + MAX_QUEUED);
  for (let i = 0; i < SLOTS + MAX_QUEUED; i++) {
    let last = -1;
    void streamOnce(pool, orchqueueProtocol, { model: 'bench', prompt: promptOf(i), maxTokens: TOKENS }, AbortSignal.timeout(600_000), (now) => {
      if (last >= 0 && arm.phase !== 'idle') arm[arm.phase].add(now - last);
      last = now;
    });
  }
}

/** The burst in a worker thread, so the main thread's token timestamps are not held up by the generator. */
async function runBurst(opts: BurstOptions): Promise<BurstTally> {
  const worker = new Worker(new URL('./refusal-burst.ts', import.meta.url), { workerData: opts });
  try {
    for await (const [message] of on(worker, 'message') as AsyncIterable<[BurstMessage]>) {
      if (message.kind === 'ready') worker.postMessage('start');
      else return message.tally;
    }
    throw new Error('the burst worker ended without a tally');
  } finally {
    await worker.terminate();
  }
}

const burstAt = (arm: Arm): BurstOptions => ({ url: arm.url, submitters: 32, connections: 8, pipelining: 4, durationMs: BURST_MS });

const arms = [await start('A', values.a ?? '.'), await start('B', values.b)];
for (const arm of arms) fill(arm);
for (const arm of arms) {
  for (let i = 0; i < 200; i++) {
    const load = await gatewayLoad(arm.url);
    if (load.busy >= SLOTS && load.queued >= MAX_QUEUED) break;
    await sleep(50);
  }
}
await sleep(1_000);
// Warm-up: one uncounted burst per arm, so the first counted round does not pay for the JIT and
// each path's first use (without it, round 0 of an A/A run read 67 refusals/s at 2,000 µs each).
for (const arm of arms) await runBurst(burstAt(arm));
for (let round = 0; round < Number(values.rounds); round++) {
  const order = round % 2 === 0 ? arms : [...arms].reverse();
  for (const arm of order) {
    arm.phase = 'calm';
    await sleep(CALM_MS);
    arm.phase = 'burst';
    const cpuStart = cpu.cpuMs(arm.pid);
    const tally = await runBurst(burstAt(arm));
    const cpuMs = cpu.cpuMs(arm.pid) - cpuStart;
    arm.phase = 'idle';
    const n429 = tally.statuses['429'] ?? 0;
    arm.rates.push(n429 / (tally.elapsedMs / 1000));
    arm.usPer.push((cpuMs * 1000) / Math.max(1, n429));
    console.log(`round ${round} ${arm.name}: ${Math.round(n429 / (tally.elapsedMs / 1000))} 429/s, ${Math.round((cpuMs * 1000) / Math.max(1, n429))} µs CPU each (incl. streams), statuses ${JSON.stringify(tally.statuses)} errors ${tally.errors}`);
  }
}
for (const arm of arms) {
  const c = arm.calm.summary();
  const b = arm.burst.summary();
  console.log(`${arm.name}: median ${Math.round(median(arm.rates))} 429/s, ${Math.round(median(arm.usPer))} µs/refusal; gap p99 calm ${c.p99.toFixed(1)} burst ${b.p99.toFixed(1)} ms (${(b.p99 / c.p99).toFixed(2)}x)`);
}
const [a, b] = arms as [Arm, Arm];
const ratios = a.rates.map((r, i) => (b.rates[i] ?? Number.NaN) / r);
console.log(`B/A refusals/s per round: ${ratios.map((r) => r.toFixed(2)).join(' ')}; median ${median(ratios).toFixed(2)}`);
const cpuRatios = a.usPer.map((u, i) => (b.usPer[i] ?? Number.NaN) / u);
console.log(`B/A gateway CPU per refusal per round: ${cpuRatios.map((r) => r.toFixed(2)).join(' ')}; median ${median(cpuRatios).toFixed(2)}`);
await procs.stopAll();
process.exit(0);
