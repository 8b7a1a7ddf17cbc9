// Scenario "burst-memory" (issue 14): after a burst of many tasks with large prompts, does the
// gateway's memory come back to its idle level plus at most the configured byte bound of the
// finished tasks it retains (`server.retention_max_bytes`)? The gateway runs with its V8
// inspector open (bench only); the scenario forces V8's full collections through it and reads
// the heap in use right after them: once idle after a warm-up, once idle after the burst. A
// reading without a full collection first counts garbage (each /metrics scrape leaves about a
// MiB, the young generation tens of MiB, and a minor collection leaves dead old-generation
// objects), so only readings after a forced full collection are judged.
// The bound is retention_max_bytes plus ONE_OFF_MIB: code V8 compiles for the large-prompt path
// and histogram buffers grown once (measured: ≈ 1 MiB and 0.36 MiB after the first burst, none
// after later ones).
// BURST_HEAPSNAPSHOT_DIR=dir: the gateway also writes a V8 heap snapshot there after each of the
// two readings (their difference names what is retained; a diagnostic run only, the snapshots
// cost memory and time).

import { readdir } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'undici';
import { gatewayConfig, poolConfig } from '../gateway-config.ts';
import { attachInspector, inspectorOption, type HeapInspector } from '../heap-inspector.ts';
import { clientPool } from '../paths.ts';
import { rssKiB } from '../processes.ts';
import type { BenchContext, Scenario, TargetCheck } from '../scenario.ts';
import { startGateway, startSimulator, waitGatewayIdle } from '../services.ts';
import { round } from '../stats.ts';
import { orchqueueProtocol, streamOnce } from '../stream-client.ts';

const SLOTS = 32;
const CLIENTS = 64;
const BURST_TASKS = 800;
const WARM_TASKS = 100;
/**
 * Large prompts: 8 KiB each (about 1,800 tokens: the simulator's 4,096-token context holds them
 * with the output), 16 MiB through the gateway in the burst; a finished task keeps none of it.
 */
const PROMPT_CHARS = 8_192;
const BURST_TOKENS = 64;
/** The byte bound under test: well below what the burst's event logs would hold (≈ 800 × 14 KiB). */
const RETENTION_MAX_BYTES = 8 * 1_048_576;
/**
 * One-off growth allowed on top of the byte bound: code compiled for the large-prompt path and
 * histogram buffers (≈ 1.4 MiB after a first burst, flat after further bursts).
 */
const ONE_OFF_MIB = 1.5;
/** Quiet time after the gateway runs nothing, before a reading (timers and sockets closing). */
const SETTLE_MS = 2_000;

interface Figures {
  /** V8 heap in use right after full collections (Runtime.getHeapUsage), MiB. */
  heapUsed: number;
  heapTotal: number;
  /** The gateway's own estimate of its retained finished tasks (orchqueue_retained_task_bytes), MiB. */
  retained: number;
  rssMiB: number;
}

const MIB = 1_048_576;
const tenths = (x: number): number => Math.round(x * 10) / 10;

/** The retained-task gauge from the gateway's /metrics, MiB. */
async function retainedMiB(pool: Pool): Promise<number> {
  const res = await pool.request({ method: 'GET', path: '/metrics', signal: AbortSignal.timeout(5_000) });
  const line = (await res.body.text()).split('\n').find((l) => l.startsWith('orchqueue_retained_task_bytes '));
  return line === undefined ? Number.NaN : Number(line.slice(line.lastIndexOf(' ') + 1)) / MIB;
}

/** Forces full collections, then reads the heap in use (nothing runs in between but the inspector's reply). */
async function read(pool: Pool, inspector: HeapInspector, pid: number): Promise<Figures> {
  const retained = await retainedMiB(pool);
  await inspector.collectGarbage();
  const heap = await inspector.heapUsage();
  return { heapUsed: heap.usedBytes / MIB, heapTotal: heap.totalBytes / MIB, retained, rssMiB: rssKiB(pid) / 1024 };
}

/** Runs `count` streams on `clients` closed-loop clients; failed streams counted by reason. */
async function burst(pool: Pool, count: number, clients: number, prompt: (n: number) => string, maxTokens: number): Promise<{ ok: number; failed: Record<string, number>; seconds: number }> {
  const failed: Record<string, number> = {};
  let next = 0;
  let ok = 0;
  const started = performance.now();
  const client = async () => {
    while (next < count) {
      const n = next++;
      const o = await streamOnce(pool, orchqueueProtocol, { model: 'burst', prompt: prompt(n), maxTokens }, AbortSignal.timeout(60_000)).catch((err: unknown) => ({
        status: 0,
        terminal: 'none' as const,
        tokens: 0,
        errorCode: err instanceof Error ? err.name : 'unknown',
      }));
      if (o.status === 200 && o.terminal === 'end' && o.tokens === maxTokens) ok++;
      else {
        const why = o.status !== 200 ? `HTTP ${o.status} ${o.errorCode ?? ''}`.trim() : `${o.terminal} after ${o.tokens} tokens`;
        failed[why] = (failed[why] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  return { ok, failed, seconds: (performance.now() - started) / 1000 };
}

/** Asks the gateway (started with --heapsnapshot-signal) for a heap snapshot and waits until it is written. */
async function snapshot(pid: number, dir: string, pool: Pool): Promise<void> {
  const count = async () => (await readdir(dir).catch(() => [])).filter((name) => name.endsWith('.heapsnapshot')).length;
  const before = await count();
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 120 && (await count()) === before; i++) await sleep(250);
  // The snapshot is written on the gateway's main thread: once it answers again, the file is complete.
  const res = await pool.request({ method: 'GET', path: '/healthz', signal: AbortSignal.timeout(120_000) });
  await res.body.dump();
}

/** A distinct 8 KiB prompt per task (like real traffic: nothing shared between requests). */
const largePrompt = (n: number): string => `burst ${n}: ${'the quick brown fox jumps over the lazy dog '.repeat(PROMPT_CHARS / 44 + 1)}`.slice(0, PROMPT_CHARS);

export const burstMemoryScenario: Scenario = {
  name: 'burst-memory',
  question: 'After a burst of many tasks with large prompts, does the gateway\'s heap come back to its idle level plus at most the configured byte bound of retained finished tasks (server.retention_max_bytes)?',
  async run(ctx: BenchContext) {
    const sim = await startSimulator(ctx.procs, 'sim-burst', { tokensPerS: 2_000, slots: SLOTS * 2 });
    const config = {
      ...gatewayConfig([poolConfig({ id: 'burst', model: 'burst', engineUrl: sim.url, slots: SLOTS, maxQueued: 1_024 })]),
      // Default retention time (5 minutes) and count bound: only the byte bound can forget tasks here.
      server: { retention_max_bytes: RETENTION_MAX_BYTES },
    };
    const snapshots = process.env.BURST_HEAPSNAPSHOT_DIR;
    const inspect = await inspectorOption();
    const nodeOptions = [inspect.nodeOptions, ...(snapshots ? [`--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snapshots}`] : [])].join(' ');
    const gateway = await startGateway(ctx, { name: 'gateway-burst', config, env: { NODE_OPTIONS: nodeOptions } });
    const pid = gateway.child.pid;
    const pool = clientPool(gateway.url, CLIENTS + 2);
    const inspector = await attachInspector(pid, inspect.port);
    try {
      // Warm-up in the burst's own shape, so the idle reading includes the code V8 compiles for
      // it, on as many clients so both readings hold the same keep-alive connections. Its tasks
      // are retained too (below the bound) and are the first the burst's make the gateway forget.
      const warm = await burst(pool, WARM_TASKS, CLIENTS, (n) => largePrompt(BURST_TASKS + n), BURST_TOKENS);
      await waitGatewayIdle(gateway.url, 10_000);
      await sleep(SETTLE_MS);
      const before = await read(pool, inspector, pid);
      if (snapshots) await snapshot(pid, snapshots, pool);
      ctx.log(`burst-memory: idle heap ${tenths(before.heapUsed)} MiB after full collections, RSS ${tenths(before.rssMiB)} MiB; ${BURST_TASKS} streams of ${BURST_TOKENS} tokens with ${PROMPT_CHARS}-char prompts on ${CLIENTS} clients`);
      const run = await burst(pool, BURST_TASKS, CLIENTS, largePrompt, BURST_TOKENS);
      const wentIdle = await waitGatewayIdle(gateway.url, 15_000);
      await sleep(SETTLE_MS);
      const settled = await read(pool, inspector, pid);
      if (snapshots) await snapshot(pid, snapshots, pool);
      const growth = settled.heapUsed - before.heapUsed;
      const retentionMiB = RETENTION_MAX_BYTES / MIB;
      const boundMiB = retentionMiB + ONE_OFF_MIB;
      const failed = Object.values(run.failed).reduce((a, b) => a + b, 0);
      const target: TargetCheck = {
        issue: '#14',
        name: 'heap after a burst within idle + retention_max_bytes',
        target: `heap in use after full collections grows ≤ ${retentionMiB} MiB (server.retention_max_bytes) + ${ONE_OFF_MIB} MiB one-off code and histograms`,
        actual: `${growth >= 0 ? '+' : ''}${tenths(growth)} MiB (${tenths(before.heapUsed)} → ${tenths(settled.heapUsed)}); retained estimate ${tenths(settled.retained)} MiB`,
        verdict: !Number.isFinite(growth) || !wentIdle || failed > 0 ? 'not measured' : growth <= boundMiB ? 'met' : 'missed',
      };
      return {
        status: 'ok',
        tables: [
          {
            title: 'Burst',
            columns: ['tasks', 'clients', 'prompt chars', 'tokens per task', 'seconds', 'tasks/s', 'failed', 'idle afterwards', 'warm-up tasks (same shape)'],
            rows: [[BURST_TASKS, CLIENTS, PROMPT_CHARS, BURST_TOKENS, round(run.seconds), round(BURST_TASKS / run.seconds), failed ? JSON.stringify(run.failed) : 0, wentIdle ? 'yes' : 'NO', `${warm.ok} of ${WARM_TASKS}`]],
          },
          {
            title: `Gateway memory, MiB: idle after the warm-up and idle after the burst (${SETTLE_MS / 1000} s after the gateway ran nothing), heap read right after forced full collections`,
            columns: ['figure', 'idle before', 'after the burst', 'change', 'bound'],
            rows: [
              ['V8 heap used', tenths(before.heapUsed), tenths(settled.heapUsed), tenths(growth), boundMiB],
              ['retained finished tasks (orchqueue_retained_task_bytes, the gateway\'s estimate)', tenths(before.retained), tenths(settled.retained), tenths(settled.retained - before.retained), retentionMiB],
              ['V8 heap reserved (not a target)', tenths(before.heapTotal), tenths(settled.heapTotal), tenths(settled.heapTotal - before.heapTotal), ''],
              ['RSS (not a target)', tenths(before.rssMiB), tenths(settled.rssMiB), tenths(settled.rssMiB - before.rssMiB), ''],
            ],
          },
        ],
        targets: [target],
        notes: [
          `One gateway (pool of ${SLOTS} slots on a simulator at 2,000 tokens/s, audit on PGlite as shipped (the readings are of the main thread's heap; the audit worker holds nothing once idle), \`server.retention_max_bytes: ${RETENTION_MAX_BYTES}\` with the default 5-minute retention and 10,000-task count bound, so only the byte bound forgets tasks during the run). ${BURST_TASKS} streams of ${BURST_TOKENS} tokens with distinct ${PROMPT_CHARS}-character prompts (${tenths((BURST_TASKS * PROMPT_CHARS) / MIB)} MiB of prompt text) on ${CLIENTS} closed-loop clients.`,
          `Both readings follow full collections forced through the gateway's V8 inspector (opened on loopback with SIGUSR1 and \`--inspect-port\`, bench only; HeapProfiler.collectGarbage, then Runtime.getHeapUsage), so they hold live objects only. The retained tasks are still there (5-minute retention), bounded by bytes; the bound adds ${ONE_OFF_MIB} MiB for what a first burst leaves once (compiled code, histogram buffers). BURST_HEAPSNAPSHOT_DIR names what is retained (diagnostic runs).`,
          'RSS and the reserved heap are shown but not judged: V8 keeps pages it reserved during the burst until its memory reducer gives them back, which is not a retained object.',
        ],
        data: { before, settled, growth, run, warm, wentIdle, retentionMaxBytes: RETENTION_MAX_BYTES, oneOffMiB: ONE_OFF_MIB },
      };
    } finally {
      inspector.close();
      await pool.close();
    }
  },
};
