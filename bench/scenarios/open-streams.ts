// Scenario "open-streams" (issue 14): what does one open SSE stream cost the gateway in resident
// memory? It opens 10,000 concurrent `POST /v1/tasks` streams against a slow engine (the
// llama.cpp fake with 8,192 slots, one token every 5 s): 8,192 tasks run with their engine call
// open and the rest wait in the queue, each with its stream open. It compares the gateway's RSS
// before and once all are open. Shipped defaults,
// audit on PGlite included; clients come from 10 loopback addresses so the per-address limit
// (max_connections_per_client, 1024) holds as shipped.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { gatewayConfig, poolConfig } from '../gateway-config.ts';
import { promptOf } from '../paths.ts';
import { rssKiB } from '../processes.ts';
import type { BenchContext, Scenario, TargetCheck } from '../scenario.ts';
import { startGateway, startSimulator, waitGatewayIdle } from '../services.ts';
import { median, round } from '../stats.ts';
import { SseParser } from '../../src/transport/sse-parser.ts';

const STREAMS = 10_000;
/**
 * Engine slots: a running stream holds two sockets in the gateway (client and engine), a queued
 * one only its client's. 10,000 running streams need ~20,500 descriptors, more than a 20,000 hard
 * limit (this machine's) allows, so the rest of the streams wait in the queue.
 */
const ENGINE_SLOTS = 8_192;
const CLIENT_ADDRESSES = 10;
const TOKENS_PER_S = 0.2;
const MAX_TOKENS = 600;
/** Streams started together; the next wave starts once these are open (or failed). */
const WAVE = 500;
const WARMUP_STREAMS = 200;
const TARGET_KIB = 32;
/** Descriptors beyond the sockets: listeners, the audit's files, stdio, the event loop. */
const FD_HEADROOM = 512;

interface OpenStream {
  opened: Promise<void>;
  tokens: number;
  /** Why it failed: an HTTP status, an SSE error event, a transport error or an early end. */
  failure: string | undefined;
}

/** Soft and hard RLIMIT_NOFILE of a process, from /proc/<pid>/limits. */
function fdLimits(pid: number): { soft: number; hard: number } {
  const line = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'));
  const value = (raw: string | undefined): number => (raw === undefined ? 0 : raw === 'unlimited' ? Number.POSITIVE_INFINITY : Number(raw));
  return { soft: value(line?.[1]), hard: value(line?.[2]) };
}

/** Raises a process's descriptor limit to `need` (prlimit; the hard limit only as root); returns the problem when it cannot. */
function ensureFds(name: string, pid: number, need: number): string | undefined {
  const { soft, hard } = fdLimits(pid);
  if (soft >= need) return undefined;
  try {
    execFileSync('prlimit', ['--pid', String(pid), `--nofile=${need}:${Math.max(need, hard)}`], { stdio: 'ignore' });
  } catch {
    return `${name} may open ${soft} descriptors and needs ${need}; run the bench with \`ulimit -n ${need}\` or more`;
  }
  return fdLimits(pid).soft >= need ? undefined : `${name} still may not open ${need} descriptors`;
}

/** Median of a few RSS samples (KiB) a moment apart: one sample can land mid-collection. */
async function settledRssKiB(pid: number): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) {
    samples.push(rssKiB(pid));
    await sleep(500);
  }
  return median(samples);
}

/**
 * The young generation: V8's per-process buffer for new objects, not per-stream memory. V8
 * grows it under any sustained load (here to 128 MiB, reached with 500 streams open as with
 * 10,000) and may shrink it after a memory-reducing collection. Left free it read 1–32 MiB
 * idle and 8–128 MiB all open in different runs. The gateway under test gets a 64 MiB semi-space from the start (bench only; V8 still
 * commits its second half only when used, so it reads 64 or 128 MiB), and what it commits
 * between the two readings is left out of the per-stream figure, which a server that has served
 * for a while has already paid. A shrink is not added back: V8 may keep the freed pages.
 */
const SEMI_SPACE_MIB = 64;
const YOUNG_GENERATION = [`--min-semi-space-size=${SEMI_SPACE_MIB}`, `--max-semi-space-size=${SEMI_SPACE_MIB}`];

/** The V8 young generation's committed size (KiB), from the gateway's own /metrics (NaN when absent). */
async function youngGenerationKiB(url: string): Promise<number> {
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) })).text();
    const bytes = /^orchqueue_nodejs_heap_space_size_total_bytes\{space="new"\} (\d+)/m.exec(text)?.[1];
    return bytes === undefined ? Number.NaN : Number(bytes) / 1024;
  } catch {
    return Number.NaN;
  }
}

function hwmKiB(pid: number): number {
  const kib = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return kib === undefined ? Number.NaN : Number(kib);
}

/** Opens one stream and keeps reading it until `signal` aborts; `opened` resolves at its first event or failure. */
function openStream(pool: Pool, n: number, signal: AbortSignal): OpenStream {
  const stream: OpenStream = { opened: Promise.resolve(), tokens: 0, failure: undefined };
  stream.opened = new Promise<void>((resolve) => {
    const fail = (why: string): void => {
      if (!signal.aborted) stream.failure ??= why;
      resolve();
    };
    const body = JSON.stringify({ model: 'bench', prompt: promptOf(n), max_tokens: MAX_TOKENS });
    pool.request({ method: 'POST', path: '/v1/tasks', headers: { 'content-type': 'application/json', accept: 'text/event-stream' }, body, signal }).then(
      (res) => {
        if (res.statusCode !== 200) {
          void res.body.text().then(
            (text) => fail(`HTTP ${res.statusCode} ${/"code":"([A-Z_]+)"/.exec(text)?.[1] ?? ''}`.trim()),
            () => fail(`HTTP ${res.statusCode}`),
          );
          return;
        }
        const parser = new SseParser();
        res.body.on('data', (chunk: Buffer) => {
          for (const message of parser.push(chunk)) {
            if (message.event === 'token') stream.tokens++;
            else if (message.event === 'error' || message.event === 'end') fail(`${message.event} event while open`);
          }
          resolve();
        });
        res.body.once('end', () => fail('stream ended while open'));
        res.body.once('error', (err: Error) => fail(err.name));
      },
      (err: unknown) => fail(err instanceof Error ? err.name : 'Error'),
    );
  });
  return stream;
}

/** Opens `count` streams in waves over the client pools; returns once every one is open or failed. */
async function openAll(pools: readonly Pool[], count: number, signal: AbortSignal): Promise<OpenStream[]> {
  const streams: OpenStream[] = [];
  for (let start = 0; start < count; start += WAVE) {
    const wave: OpenStream[] = [];
    for (let n = start; n < Math.min(count, start + WAVE); n++) wave.push(openStream(pools[n % pools.length] as Pool, n, signal));
    await Promise.all(wave.map((s) => s.opened));
    streams.push(...wave);
  }
  return streams;
}

function clientPools(url: string, streams: number): Pool[] {
  return Array.from({ length: CLIENT_ADDRESSES }, (_, i) =>
    new Pool(url, { connections: Math.ceil(streams / CLIENT_ADDRESSES), pipelining: 1, headersTimeout: 60_000, bodyTimeout: 60_000, localAddress: `127.0.0.${i + 2}` }),
  );
}

function failures(streams: readonly OpenStream[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of streams) if (s.failure !== undefined) out[s.failure] = (out[s.failure] ?? 0) + 1;
  return out;
}

export const openStreamsScenario: Scenario = {
  name: 'open-streams',
  question: `What resident memory does one open SSE stream cost the gateway, at ${STREAMS.toLocaleString('en')} concurrent streams on a slow engine, and do all of them open?`,
  async run(ctx: BenchContext) {
    const selfProblem = ensureFds('the bench client', process.pid, STREAMS + FD_HEADROOM);
    if (selfProblem !== undefined) return { status: 'skipped', tables: [], targets: [], notes: [`Not run: ${selfProblem}.`], data: {} };
    const sim = await startSimulator(ctx.procs, 'sim-slow', { tokensPerS: TOKENS_PER_S, slots: ENGINE_SLOTS });
    const pool = poolConfig({ id: 'bench', model: 'bench', engineUrl: sim.url, slots: ENGINE_SLOTS, maxQueued: STREAMS });
    const audit = { backend: 'pglite', data_dir: join(ctx.tmpDir, 'open-streams-audit') };
    const start = { name: 'gateway-open-streams', config: gatewayConfig([pool], { audit }), readyTimeoutMs: 180_000, nodeArgs: YOUNG_GENERATION };
    // The first start initializes the audit directory, whose leftovers V8 frees only at some later
    // collection; the measured gateway is a restart on the initialized directory.
    await (await startGateway(ctx, start)).child.stop();
    const gateway = await startGateway(ctx, start);
    const gatewayPid = gateway.child.pid;
    const problem = ensureFds('the engine simulator', sim.child.pid, ENGINE_SLOTS + FD_HEADROOM) ?? ensureFds('the gateway', gatewayPid, STREAMS + ENGINE_SLOTS + FD_HEADROOM);
    if (problem !== undefined) return { status: 'skipped', tables: [], targets: [], notes: [`Not run: ${problem}.`], data: {} };

    const pools = clientPools(gateway.url, STREAMS);
    const warmup = new AbortController();
    const stop = new AbortController();
    let streams: OpenStream[] = [];
    const rss = { startKiB: rssKiB(gatewayPid), beforeKiB: Number.NaN, openKiB: Number.NaN, releasedKiB: Number.NaN, peakKiB: Number.NaN };
    const young = { beforeKiB: Number.NaN, openKiB: Number.NaN };
    let openS = Number.NaN;
    try {
      // A warm-up wave loads every code path; its tasks end through the orphan grace.
      await openAll(pools, WARMUP_STREAMS, warmup.signal);
      warmup.abort();
      await waitGatewayIdle(gateway.url, 30_000);
      rss.beforeKiB = await settledRssKiB(gatewayPid);
      young.beforeKiB = await youngGenerationKiB(gateway.url);
      const started = performance.now();
      streams = await openAll(pools, STREAMS, stop.signal);
      openS = (performance.now() - started) / 1_000;
      ctx.log(`open-streams: ${streams.length} opened in ${round(openS)} s`);
      await sleep(2_000);
      rss.openKiB = await settledRssKiB(gatewayPid);
      young.openKiB = await youngGenerationKiB(gateway.url);
      rss.peakKiB = hwmKiB(gatewayPid);
    } finally {
      stop.abort();
      warmup.abort();
    }
    await waitGatewayIdle(gateway.url, 60_000);
    await Promise.all(pools.map((p) => p.destroy()));
    rss.releasedKiB = await settledRssKiB(gatewayPid);

    const failed = failures(streams);
    const errors = Object.values(failed).reduce((a, b) => a + b, 0) + (STREAMS - streams.length);
    const rawPerStreamKiB = (rss.openKiB - rss.beforeKiB) / STREAMS;
    const perStreamKiB = (rss.openKiB - rss.beforeKiB - Math.max(0, young.openKiB - young.beforeKiB)) / STREAMS;
    const tokens = median(streams.map((s) => s.tokens));
    const mib = (kib: number): number => round(kib / 1024);
    const target: TargetCheck = {
      issue: '#14',
      name: `resident memory per open SSE stream at ${STREAMS.toLocaleString('en')} concurrent, slow engine`,
      target: `≤ ${TARGET_KIB} KiB per stream, 0 errors`,
      actual: `${round(perStreamKiB)} KiB per stream, ${errors} errors`,
      verdict: !Number.isFinite(perStreamKiB) ? 'not measured' : perStreamKiB <= TARGET_KIB && errors === 0 ? 'met' : 'missed',
    };
    return {
      status: 'ok',
      tables: [
        {
          title: `Gateway resident memory with ${STREAMS.toLocaleString('en')} open streams (MiB, median of 5 samples)`,
          columns: ['after start', 'idle before', 'all open', 'after release', 'peak (VmHWM)', 'young generation before → open', 'KiB per open stream', 'with its young generation growth', 'open time s', 'tokens per stream (median)', 'errors'],
          rows: [
            [
              mib(rss.startKiB),
              mib(rss.beforeKiB),
              mib(rss.openKiB),
              mib(rss.releasedKiB),
              mib(rss.peakKiB),
              `${mib(young.beforeKiB)} → ${mib(young.openKiB)}`,
              round(perStreamKiB),
              round(rawPerStreamKiB),
              round(openS),
              tokens,
              errors,
            ],
          ],
        },
      ],
      targets: [target],
      notes: [
        `The llama.cpp fake has ${ENGINE_SLOTS.toLocaleString('en')} slots and sends one token every ${1 / TOKENS_PER_S} s: ${ENGINE_SLOTS.toLocaleString('en')} streams are running tasks (client socket, engine socket, task, event log) and ${(STREAMS - ENGINE_SLOTS).toLocaleString('en')} are queued tasks with their client socket and stream open. All 10,000 running would need ~20,500 descriptors in the gateway; the scenario raises the children's soft limits with prlimit up to their hard limit. Streams open in waves of ${WAVE} from ${CLIENT_ADDRESSES} loopback addresses; "KiB per open stream" is (all open − idle before) / ${STREAMS.toLocaleString('en')}, which includes the tokens each stream received while the rest were opening.`,
        `"KiB per open stream" leaves out what V8's young generation committed between the two readings ("young generation" column, from the gateway's /metrics; "with its young generation growth" keeps it): a per-process buffer V8 grows to its cap under any sustained load and a server that has served for a while has already paid. The gateway starts with \`${YOUNG_GENERATION.join(' ')}\` (bench only) so that buffer moves by at most 64 MiB between the readings (left free it read 1–32 MiB idle, 8–128 MiB all open). A larger warm-up instead would reach the same size but leave freed old-space pages and native memory for the measured streams to reuse (8 rounds of 500 streams left 40 MiB of free old space).`,
        `Gateway defaults as shipped (audit on PGlite, metrics on), except the pool: one llamacpp replica with ${ENGINE_SLOTS} slots and room for ${STREAMS} queued tasks.`,
        ...(errors > 0 ? [`Errors: ${JSON.stringify(failed)}${streams.length < STREAMS ? `, ${STREAMS - streams.length} never started` : ''}.`] : []),
      ],
      data: { streams: STREAMS, engineSlots: ENGINE_SLOTS, tokensPerS: TOKENS_PER_S, rssKiB: rss, youngGenerationKiB: young, perStreamKiB, rawPerStreamKiB, openS, tokensMedian: tokens, failures: failed },
    };
  },
};
