// Scenario "backpressure": how fast does the gateway refuse work when a pool's queue is full
// (policy reject → 429), and do the streams already running keep flowing meanwhile? Slots and
// queue are filled by paced background streams, then a burst of submitters hammers the pool.

import { on } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { gatewayConfig, poolConfig } from '../gateway-config.ts';
import { clientPool, judgeFull, promptOf } from '../paths.ts';
import type { BurstMessage, BurstOptions, BurstTally } from '../refusal-burst.ts';
import { verdictOf, type BenchContext, type Scenario } from '../scenario.ts';
import { readUrlLine } from '../processes.ts';
import { gatewayLoad, startGateway, startSimulator } from '../services.ts';
import { round, SampleSet } from '../stats.ts';
import { isFull, orchqueueProtocol, streamOnce, type StreamOutcome } from '../stream-client.ts';
import { checkOf } from '../targets.ts';

const SLOTS = 16;
const MAX_QUEUED = 8;
const PACE_TOKENS_PER_S = 40;
/** Long enough that the running streams outlast the warm-up burst, the calm period and the measured burst. */
const BACKGROUND_TOKENS = 320;
/** A fill stream refused while the queue was still filling tries again after this. */
const FILL_RETRY_MS = 50;
const SUBMITTERS = 32;
/** Keep-alive connections of the load generator; SUBMITTERS / CONNECTIONS requests are pipelined on each. */
const CONNECTIONS = 8;
const PIPELINING = SUBMITTERS / CONNECTIONS;
const BURST_MS = 1_500;
/**
 * A first burst, not judged, warms both servers' code (V8 optimises the refusal path over its
 * first thousands of answers; a cold burst measured mostly compilation): reported beside.
 */
const WARMUP_MS = 1_500;
const SETTLE_MS = 500;
const FLOOR = fileURLToPath(new URL('../refusal-floor.ts', import.meta.url));

/** Runs the burst in a worker thread (bench/refusal-burst.ts) and resolves with its tally; `onStart` fires as it begins. */
async function burst(opts: BurstOptions, onStart: () => void): Promise<BurstTally> {
  const worker = new Worker(new URL('../refusal-burst.ts', import.meta.url), { workerData: opts });
  try {
    const messages = on(worker, 'message');
    for await (const [message] of messages as AsyncIterable<[BurstMessage]>) {
      if (message.kind === 'ready') {
        onStart();
        worker.postMessage('start');
      } else return message.tally;
    }
    throw new Error('the burst worker ended without a tally');
  } finally {
    await worker.terminate();
  }
}

/** Waits (bounded) until at least `busy` slots run and `queued` tasks wait. */
async function waitLoad(url: string, busy: number, queued: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const load = await gatewayLoad(url);
    if (load.busy >= busy && load.queued >= queued) return true;
    await sleep(20);
  }
  return false;
}

/** The same burst against a bare node:http server answering every request with a 429 (bench/refusal-floor.ts). */
async function floorBurst(ctx: BenchContext): Promise<{ answersPerS: number; usPerAnswer: number }> {
  const { child, stdoutLine } = ctx.procs.spawnNode('refusal-floor', FLOOR, ['--port', '0']);
  try {
    const url = await readUrlLine('refusal-floor', stdoutLine());
    await burst({ url, submitters: SUBMITTERS, connections: CONNECTIONS, pipelining: PIPELINING, durationMs: WARMUP_MS }, () => {});
    let cpuStart = 0;
    const tally = await burst({ url, submitters: SUBMITTERS, connections: CONNECTIONS, pipelining: PIPELINING, durationMs: BURST_MS }, () => (cpuStart = ctx.cpu.cpuMs(child.pid)));
    const cpuMs = ctx.cpu.cpuMs(child.pid) - cpuStart;
    const answers = Object.values(tally.statuses).reduce((a, b) => a + b, 0);
    return { answersPerS: answers / (tally.elapsedMs / 1000), usPerAnswer: (cpuMs * 1000) / Math.max(1, answers) };
  } finally {
    await child.stop();
  }
}

export const backpressureScenario: Scenario = {
  name: 'backpressure',
  question: 'How many 429 answers per second does a full queue give, while the streams already admitted keep flowing?',
  async run(ctx: BenchContext) {
    const floor = await floorBurst(ctx);
    const sim = await startSimulator(ctx.procs, 'sim-paced', { tokensPerS: PACE_TOKENS_PER_S, slots: 64 });
    const pool = poolConfig({ id: 'bench', model: 'bench', engineUrl: sim.url, slots: SLOTS, maxQueued: MAX_QUEUED, policy: 'reject' });
    const gateway = await startGateway(ctx, { name: 'gateway-backpressure', config: gatewayConfig([pool]) });
    const gatewayCpuMs = () => ctx.cpu.cpuMs(gateway.child.pid);
    const streams = clientPool(gateway.url, SLOTS + MAX_QUEUED);
    const before = new SampleSet();
    const during = new SampleSet();
    let burstStart = Number.POSITIVE_INFINITY;
    // Token gaps count as "before" only once the warm-up burst is over.
    let warmEnd = Number.POSITIVE_INFINITY;
    let warmup: BurstTally | undefined;
    let burstEnd = Number.POSITIVE_INFINITY;
    let tally: BurstTally;
    let background: StreamOutcome[];
    let filled: boolean;
    const cpu = { settleStart: 0, settleMs: 0, burstStart: 0, burstEnd: 0 };
    let fillRefusals = 0;
    try {
      const once = (i: number) => {
        let last = -1;
        return streamOnce(streams, orchqueueProtocol, { model: 'bench', prompt: promptOf(i), maxTokens: BACKGROUND_TOKENS }, AbortSignal.timeout(60_000), (now) => {
          if (last >= 0) (now >= burstStart && now < burstEnd ? during : now >= warmEnd && now < burstStart ? before : undefined)?.add(now - last);
          last = now;
        });
      };
      // Submitted at once, the fill can itself meet a full queue (seen with audit on, on a busy
      // machine). A refused fill stream tries again until the burst begins; after that a refusal
      // counts against it.
      const fillDeadline = performance.now() + 10_000;
      const fill = async (i: number): Promise<StreamOutcome> => {
        for (;;) {
          const o = await once(i);
          if (o.status !== 429 || performance.now() >= burstStart || performance.now() > fillDeadline) return o;
          fillRefusals++;
          await sleep(FILL_RETRY_MS);
        }
      };
      const runs = Array.from({ length: SLOTS + MAX_QUEUED }, (_, i) => fill(i));
      filled = await waitLoad(gateway.url, SLOTS, MAX_QUEUED, 10_000);
      warmup = await burst({ url: gateway.url, submitters: SUBMITTERS, connections: CONNECTIONS, pipelining: PIPELINING, durationMs: WARMUP_MS }, () => {});
      warmEnd = performance.now();
      // Let the running streams settle into their pace before the burst, so "before" has samples;
      // the gateway's CPU meanwhile is the background streams' share, taken out of the per-answer figure.
      const settleStart = performance.now();
      cpu.settleStart = gatewayCpuMs();
      await sleep(SETTLE_MS);
      ctx.log(`backpressure: ${SUBMITTERS} submitters (${CONNECTIONS} connections × pipelining ${PIPELINING}) for ${BURST_MS} ms against a full queue (${SLOTS} running, ${MAX_QUEUED} queued)`);
      tally = await burst({ url: gateway.url, submitters: SUBMITTERS, connections: CONNECTIONS, pipelining: PIPELINING, durationMs: BURST_MS }, () => {
        burstStart = performance.now();
        cpu.burstStart = gatewayCpuMs();
        cpu.settleMs = burstStart - settleStart;
      });
      burstEnd = performance.now();
      cpu.burstEnd = gatewayCpuMs();
      background = await Promise.all(runs);
    } finally {
      await streams.close();
    }
    const burstS = (burstEnd - burstStart) / 1000;
    const total = Object.values(tally.statuses).reduce((a, b) => a + b, 0);
    const n429 = tally.statuses['429'] ?? 0;
    const complete = background.filter((o) => isFull(o, BACKGROUND_TOKENS)).length;
    const lat = tally.latencyMs;
    const why = judgeFull(BACKGROUND_TOKENS);
    const incomplete: Record<string, number> = {};
    for (const o of background) {
      const reason = why(o);
      if (reason !== undefined) incomplete[reason] = (incomplete[reason] ?? 0) + 1;
    }
    const b = before.summary();
    const d = during.summary();
    const nominal = 1000 / PACE_TOKENS_PER_S;
    const backgroundCpuMs = ((cpu.burstStart - cpu.settleStart) / cpu.settleMs) * (burstEnd - burstStart);
    const gatewayUsPerAnswer = (Math.max(0, cpu.burstEnd - cpu.burstStart - backgroundCpuMs) * 1000) / Math.max(1, total);
    const clientUsPerAnswer = (tally.clientCpuMs * 1000) / Math.max(1, total);
    const gatewayCoreShare = (cpu.burstEnd - cpu.burstStart) / (burstEnd - burstStart);
    const rejectsPerS = n429 / burstS;
    const warmupRejectsPerS = (warmup?.statuses['429'] ?? 0) / ((warmup?.elapsedMs ?? 1) / 1000);
    const gapRatio = d.p99 / b.p99;
    const notes = [
      `Gateway pool: ${SLOTS} slots, max_queued ${MAX_QUEUED}, policy reject; simulator paced at ${PACE_TOKENS_PER_S} tokens/s per stream (nominal gap ${nominal} ms). ${SLOTS + MAX_QUEUED} background streams of ${BACKGROUND_TOKENS} tokens fill the slots and the queue${filled ? '' : ' (the queue was NOT seen full before the burst)'}; then ${SUBMITTERS} requests in flight (${CONNECTIONS} keep-alive connections, ${PIPELINING} pipelined per connection) send \`POST /v1/tasks\` (JSON, no stream) for ${BURST_MS} ms.`,
      'Gateway configuration: the shipped defaults (audit on the embedded PGlite, metrics on) except log level warn, so the figures include the rejection row each refusal gives the audit writer but not an info log line.',
      'The load generator runs in a worker thread of the bench process (bench/refusal-burst.ts), so the token gaps of the background streams, timed on the main thread, do not include the generator\'s own event-loop delay. Client, gateway and simulator still share the 2 cores.',
      `Gateway CPU per answer: the gateway's CPU during the burst (from /proc, 10 ms ticks) less the background streams' rate measured over the ${SETTLE_MS} ms before it, divided by the answers. The gateway used ${round(gatewayCoreShare)} of a core during the burst.`,
      `Both the gateway and the floor first take one ${WARMUP_MS} ms burst that is not judged (the gateway with its queue already full, so the warm-up runs the refusal path): V8 optimises that path over its first thousands of answers, and a cold burst measures mostly compilation. The gateway's warm-up burst gave ${round(warmupRejectsPerS)} 429/s; the token gaps "before" are taken after it.`,
      `The floor (bench/refusal-floor.ts) reads each body and writes a 429 of the same size with the same backoff headers: no routing, validation or admission. It runs alone before the gateway starts, with the same generator, so "× floor" is what the gateway adds per refusal over any Node server, within this run.`,
      'The queued background streams start only after the running ones end, so they also show that queued work survives the burst.',
      `While the ${SLOTS + MAX_QUEUED} background streams were submitted at once, ${fillRefusals} of their submissions were refused with the queue full and tried again ${FILL_RETRY_MS} ms later.`,
    ];
    return {
      status: 'ok',
      tables: [
        {
          title: '429 answers against a full queue',
          columns: ['in flight', 'burst s', 'answers', '429', '429/s', 'warm-up burst 429/s', 'other statuses', '429 latency p50 ms', 'p99 ms', '429 with ADMISSION_REJECT body', '429 with Retry-After + X-Backoff-Ms', 'gateway CPU µs per answer', 'client CPU µs per answer'],
          rows: [[SUBMITTERS, round(burstS), total, n429, round(rejectsPerS), round(warmupRejectsPerS), JSON.stringify({ ...Object.fromEntries(Object.entries(tally.statuses).filter(([k]) => k !== '429')), ...(tally.errors > 0 ? { errors: tally.errors } : {}) }), round(lat.p50), round(lat.p99), tally.rejected, tally.withHints, round(gatewayUsPerAnswer), round(clientUsPerAnswer)]],
        },
        {
          title: 'The floor: the same burst against a bare node:http server answering 429',
          columns: ['answers/s', 'CPU µs per answer', 'gateway CPU per answer × floor'],
          rows: [[round(floor.answersPerS), round(floor.usPerAnswer), round(gatewayUsPerAnswer / floor.usPerAnswer)]],
        },
        {
          title: 'Background streams during the burst',
          columns: ['streams', `complete with ${BACKGROUND_TOKENS} tokens`, 'the others', 'gap p50 ms before / during', 'gap p99 ms before / during', 'gap max ms before / during', 'p99 ratio during/before'],
          rows: [[background.length, complete, Object.keys(incomplete).length ? JSON.stringify(incomplete) : 'none', `${round(b.p50)} / ${round(d.p50)}`, `${round(b.p99)} / ${round(d.p99)}`, `${round(b.max)} / ${round(d.max)}`, round(gapRatio)]],
        },
      ],
      targets: [
        checkOf('backpressure.rate', `${round(rejectsPerS)}/s (${n429} in ${round(burstS)} s)`, verdictOf([rejectsPerS], (r) => r >= 10_000)),
        checkOf('backpressure.gaps', `${round(gapRatio)}× (${round(b.p99)} → ${round(d.p99)} ms)`, verdictOf([gapRatio], (x) => x <= 1.5)),
        checkOf('backpressure.complete', `${complete}/${background.length}`, complete === background.length ? 'met' : 'missed'),
      ],
      notes,
      data: { floor, warmupRejectsPerS, statuses: tally.statuses, errors: tally.errors, burstS, rejectsPerS, latencyMs: lat, gatewayUsPerAnswer, clientUsPerAnswer, gatewayCoreShare, gapBeforeMs: b, gapDuringMs: d, gapP99Ratio: gapRatio, backgroundComplete: complete, backgroundIncomplete: incomplete, backgroundTotal: background.length, queueSeenFull: filled, fillRefusals },
    };
  },
};
