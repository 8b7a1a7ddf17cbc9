// Scenario "backpressure": how fast does the gateway refuse work when a pool's queue is full
// (policy reject → 429), and do the streams already running keep flowing meanwhile? Slots and
// queue are filled by paced background streams, then a burst of submitters hammers the pool.

import { setTimeout as sleep } from 'node:timers/promises';
import { gatewayConfig, poolConfig } from '../gateway-config.ts';
import { clientPool, judgeFull, promptOf } from '../paths.ts';
import { verdictOf, type BenchContext, type Scenario } from '../scenario.ts';
import { gatewayLoad, startGateway, startSimulator } from '../services.ts';
import { round, SampleSet } from '../stats.ts';
import { isFull, orchqueueProtocol, streamOnce, type StreamOutcome } from '../stream-client.ts';
import { checkOf } from '../targets.ts';

const SLOTS = 16;
const MAX_QUEUED = 8;
const PACE_TOKENS_PER_S = 40;
/** Long enough that the running streams outlast the calm period and the burst. */
const BACKGROUND_TOKENS = 200;
/** A fill stream refused while the queue was still filling tries again after this. */
const FILL_RETRY_MS = 50;
/** Token gaps of the running streams before the burst: the baseline of the gap target. */
const CALM_MS = 1_000;
const SUBMITTERS = 32;
const BURST_MS = 1_500;

interface BurstTally {
  statuses: Record<string, number>;
  rejected: number;
  withHints: number;
  latencyMs: SampleSet;
}

async function burst(url: string, until: number): Promise<BurstTally> {
  const pool = clientPool(url, SUBMITTERS);
  const tally: BurstTally = { statuses: {}, rejected: 0, withHints: 0, latencyMs: new SampleSet() };
  const body = JSON.stringify({ model: 'bench', prompt: 'burst', max_tokens: 8 });
  let sent = 0;
  const worker = async () => {
    while (performance.now() < until && sent < 500_000) {
      sent++;
      const t = performance.now();
      const res = await pool.request({ method: 'POST', path: '/v1/tasks', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(5_000) });
      const text = await res.body.text();
      const key = `${res.statusCode}`;
      tally.statuses[key] = (tally.statuses[key] ?? 0) + 1;
      if (res.statusCode !== 429) continue;
      tally.latencyMs.add(performance.now() - t);
      if (text.includes('"ADMISSION_REJECT"')) tally.rejected++;
      if (res.headers['retry-after'] !== undefined && res.headers['x-backoff-ms'] !== undefined) tally.withHints++;
    }
  };
  try {
    await Promise.all(Array.from({ length: SUBMITTERS }, worker));
  } finally {
    await pool.close();
  }
  return tally;
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

export const backpressureScenario: Scenario = {
  name: 'backpressure',
  question: 'How many 429 answers per second does a full queue give, while the streams already admitted keep flowing?',
  async run(ctx: BenchContext) {
    const sim = await startSimulator(ctx.procs, 'sim-paced', { tokensPerS: PACE_TOKENS_PER_S, slots: 64 });
    const pool = poolConfig({ id: 'bench', model: 'bench', engineUrl: sim.url, slots: SLOTS, maxQueued: MAX_QUEUED, policy: 'reject' });
    const gateway = await startGateway(ctx, { name: 'gateway-backpressure', config: gatewayConfig([pool]) });
    const streams = clientPool(gateway.url, SLOTS + MAX_QUEUED);
    const before = new SampleSet();
    const during = new SampleSet();
    let burstStart = Number.POSITIVE_INFINITY;
    let burstEnd = Number.POSITIVE_INFINITY;
    let tally: BurstTally;
    let background: StreamOutcome[];
    let filled: boolean;
    let fillRefusals = 0;
    try {
      const once = (i: number) => {
        let last = -1;
        return streamOnce(streams, orchqueueProtocol, { model: 'bench', prompt: promptOf(i), maxTokens: BACKGROUND_TOKENS }, AbortSignal.timeout(60_000), (now) => {
          if (last >= 0) (now >= burstStart && now < burstEnd ? during : now < burstStart ? before : undefined)?.add(now - last);
          last = now;
        });
      };
      // Submitted at once, the fill can itself meet a full queue (seen with audit on, on a busy
      // machine: 2–16 of 24 refused). A refused fill stream tries again until the burst begins;
      // after that a refusal counts against it.
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
      // Let the running streams settle into their pace before the burst, so "before" has samples.
      await sleep(CALM_MS);
      burstStart = performance.now();
      ctx.log(`backpressure: ${SUBMITTERS} submitters for ${BURST_MS} ms against a full queue (${SLOTS} running, ${MAX_QUEUED} queued)`);
      tally = await burst(gateway.url, burstStart + BURST_MS);
      burstEnd = performance.now();
      background = await Promise.all(runs);
    } finally {
      await streams.close();
    }
    const burstS = (burstEnd - burstStart) / 1000;
    const total = Object.values(tally.statuses).reduce((a, b) => a + b, 0);
    const n429 = tally.statuses['429'] ?? 0;
    const complete = background.filter((o) => isFull(o, BACKGROUND_TOKENS)).length;
    const why = judgeFull(BACKGROUND_TOKENS);
    const incomplete: Record<string, number> = {};
    for (const o of background) {
      const reason = why(o);
      if (reason !== undefined) incomplete[reason] = (incomplete[reason] ?? 0) + 1;
    }
    const lat = tally.latencyMs.summary();
    const b = before.summary();
    const d = during.summary();
    const nominal = 1000 / PACE_TOKENS_PER_S;
    const notes = [
      `The gateway runs the shipped defaults (audit on the embedded PGlite). Gateway pool: ${SLOTS} slots, max_queued ${MAX_QUEUED}, policy reject; simulator paced at ${PACE_TOKENS_PER_S} tokens/s per stream (nominal gap ${nominal} ms). ${SLOTS + MAX_QUEUED} background streams of ${BACKGROUND_TOKENS} tokens fill the slots and the queue${filled ? '' : ' (the queue was NOT seen full before the burst)'}; after ${CALM_MS} ms of calm (the "before" gaps), ${SUBMITTERS} concurrent submitters send \`POST /v1/tasks\` (JSON, no stream) for ${BURST_MS} ms.`,
      'The queued background streams start only after the running ones end, so they also show that queued work survives the burst.',
      `While the ${SLOTS + MAX_QUEUED} background streams were submitted at once, ${fillRefusals} of their submissions were refused with the queue full and tried again ${FILL_RETRY_MS} ms later.`,
    ];
    return {
      status: 'ok',
      tables: [
        {
          title: '429 answers against a full queue',
          columns: ['submitters', 'burst s', 'answers', '429', '429/s', 'other statuses', '429 latency p50 ms', 'p99 ms', '429 with ADMISSION_REJECT body', '429 with Retry-After + X-Backoff-Ms'],
          rows: [[SUBMITTERS, round(burstS), total, n429, round(n429 / burstS), JSON.stringify(Object.fromEntries(Object.entries(tally.statuses).filter(([k]) => k !== '429'))), round(lat.p50), round(lat.p99), tally.rejected, tally.withHints]],
        },
        {
          title: 'Background streams during the burst',
          columns: ['streams', `complete with ${BACKGROUND_TOKENS} tokens`, 'the others', 'gap p50 ms before / during', 'gap p99 ms before / during', 'gap max ms before / during', 'p99 ratio during/before'],
          rows: [[background.length, complete, Object.keys(incomplete).length ? JSON.stringify(incomplete) : 'none', `${round(b.p50)} / ${round(d.p50)}`, `${round(b.p99)} / ${round(d.p99)}`, `${round(b.max)} / ${round(d.max)}`, round(d.p99 / b.p99)]],
        },
      ],
      targets: [
        checkOf('backpressure.rate', `${round(n429 / burstS)}/s (${n429} in ${round(burstS)} s)`, verdictOf([n429 / burstS], (r) => r >= 10_000)),
        checkOf('backpressure.gaps', `${round(d.p99 / b.p99)}× (${round(b.p99)} → ${round(d.p99)} ms)`, verdictOf([d.p99 / b.p99], (x) => x <= 1.5)),
        checkOf('backpressure.complete', `${complete}/${background.length}`, complete === background.length ? 'met' : 'missed'),
      ],
      notes,
      data: { statuses: tally.statuses, burstS, rejectsPerS: n429 / burstS, latencyMs: lat, gapBeforeMs: b, gapDuringMs: d, backgroundComplete: complete, backgroundIncomplete: incomplete, backgroundTotal: background.length, queueSeenFull: filled, fillRefusals },
    };
  },
};
