// Scenario "cluster" (issue 15): what does the Redis state backend cost a task, and what do
// three replicas give? Same simulator, same pool, audit off on every gateway (so the Redis
// cost is not hidden in an audit commit): one memory-backend gateway, one redis-backend
// gateway, and three redis-backend replicas sharing one key prefix.
// - First token at concurrency 1, memory vs redis interleaved request by request.
// - 32-token streams at 64 concurrent: streams/s and gateway CPU per stream, memory vs redis.
// - The same load spread round robin over three replicas vs one, and Redis' own CPU.
// - Redis commands per task, read from INFO before and after sequential tasks.

import { Redis } from 'ioredis';
import type { Pool } from 'undici';
import { compareArms, hopMicrosPerToken, medianRound, pairedRatios, type Arm, type ArmResult } from '../compare.ts';
import { AUDIT_OFF, gatewayConfig, poolConfig } from '../gateway-config.ts';
import { runClosedLoop, type WindowResult } from '../load.ts';
import { clientPool, judgeFull, promptOf, streamRunner, type PathTarget } from '../paths.ts';
import { rotated, skipped, verdictOf, type BenchContext, type Cell, type Scenario } from '../scenario.ts';
import { startGateway, startSimulator, waitGatewayIdle, type Service } from '../services.ts';
import { median, round, SampleSet, type Summary } from '../stats.ts';
import { isFull, orchqueueProtocol, streamOnce } from '../stream-client.ts';
import { checkOf, notMeasured } from '../targets.ts';
import { deleteKeysUnder, startRedisServer, type RedisServer } from '../../test/support/redis.ts';

const TTFT_TOKENS = 4;
const STREAM_TOKENS = 32;
const CONCURRENCY = 64;
const BLOCKS = 4;

/** The gateway config of one replica of the bench cluster (all share `prefix`). */
function clusterConfig(pools: Array<Record<string, unknown>>, redisUrl: string, prefix: string, replica: string): Record<string, unknown> {
  return { ...gatewayConfig(pools, AUDIT_OFF), state: { backend: 'redis', url: redisUrl, key_prefix: prefix, replica_id: replica } };
}

/**
 * The Redis the arms share: `REDIS_URL` when set, otherwise a private redis-server of the run's
 * own, so INFO's server-wide counters (commands, CPU) hold only what this scenario's gateways sent.
 */
async function benchRedis(): Promise<{ url: string; server?: RedisServer }> {
  const url = process.env.REDIS_URL;
  if (url !== undefined) return { url };
  const server = await startRedisServer();
  return { url: server.url, server };
}

/** Redis' INFO fields as numbers (commands processed, CPU seconds, memory). */
async function redisInfo(redis: Redis): Promise<Record<string, number>> {
  const text = await redis.info();
  const out: Record<string, number> = {};
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0) {
      const value = Number(line.slice(at + 1));
      if (Number.isFinite(value)) out[line.slice(0, at)] = value;
    }
  }
  return out;
}

/** A load target that sends each new stream to the next of several gateways. */
function roundRobinRunner(pools: readonly Pool[], targets: readonly PathTarget[], maxTokens: number) {
  const runners = pools.map((pool, i) => streamRunner(pool, targets[i] as PathTarget, maxTokens, promptOf));
  let n = 0;
  return (signal: AbortSignal, onToken: (now: number) => void) => (runners[n++ % runners.length] as (typeof runners)[number])(signal, onToken);
}

function cpuPerStream(window: WindowResult, keys: readonly string[]): number {
  const ms = keys.reduce((sum, k) => sum + (window.cpuMs[k] ?? 0), 0);
  return window.streamsFull === 0 ? Number.NaN : (ms * 1000) / window.streamsFull;
}

export const clusterScenario: Scenario = {
  name: 'cluster',
  question: 'What does the Redis state backend add to a task, and what do three replicas on one Redis give over one?',
  async run(ctx: BenchContext) {
    let shared: { url: string; server?: RedisServer };
    try {
      shared = await benchRedis();
    } catch (err) {
      return skipped(`no redis-server could be started (${err instanceof Error ? err.message : String(err)})`);
    }
    const redisUrl = shared.url;
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
    try {
      await redis.connect();
    } catch (err) {
      await shared.server?.stop();
      return skipped(`no Redis at ${redisUrl} (${err instanceof Error ? err.message : String(err)})`);
    }
    const prefix = `bench-${process.pid}-${Date.now()}:`;
    const sim = await startSimulator(ctx.procs, 'sim-cluster', { tokensPerS: 0, slots: 600 });
    const pool = poolConfig({ id: 'fast', model: 'fast', engineUrl: sim.url, slots: 512, maxQueued: 1024 });
    const started: Service[] = [];
    const clients: Pool[] = [];
    try {
      const memory = await startGateway(ctx, { name: 'gateway-cluster-memory', config: gatewayConfig([pool], AUDIT_OFF) });
      started.push(memory);
      const replicas: Service[] = [];
      for (const name of ['a', 'b', 'c']) {
        try {
          const g = await startGateway(ctx, { name: `gateway-cluster-redis-${name}`, config: clusterConfig([pool], redisUrl, prefix, `bench-${name}`) });
          started.push(g);
          replicas.push(g);
        } catch (err) {
          return skipped(`the gateway did not start with state.backend redis (${(err instanceof Error ? err.message : String(err)).split('\n').filter((l) => l.trim() !== '').slice(0, 2).join(' ')})`);
        }
      }
      const [one] = replicas as [Service, Service, Service];

      // 1. First token, concurrency 1, interleaved request by request.
      const ttftPaths = [
        { name: 'memory backend', service: memory },
        { name: 'redis backend', service: one },
      ].map((p) => ({ ...p, pool: clientPool(p.service.url, 1), samples: new SampleSet(), ordered: [] as number[] }));
      clients.push(...ttftPaths.map((p) => p.pool));
      const requests = ctx.timing.rounds > 1 ? 300 : 80;
      ctx.log(`cluster: ${requests} first-token requests per backend, interleaved`);
      for (let i = 0; i < 40 + requests; i++) {
        for (const p of rotated(ttftPaths, i)) {
          const o = await streamOnce(p.pool, orchqueueProtocol, { model: 'fast', prompt: promptOf(i), maxTokens: TTFT_TOKENS }, AbortSignal.timeout(10_000));
          if (i < 40) continue;
          const full = isFull(o, TTFT_TOKENS);
          if (full) p.samples.add(o.ttftMs);
          p.ordered.push(full ? o.ttftMs : Number.NaN);
        }
      }
      const [mem, red] = ttftPaths as [(typeof ttftPaths)[0], (typeof ttftPaths)[0]];
      const memS: Summary = mem.samples.summary();
      const redS: Summary = red.samples.summary();
      const size = Math.ceil(requests / BLOCKS);
      const addedByBlock: number[] = [];
      for (let b = 0; b < BLOCKS; b++) {
        const slice = (xs: number[]) => xs.slice(b * size, (b + 1) * size).filter(Number.isFinite);
        const m = slice(mem.ordered);
        const r = slice(red.ordered);
        if (m.length > 0 && r.length > 0) addedByBlock.push(median(r) - median(m));
      }

      // 2. Redis commands per task: sequential tasks on one replica.
      const before = await redisInfo(redis);
      const sequential = 100;
      for (let i = 0; i < sequential; i++) await streamOnce(red.pool, orchqueueProtocol, { model: 'fast', prompt: promptOf(i), maxTokens: STREAM_TOKENS }, AbortSignal.timeout(10_000));
      const after = await redisInfo(redis);
      const commandsPerTask = ((after.total_commands_processed ?? 0) - (before.total_commands_processed ?? 0)) / sequential;

      // 3. Saturation: memory vs one redis replica, then three replicas round robin vs one.
      const armOf = (name: string, g: Service): Arm => {
        const p = clientPool(g.url, CONCURRENCY);
        clients.push(p);
        return { name, target: { name, url: g.url, protocol: orchqueueProtocol, model: 'fast' }, pool: p, hopPid: g.child.pid, settle: () => waitGatewayIdle(g.url) };
      };
      const saturation = await compareArms(ctx, 'cluster saturation', [armOf('memory backend', memory), armOf('redis backend', one)], { concurrency: CONCURRENCY, maxTokens: STREAM_TOKENS, pids: { sim: sim.child.pid } });
      const threePools = replicas.map((g) => {
        const p = clientPool(g.url, CONCURRENCY);
        clients.push(p);
        return p;
      });
      const threeTargets = replicas.map((g, i) => ({ name: `replica ${i}`, url: g.url, protocol: orchqueueProtocol, model: 'fast' }));
      const oneRunner = streamRunner(threePools[0] as Pool, threeTargets[0] as PathTarget, STREAM_TOKENS, promptOf);
      const threeRunner = roundRobinRunner(threePools, threeTargets, STREAM_TOKENS);
      const plan = { concurrency: CONCURRENCY, warmupMs: ctx.timing.warmupMs, measureMs: ctx.timing.measureMs, maxStreams: 2_000_000, graceMs: ctx.timing.graceMs };
      const scale: Record<'1 replica' | '3 replicas', WindowResult[]> = { '1 replica': [], '3 replicas': [] };
      const pids = { sim: sim.child.pid, a: replicas[0]?.child.pid as number, b: replicas[1]?.child.pid as number, c: replicas[2]?.child.pid as number, client: 'self' as const };
      for (let r = 0; r < ctx.timing.rounds; r++) {
        for (const arm of rotated(['1 replica', '3 replicas'] as const, r)) {
          const w = await runClosedLoop(plan, arm === '1 replica' ? oneRunner : threeRunner, judgeFull(STREAM_TOKENS), { meter: ctx.cpu, pids });
          await Promise.all(replicas.map((g) => waitGatewayIdle(g.url)));
          scale[arm].push(w);
          ctx.log(`cluster scale round ${r + 1}/${ctx.timing.rounds} ${arm}: ${round(w.streamsPerS)} streams/s`);
        }
      }
      const scaleRatios = scale['3 replicas'].map((w, i) => w.streamsPerS / (scale['1 replica'][i]?.streamsPerS ?? Number.NaN)).filter(Number.isFinite);

      const memArm = saturation.find((a) => a.name === 'memory backend') as ArmResult;
      const redArm = saturation.find((a) => a.name === 'redis backend') as ArmResult;
      const cpuRatios = pairedRatios(redArm, memArm, hopMicrosPerToken);
      const shareRatios = pairedRatios(redArm, memArm, (w) => w.streamsPerS);
      const satRows: Cell[][] = [memArm, redArm].map((a) => {
        const w = medianRound(a);
        return [a.name, round(w.streamsPerS), round(hopMicrosPerToken(w) * STREAM_TOKENS), a === memArm ? 1 : round(median(shareRatios)), a === memArm ? 1 : round(median(cpuRatios))];
      });
      const scaleRows: Cell[][] = (['1 replica', '3 replicas'] as const).map((arm) => {
        const ws = scale[arm];
        const w = ws[Math.floor((ws.length - 1) / 2)] as WindowResult;
        const gatewayKeys = arm === '1 replica' ? ['a'] : ['a', 'b', 'c'];
        return [arm, round(w.streamsPerS), round(cpuPerStream(w, gatewayKeys)), round(cpuPerStream(w, ['sim'])), round(cpuPerStream(w, ['client'])), arm === '1 replica' ? 1 : round(median(scaleRatios))];
      });
      const cpuRedis = ((after.used_cpu_sys ?? 0) + (after.used_cpu_user ?? 0) - (before.used_cpu_sys ?? 0) - (before.used_cpu_user ?? 0)) * 1e6 / sequential;
      return {
        status: 'ok',
        tables: [
          {
            title: 'First token at concurrency 1, audit off (ms)',
            columns: ['backend', 'requests', 'p50', 'p90', 'p99', 'added p50 vs memory'],
            rows: [
              ['memory backend', memS.count, round(memS.p50), round(memS.p90), round(memS.p99), 0],
              ['redis backend', redS.count, round(redS.p50), round(redS.p90), round(redS.p99), round(redS.p50 - memS.p50)],
            ],
          },
          {
            title: `${STREAM_TOKENS}-token streams at ${CONCURRENCY} concurrent, one gateway`,
            columns: ['backend', 'streams/s', 'gateway CPU µs per stream', 'streams/s vs memory', 'CPU per stream vs memory'],
            rows: satRows,
          },
          {
            title: `Three replicas on one Redis vs one (${STREAM_TOKENS}-token streams, ${CONCURRENCY} concurrent, round robin)`,
            columns: ['replicas', 'streams/s', 'gateway CPU µs per stream (all replicas)', 'simulator CPU µs per stream', 'client CPU µs per stream', 'streams/s vs 1 replica'],
            rows: scaleRows,
          },
          {
            title: 'Redis work per task (sequential 32-token tasks on one replica)',
            columns: ['commands per task', 'Redis CPU µs per task'],
            rows: [[round(commandsPerTask), round(cpuRedis)]],
          },
        ],
        targets: [
          addedByBlock.length > 0
            ? checkOf('cluster.ttft', `${round(redS.p50 - memS.p50)} ms (per block: ${addedByBlock.map((b) => round(b)).join(', ')} ms)`, verdictOf(addedByBlock, (b) => b <= 1))
            : notMeasured('cluster.ttft', 'no first token measured on both backends'),
          checkOf('cluster.cpu', `${round(median(cpuRatios))}× (rounds: ${cpuRatios.map((x) => round(x)).join(', ')})`, 'not measured'),
        ],
        notes: [
          'Every gateway runs with audit off, so what differs between the arms is the state backend alone; the memory backend is today\'s one-process gateway.',
          shared.server !== undefined
            ? 'The redis arms share a private redis-server started for this scenario (REDIS_URL unset), so its INFO counters hold only their commands.'
            : `The redis arms share one Redis (${redisUrl}) under a key prefix of their own, removed after the scenario; INFO's counters are server-wide, so commands and CPU per task include anything else using that Redis meanwhile.`,
          'Three replicas share the machine\'s two cores with the simulator, the client and Redis: the ratio of 3 to 1 replica measures what the cluster costs here, not what it gives on separate hosts (each replica would then have its own cores).',
          'Commands per task counts every Redis command the gateway sent for a sequential task (admission script, claim, release, stream appends pipelined, follower reads), read from INFO total_commands_processed; round trips are fewer (pipelined appends share one).',
        ],
        data: { ttftMs: { memory: memS, redis: redS }, addedByBlockMs: addedByBlock, commandsPerTask, redisCpuMicrosPerTask: cpuRedis, scaleRatios, cpuRatios, shareRatios },
      };
    } finally {
      await Promise.all(clients.map((p) => p.close().catch(() => undefined)));
      await Promise.all([...started.map((g) => g.child.stop()), sim.child.stop()]);
      await deleteKeysUnder(redis, prefix).catch(() => undefined);
      redis.disconnect();
      await shared.server?.stop();
    }
  },
};
