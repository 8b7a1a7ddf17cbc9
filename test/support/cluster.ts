// Several real gateway processes (`node src/main.ts --config FILE`) on ephemeral loopback ports,
// one config each but the same pool on the same vLLM fakes, sharing one state backend: Redis
// under one key prefix, or each its own memory (the control that shows the checks can fail).
// Every engine fake sits behind an EngineMeter, so a test sees cluster-wide engine concurrency
// and which gateway sent each generation (the configs differ only in those front URLs).

import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import { request } from 'undici';
import { startVllmFake, type VllmFake, type VllmFakeOptions } from '../fakes/vllm/fake.ts';
import { meterEngine, type EngineMeter } from './engine-meter.ts';
import { deleteKeysUnder, sharedRedisUrl } from './redis.ts';

const ROOT = new URL('../../', import.meta.url);
const MAIN = new URL('src/main.ts', ROOT);
export const POOL_ID = 'p';
export const MODEL = 'm';
const ENGINE_MODEL = 'fake-model';

export interface EngineSpec extends Omit<VllmFakeOptions, 'model' | 'port'> {
  /** The slots every gateway is told this engine replica has. */
  slots: number;
}

export interface ClusterOptions {
  backend: 'memory' | 'redis';
  /** Gateway processes (default 3), named `gw-0`, `gw-1`, … (ORCHQUEUE_REPLICA_ID). */
  gateways?: number;
  engines: EngineSpec[];
  /** Redis for backend redis (default: the shared test Redis). */
  redisUrl?: string;
  /** state.lease_ms (backend redis). */
  leaseMs?: number;
  /** Merged into the pool (queue, timeouts, health, …). */
  pool?: Record<string, unknown>;
  /** Merged into the top level of every gateway's config (tenancy, server, audit, …). */
  config?: Record<string, unknown>;
  /** Server Postgres for audit, one database shared by the cluster (DATABASE_URL). */
  databaseUrl?: string;
}

export interface ClusterGateway {
  readonly replicaId: string;
  readonly url: string;
  readonly process: ChildProcess;
  /** Sends `signal` (default SIGKILL) and waits for the process to be gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface ClusterEngine {
  readonly id: string;
  readonly slots: number;
  readonly fake: VllmFake;
  readonly meter: EngineMeter;
}

export interface Cluster {
  readonly gateways: readonly ClusterGateway[];
  readonly engines: readonly ClusterEngine[];
  readonly keyPrefix: string;
  readonly redisUrl: string | undefined;
  /** A gateway picked at random among those still running. */
  any(): ClusterGateway;
  close(): Promise<void>;
}

export type ClusterStart = { ok: true; cluster: Cluster } | { ok: false; refusal: string };

/** The one line a gateway prints when it refuses the configured state backend at start. */
export function backendRefusal(stderr: string): string | undefined {
  return /^orchqueue: state\.backend "redis".*$/m.exec(stderr)?.[0];
}

class GatewayExited extends Error {
  readonly stderr: string;
  constructor(code: string, stderr: string) {
    super(`gateway exited (${code}) before listening:\n${stderr}`);
    this.stderr = stderr;
  }
}

/**
 * Kills the gateway when this test process ends however it ends (a vitest worker is often killed
 * without an 'exit' event): a shell reading our stdin pipe sees EOF when we die.
 */
function watchdog(child: ChildProcess): ChildProcess {
  const dog = spawn('sh', ['-c', `read _ignored; kill -9 ${child.pid} 2>/dev/null`], { stdio: ['pipe', 'ignore', 'ignore'] });
  dog.unref();
  return dog;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

function startProcess(configPath: string, env: Record<string, string>): Promise<{ child: ChildProcess; url: string }> {
  // The config file decides; only what `env` gives on top of it may override it.
  const { DATABASE_URL: _db, REDIS_URL: _redis, ORCHQUEUE_REPLICA_ID: _id, HOST: _host, PORT: _port, LOG_LEVEL: _level, ORCHQUEUE_CONFIG: _config, ...inherited } = process.env;
  // The compile cache (type stripping included) makes a second start of the same sources cheaper.
  const cache = { NODE_COMPILE_CACHE: join(tmpdir(), 'orchqueue-test-compile-cache') };
  const child = spawn(process.execPath, [MAIN.pathname, '--config', configPath], { cwd: ROOT, env: { ...cache, ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const dog = watchdog(child);
  child.once('exit', () => dog.kill('SIGKILL'));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) => reject(new GatewayExited(String(code ?? signal), stderr));
    child.once('exit', onExit);
    const lines = createInterface({ input: child.stdout! });
    const onLine = (line: string) => {
      if (!line.includes('orchqueue listening')) return;
      const entry = JSON.parse(line) as { address?: string };
      if (entry.address === undefined) return;
      child.off('exit', onExit);
      // The logs after start are not read; keep the pipe flowing so the child never blocks on it.
      lines.off('line', onLine);
      lines.on('line', () => undefined);
      resolve({ child, url: entry.address });
    };
    lines.on('line', onLine);
  });
}

async function gatewayConfig(opts: ClusterOptions, engines: readonly ClusterEngine[], keyPrefix: string, replicaId: string): Promise<Record<string, unknown>> {
  // The same engine replicas for every gateway, each reached through a front of its own.
  const replicas = await Promise.all(engines.map(async (e) => ({ id: e.id, url: await e.meter.frontFor(replicaId), slots: e.slots })));
  const pool = {
    id: POOL_ID,
    engine: 'vllm',
    model: MODEL,
    engine_model: ENGINE_MODEL,
    queue: { max_queued: 4096 },
    // Probes patient enough that a machine loaded by other test runs never marks a fake unready.
    timeouts: { connect_ms: 10_000 },
    health: { interval_ms: 1_000, max_backoff_ms: 2_000, breaker_failures: 10 },
    ...opts.pool,
    replicas,
  };
  const state = opts.backend === 'redis' ? { backend: 'redis', key_prefix: keyPrefix, ...(opts.leaseMs ? { lease_ms: opts.leaseMs } : {}) } : { backend: 'memory' };
  return {
    server: { host: '127.0.0.1', port: 0 },
    audit: { backend: 'off' },
    telemetry: { log_level: 'info' },
    ...opts.config,
    pools: [pool],
    state,
  };
}

async function startEngines(specs: readonly EngineSpec[]): Promise<ClusterEngine[]> {
  return Promise.all(
    specs.map(async ({ slots, ...tuning }, i) => {
      const fake = await startVllmFake({ ...tuning, model: ENGINE_MODEL });
      const meter = await meterEngine(fake.url);
      return { id: `e${i}`, slots, fake, meter };
    }),
  );
}

async function waitReady(url: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await request(`${url}/v1/pools/${POOL_ID}`);
    const body = (await res.body.json()) as { ready?: boolean };
    if (res.statusCode === 200 && body.ready === true) return;
    if (Date.now() > until) throw new Error(`pool ${POOL_ID} at ${url} not ready after ${timeoutMs} ms: ${JSON.stringify(body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function deleteKeys(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { maxRetriesPerRequest: 1, lazyConnect: true });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    await deleteKeysUnder(redis, prefix);
  } catch {
    // A test that stopped its private Redis has nothing left to delete.
  } finally {
    redis.disconnect();
  }
}

/**
 * Starts the engines and the gateways. With backend redis a gateway that refuses the backend at
 * start (the build before the wiring) makes this `{ ok: false, refusal }` with its exit line.
 */
export async function startCluster(opts: ClusterOptions): Promise<ClusterStart> {
  const keyPrefix = `oqcluster:${randomUUID()}:`;
  const redisUrl = opts.backend === 'redis' ? (opts.redisUrl ?? (await sharedRedisUrl())) : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'orchqueue-cluster-'));
  const engines = await startEngines(opts.engines);
  const gateways: ClusterGateway[] = [];
  const close = async () => {
    await Promise.all(gateways.map((g) => g.kill('SIGTERM')));
    await Promise.all(engines.map(async (e) => { await e.meter.close(); await e.fake.close(); }));
    if (redisUrl !== undefined) await deleteKeys(redisUrl, keyPrefix);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const count = opts.gateways ?? 3;
    const started = await Promise.allSettled(
      Array.from({ length: count }, async (_, i) => {
        const replicaId = `gw-${i}`;
        const configPath = join(dir, `${replicaId}.json`);
        await writeFile(configPath, JSON.stringify(await gatewayConfig(opts, engines, keyPrefix, replicaId), null, 2));
        const env: Record<string, string> = { ORCHQUEUE_REPLICA_ID: replicaId };
        if (redisUrl !== undefined) env.REDIS_URL = redisUrl;
        if (opts.databaseUrl !== undefined) env.DATABASE_URL = opts.databaseUrl;
        const { child, url } = await startProcess(configPath, env);
        const gateway: ClusterGateway = {
          replicaId,
          url,
          process: child,
          async kill(signal = 'SIGKILL') {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
            await exited(child);
            clearTimeout(timer);
          },
        };
        gateways.push(gateway);
        return gateway;
      }),
    );
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed !== undefined) {
      const reason: unknown = failed.reason;
      const refusal = reason instanceof GatewayExited ? backendRefusal(reason.stderr) : undefined;
      await close();
      if (refusal !== undefined) return { ok: false, refusal };
      throw reason;
    }
    gateways.sort((a, b) => a.replicaId.localeCompare(b.replicaId));
    await Promise.all(gateways.map((g) => waitReady(g.url)));
  } catch (error) {
    await close();
    throw error;
  }
  const running = () => gateways.filter((g) => g.process.exitCode === null && g.process.signalCode === null);
  return {
    ok: true,
    cluster: {
      gateways,
      engines,
      keyPrefix,
      redisUrl,
      any() {
        const alive = running();
        const picked = alive[Math.floor(Math.random() * alive.length)];
        if (picked === undefined) throw new Error('no gateway of the cluster is running');
        return picked;
      },
      close,
    },
  };
}

/**
 * Whether this build runs `state.backend: redis`: starts one gateway on it (the mock engine) and
 * answers the refusal line it exits with, or undefined once it listens. Test files call it at
 * load time to skip the Redis journeys with that line as the reason.
 */
export async function redisBackendRefusal(): Promise<string | undefined> {
  const dir = await mkdtemp(join(tmpdir(), 'orchqueue-probe-'));
  const keyPrefix = `oqprobe:${randomUUID()}:`;
  const redisUrl = await sharedRedisUrl();
  const configPath = join(dir, 'probe.json');
  const config = {
    server: { host: '127.0.0.1', port: 0 },
    audit: { backend: 'off' },
    pools: [{ id: 'probe', engine: 'mock', model: 'probe', replicas: [{ id: 'mock-0', slots: 1 }] }],
    state: { backend: 'redis', key_prefix: keyPrefix },
  };
  try {
    await writeFile(configPath, JSON.stringify(config));
    const { child } = await startProcess(configPath, { REDIS_URL: redisUrl, ORCHQUEUE_REPLICA_ID: 'probe' });
    child.kill('SIGTERM');
    await exited(child);
    return undefined;
  } catch (error) {
    const refusal = error instanceof GatewayExited ? backendRefusal(error.stderr) : undefined;
    if (refusal !== undefined) return refusal;
    throw error;
  } finally {
    await deleteKeys(redisUrl, keyPrefix);
    await rm(dir, { recursive: true, force: true });
  }
}
