// Scenario "soak" (issue 10): does the gateway hold steady over a long run at half capacity with
// mixed clients — streaming, polling, canceling and disconnecting ones? It samples the gateway
// process's resident memory and open file descriptors (/proc) and its V8 heap (/metrics).
// Resident memory under a tracing GC is a sawtooth: the reserved heap grows until a full
// collection and V8 shrinks it after some collections, not all: a cycle of minutes (170–190 s
// here, with full collections every ~40 s within it).
// A median of a window shorter than that period measures where in the cycle the window fell,
// not a leak; so RSS is flat when the upper envelope (the max) of the last half of the
// post-warm-up samples is within 5% of the first half's, and each half must contain a full
// collection or the verdict is inconclusive (a weak guard: halves of a 10-minute run, 240 s,
// are longer than one cycle, shorter soaks usually are not). A leak raises the envelope and also the heap left
// after each full collection (the "live floor", reported alongside). Descriptors compare the
// max of the first and last quarter (connections come and go between samples).
// 10 minutes by default (for a quiet machine), 30 s with --quick, `--soak-s N` otherwise.
// SOAK_HEAPSNAPSHOT_DIR=dir: the gateway writes a V8 heap snapshot there on each SIGUSR2 (to
// find what grows; a snapshot adds tens of MiB of RSS itself, so not for a measured run).

import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'undici';
import { gatewayConfig, poolConfig } from '../gateway-config.ts';
import { clientPool, promptOf } from '../paths.ts';
import { openFds, rssKiB } from '../processes.ts';
import type { BenchContext, Scenario, TargetCheck } from '../scenario.ts';
import { gatewayLoad, startGateway, startSimulator, waitGatewayIdle } from '../services.ts';
import { median, round } from '../stats.ts';
import { orchqueueProtocol, streamOnce } from '../stream-client.ts';

const SLOTS = 16;
const WORKERS = 6;
const PACE_TOKENS_PER_S = 50;
const STREAM_TOKENS = 48;
/** Disconnecting clients ask for more than they read: the orphan grace ends their tasks. */
const ABANDONED_TOKENS = 200;
const ORPHAN_GRACE_MS = 1_000;
/**
 * Finished tasks are kept this long: with the default 5 minutes the retained tasks (and memory)
 * grow by design for the first 5 minutes; short retention reaches its steady state in warm-up.
 */
const RETENTION_MS = 5_000;
const WARMUP_SHARE = 0.2;
const FLAT_LIMIT = 0.05;
const KINDS = ['stream', 'poll', 'cancel', 'disconnect'] as const;
type Kind = (typeof KINDS)[number];
const TERMINAL_STATES = new Set(['completed', 'canceled', 'failed', 'expired', 'evicted']);

interface Sample {
  atS: number;
  rssKiB: number;
  fds: number;
  busy: number;
  /** V8 heap used and reserved, and external memory (the gateway's own metrics): where RSS goes. */
  heap: { used: number; total: number; external: number };
  /** Full (mark-compact) collections so far, from the gateway's own GC metrics. */
  majorGcs: number;
}

interface Tally {
  runs: Record<Kind, number>;
  /** Outcomes a healthy gateway never gives: no terminal event, no terminal state, 5xx, a refusal at half load. */
  unexpected: Record<string, number>;
}

const json = { 'content-type': 'application/json' };

async function post(pool: Pool, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await pool.request({ method: 'POST', path, headers: json, body: body === undefined ? '' : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

interface HeapFigures {
  heap: Sample['heap'];
  majorGcs: number;
}

/** The V8 heap (used, total) and external memory in MiB, and full collections so far, from the gateway's own /metrics (NaN when absent). */
async function heapFigures(pool: Pool): Promise<HeapFigures> {
  const res = await pool.request({ method: 'GET', path: '/metrics', signal: AbortSignal.timeout(5_000) });
  const lines = (await res.body.text()).split('\n');
  const value = (prefix: string) => {
    const line = lines.find((l) => l.startsWith(prefix));
    return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  const mib = (name: string) => value(`orchqueue_nodejs_${name} `) / 1_048_576;
  return {
    heap: { used: mib('heap_size_used_bytes'), total: mib('heap_size_total_bytes'), external: mib('external_memory_bytes') },
    // The series appears with the first full collection.
    majorGcs: value('orchqueue_nodejs_gc_duration_seconds_count{kind="major"}') || 0,
  };
}

const UNMEASURED: HeapFigures = { heap: { used: Number.NaN, total: Number.NaN, external: Number.NaN }, majorGcs: Number.NaN };

async function stateOf(pool: Pool, id: string): Promise<string> {
  const res = await pool.request({ method: 'GET', path: `/v1/tasks/${id}`, signal: AbortSignal.timeout(10_000) });
  return String(((await res.body.json()) as { state?: unknown }).state);
}

/** Polls the status until the task ended (bounded); the final state. */
async function awaitEnd(pool: Pool, id: string): Promise<string> {
  for (let i = 0; i < 150; i++) {
    const state = await stateOf(pool, id);
    if (TERMINAL_STATES.has(state)) return state;
    await sleep(200);
  }
  return 'never ended';
}

async function runOnce(pool: Pool, kind: Kind, n: number, tally: Tally): Promise<void> {
  const fault = (what: string) => void (tally.unexpected[what] = (tally.unexpected[what] ?? 0) + 1);
  const req = { model: 'soak', prompt: promptOf(n), maxTokens: STREAM_TOKENS };
  if (kind === 'stream') {
    const o = await streamOnce(pool, orchqueueProtocol, req, AbortSignal.timeout(30_000));
    if (o.status !== 200) fault(`stream HTTP ${o.status}`);
    else if (o.terminal === 'none') fault('stream without terminal event');
  } else if (kind === 'disconnect') {
    const ac = new AbortController();
    let seen = 0;
    const o = await streamOnce(pool, orchqueueProtocol, { ...req, maxTokens: ABANDONED_TOKENS }, AbortSignal.any([ac.signal, AbortSignal.timeout(30_000)]), () => {
      if (++seen === 3) ac.abort();
    });
    if (o.status !== 200) fault(`disconnect HTTP ${o.status}`);
  } else {
    const submitted = await post(pool, '/v1/tasks', { model: 'soak', prompt: promptOf(n), max_tokens: STREAM_TOKENS });
    if (submitted.status !== 202) return fault(`${kind} submit HTTP ${submitted.status}`);
    const id = String(submitted.body.task_id);
    if (kind === 'cancel') {
      await sleep(50 + (n % 5) * 50);
      const canceled = await post(pool, `/v1/tasks/${id}/cancel`);
      if (canceled.status !== 200) fault(`cancel HTTP ${canceled.status}`);
    }
    const state = await awaitEnd(pool, id);
    if (state === 'never ended' || state === 'failed') fault(`${kind} ended ${state}`);
  }
  tally.runs[kind]++;
}

/**
 * The first and the last quarter of the samples after warm-up, summarised by `of` (the median,
 * or the max for a noisy count whose leak would show in its upper envelope), and their ratio.
 */
function drift(samples: readonly number[], of: (values: number[]) => number = median): { first: number; last: number; growth: number; max: number } {
  const quarter = Math.max(1, Math.floor(samples.length / 4));
  const first = of(samples.slice(0, quarter));
  const last = of(samples.slice(-quarter));
  return { first, last, growth: last / first - 1, max: Math.max(...samples) };
}

const maxOf = (values: number[]): number => Math.max(...values);
const minOf = (values: number[]): number => Math.min(...values);

/** The first and the last half of the samples after warm-up, each summarised by `of`, and their ratio. */
function halves(samples: readonly number[], of: (values: number[]) => number): { first: number; last: number; growth: number; max: number } {
  const half = Math.max(1, Math.floor(samples.length / 2));
  const first = of(samples.slice(0, half));
  const last = of(samples.slice(-half));
  return { first, last, growth: last / first - 1, max: Math.max(...samples) };
}

/** Full collections that happened within each half of the samples (a half without one saw no full GC cycle). */
function collectionsPerHalf(samples: readonly Sample[]): [number, number] {
  const half = Math.max(1, Math.floor(samples.length / 2));
  const within = (part: readonly Sample[]) => (part.length < 2 ? 0 : (part[part.length - 1] as Sample).majorGcs - (part[0] as Sample).majorGcs);
  return [within(samples.slice(0, half + 1)), within(samples.slice(-half - 1))];
}

/** One decimal, whatever the magnitude (round() keeps 3 significant digits). */
const tenths = (x: number): number => Math.round(x * 10) / 10;
const pct = (x: number) => `${tenths(x * 100)}%`;

export const soakScenario: Scenario = {
  name: 'soak',
  question: 'Do the gateway\'s resident memory and open file descriptors stay flat (within 5%) over a long run at half capacity with mixed clients?',
  async run(ctx: BenchContext) {
    const sim = await startSimulator(ctx.procs, 'sim-soak', { tokensPerS: PACE_TOKENS_PER_S, slots: SLOTS * 2 });
    const config = { ...gatewayConfig([poolConfig({ id: 'soak', model: 'soak', engineUrl: sim.url, slots: SLOTS, maxQueued: 256 })]), server: { orphan_grace_ms: ORPHAN_GRACE_MS, retention_ms: RETENTION_MS } };
    const snapshots = process.env.SOAK_HEAPSNAPSHOT_DIR;
    const env = snapshots ? { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshots}` } : undefined;
    const gateway = await startGateway(ctx, { name: 'gateway-soak', config, ...(env ? { env } : {}) });
    ctx.log(`soak: gateway pid ${gateway.child.pid}`);
    const pid = gateway.child.pid;
    const pool = clientPool(gateway.url, WORKERS * 2);
    const tally: Tally = { runs: { stream: 0, poll: 0, cancel: 0, disconnect: 0 }, unexpected: {} };
    const samples: Sample[] = [];
    const began = performance.now();
    const until = began + ctx.soakMs;
    const sampleEveryMs = Math.max(1_000, Math.round(ctx.soakMs / 150));
    ctx.log(`soak: ${WORKERS} mixed clients for ${ctx.soakMs / 1000} s on ${SLOTS} slots, sampling every ${sampleEveryMs} ms`);
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const { busy } = await gatewayLoad(gateway.url).catch(() => ({ busy: Number.NaN }));
        const { heap, majorGcs } = await heapFigures(pool).catch(() => UNMEASURED);
        samples.push({ atS: (performance.now() - began) / 1000, rssKiB: rssKiB(pid), fds: openFds(pid), busy, heap, majorGcs });
        await sleep(sampleEveryMs);
      }
    })();
    let n = 0;
    const worker = async (w: number) => {
      for (let i = w; performance.now() < until; i++) {
        await runOnce(pool, KINDS[i % KINDS.length] as Kind, n++, tally).catch((err: unknown) => {
          const what = `client error ${err instanceof Error ? err.name : 'unknown'}`;
          tally.unexpected[what] = (tally.unexpected[what] ?? 0) + 1;
        });
      }
    };
    let idle: boolean;
    try {
      await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
      idle = await waitGatewayIdle(gateway.url, 15_000);
    } finally {
      sampling = false;
      await sampler;
      await pool.close();
    }
    const measured = samples.filter((s) => s.atS >= (ctx.soakMs / 1000) * WARMUP_SHARE && s.atS <= ctx.soakMs / 1000);
    // The GC sawtooth's upper envelope over halves that each span a full cycle (see the header).
    const rss = halves(measured.map((s) => s.rssKiB / 1024), maxOf);
    const gcs = collectionsPerHalf(measured);
    const rssMedians = drift(measured.map((s) => s.rssKiB / 1024));
    // What a leak leaves behind: the heap in use at its lowest, right after full collections.
    const liveFloor = halves(measured.map((s) => s.heap.used), minOf);
    // Client and engine connections come and go between samples: compare the upper envelopes.
    const fds = drift(measured.map((s) => s.fds), maxOf);
    const heapUsed = drift(measured.map((s) => s.heap.used));
    const heapTotal = drift(measured.map((s) => s.heap.total));
    const external = drift(measured.map((s) => s.heap.external));
    const busyMean = measured.reduce((a, s) => a + s.busy, 0) / Math.max(1, measured.length);
    const check = (name: string, d: typeof rss, fullCycles = true): TargetCheck => ({
      issue: '#10',
      name,
      target: `grows ≤ ${pct(FLAT_LIMIT)}`,
      actual: `${pct(d.growth)} (${tenths(d.first)} → ${tenths(d.last)})${fullCycles ? '' : `; full collections per half: ${gcs.join(', ')}`}`,
      // Growth is what a leak looks like; a fall (fewer connections at the end) is not one.
      verdict: !Number.isFinite(d.growth) ? 'not measured' : !fullCycles ? 'inconclusive' : d.growth <= FLAT_LIMIT ? 'met' : 'missed',
    });
    const rssJudged = gcs.every((n) => n >= 1);
    const unexpected = Object.values(tally.unexpected).reduce((a, b) => a + b, 0);
    return {
      status: 'ok',
      tables: [
        {
          title: 'Load',
          columns: ['seconds', 'clients', 'stream', 'poll', 'cancel', 'disconnect', 'unexpected outcomes', 'busy slots (mean / capacity)', 'idle after the run'],
          rows: [[round(ctx.soakMs / 1000), WORKERS, tally.runs.stream, tally.runs.poll, tally.runs.cancel, tally.runs.disconnect, unexpected ? JSON.stringify(tally.unexpected) : 0, `${tenths(busyMean)} / ${SLOTS}`, idle ? 'yes' : 'NO']],
        },
        {
          title: `Gateway process after warm-up (first ${pct(WARMUP_SHARE)} of the run left out): first vs last half (or quarter) of the samples`,
          columns: ['figure', 'first', 'last', 'change', 'max', 'samples'],
          rows: [
            ['RSS MiB, max of each half (target)', tenths(rss.first), tenths(rss.last), pct(rss.growth), tenths(rss.max), measured.length],
            ['full collections in each half', gcs[0], gcs[1], '', '', measured.length],
            ['V8 heap used MiB, min of each half: the live floor (not a target)', tenths(liveFloor.first), tenths(liveFloor.last), pct(liveFloor.growth), tenths(liveFloor.max), measured.length],
            ['open file descriptors, max of each quarter (target)', fds.first, fds.last, pct(fds.growth), fds.max, measured.length],
            ...([['RSS MiB, median of each quarter', rssMedians], ['V8 heap used MiB, median of each quarter', heapUsed], ['V8 heap total MiB, median of each quarter', heapTotal], ['external MiB, median of each quarter', external]] as const).map(([name, d]) => [`${name} (not a target)`, tenths(d.first), tenths(d.last), pct(d.growth), tenths(d.max), measured.length]),
          ],
        },
      ],
      targets: [check('gateway RSS flat over the soak (max of each half)', rss, rssJudged), check('gateway open file descriptors flat over the soak', fds)],
      notes: [
        `One gateway (pool of ${SLOTS} slots on a simulator paced at ${PACE_TOKENS_PER_S} tokens/s, \`server.orphan_grace_ms: ${ORPHAN_GRACE_MS}\`, \`server.retention_ms: ${RETENTION_MS}\` so the retained finished tasks reach their steady number within the warm-up, other settings at their defaults) and ${WORKERS} closed-loop clients cycling through four kinds: a stream read to its end (${STREAM_TOKENS} tokens), a \`202\` then status polls until the task ends, a \`202\` then a cancel 50–250 ms later, and a stream abandoned after 3 of ${ABANDONED_TOKENS} tokens (the orphan grace ends it).`,
        'RSS and open descriptors are read from /proc of the gateway process; client connections are descriptors too, so the fd count moves with the connections in use at the sampling moment.',
        'RSS follows the V8 heap V8 reserves (RSS ≈ reserved heap + a steady ~70–90 MiB of code, native and external memory), and the reserved heap is a sawtooth of minutes: it grows with the garbage between full collections and V8 shrinks it after some of them, not all. A median of a quarter therefore measures the phase of that cycle (the medians are still shown); the target compares the cycle\'s upper envelope over halves that each contain a full collection, and the heap left after collections (the live floor) shows whether anything is retained.',
        ctx.soakMs < 300_000 ? 'A short soak: the heap may still be growing into its steady size, so a missed verdict here is a reason to run the full 10 minutes, not a leak by itself.' : 'The full 10-minute soak is meant for a quiet machine: other work on the cores changes how much the gateway allocates between collections.',
      ],
      data: { soakMs: ctx.soakMs, runs: tally.runs, unexpected: tally.unexpected, idle, rss, fullCollectionsPerHalf: gcs, rssMedians, liveFloor, fds, heapUsed, heapTotal, external, busyMean, samples },
    };
  },
};
