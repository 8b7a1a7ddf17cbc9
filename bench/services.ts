// Starts the three kinds of process a scenario measures through: the llama.cpp engine
// simulator, the bare pass-through proxy and the OrchQueue gateway (with a config file written
// to the run's temp directory, and its own PGlite data dir when audit is embedded). Each returns
// its loopback URL once it answers. Also: a throwaway server Postgres database for audit arms.

import { mkdtemp, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { request } from 'undici';
import { withAuditDir } from './gateway-config.ts';
import { cleanEnv, freePort, markReady, memoryOf, readUrlLine, type Child, type ProcessGroup } from './processes.ts';

const SIMULATOR = fileURLToPath(new URL('../test/fakes/llamacpp/fake-main.ts', import.meta.url));
const PROXY = fileURLToPath(new URL('./passthrough-proxy.ts', import.meta.url));
const GATEWAY = fileURLToPath(new URL('../src/main.ts', import.meta.url));

export interface Service {
  url: string;
  child: Child;
}

export interface SimulatorOptions {
  tokensPerS: number;
  slots: number;
  firstTokenDelayMs?: number;
}

export async function startSimulator(group: ProcessGroup, name: string, opts: SimulatorOptions): Promise<Service> {
  const args = ['--port', '0', '--tokens-per-s', String(opts.tokensPerS), '--slots', String(opts.slots), '--first-token-delay-ms', String(opts.firstTokenDelayMs ?? 0)];
  const { child, stdoutLine } = group.spawnNode(name, SIMULATOR, args);
  return { url: await readUrlLine(name, stdoutLine()), child };
}

/** The bare pass-through proxy to `target`; a hop like the gateway, so --profile profiles it too. */
export async function startProxy(group: ProcessGroup, target: string, name = 'proxy'): Promise<Service> {
  const { child, stdoutLine } = group.spawnNode(name, PROXY, ['--target', target, '--port', '0'], cleanEnv(), { profile: true });
  const url = await readUrlLine(name, stdoutLine());
  await markReady(child);
  return { url, child };
}

export interface GatewayStart {
  name: string;
  /** A config object (see gateway-config.ts); written as JSON to the run's temp dir. */
  config: Record<string, unknown>;
  env?: Record<string, string>;
  readyTimeoutMs?: number;
  /** Node flags before the script, for those NODE_OPTIONS refuses. */
  nodeArgs?: readonly string[];
  /** Another checkout's root to run instead of this one (the A/B tools compare two trees). */
  tree?: string;
}

/** A gateway on the embedded audit store loads PGlite (WASM) first: on two busy cores that took more than 30 s. */
const READY_TIMEOUT_MS = 90_000;

/** What starting a gateway needs from the run: its process group (which knows whether to profile) and temp dir. */
export interface GatewayHost {
  procs: ProcessGroup;
  tmpDir: string;
}

/**
 * Starts `node src/main.ts --config <file>` on a free port and waits until every pool is ready.
 * An embedded audit store gets a fresh data dir under the run's temp dir, as on a first start.
 */
export async function startGateway(host: GatewayHost, opts: GatewayStart): Promise<Service> {
  const port = await freePort();
  const file = join(host.tmpDir, `${opts.name}.json`);
  const config = withAuditDir(opts.config, await mkdtemp(join(host.tmpDir, `${opts.name}-audit-`)));
  await writeFile(file, JSON.stringify(config, null, 2));
  // As `npm start` runs it: a compile cache (one per run, so every gateway after the first starts
  // warm) and two malloc arenas (package.json "start", docs/operations.md "Memory").
  const env = cleanEnv({ HOST: '127.0.0.1', PORT: String(port), NODE_COMPILE_CACHE: join(host.tmpDir, 'compile-cache'), MALLOC_ARENA_MAX: '2', ...opts.env });
  const { child } = host.procs.spawnNode(opts.name, opts.tree === undefined ? GATEWAY : join(resolve(opts.tree), 'src/main.ts'), ['--config', file], env, { profile: true, ...(opts.nodeArgs ? { nodeArgs: opts.nodeArgs } : {}) });
  const url = `http://127.0.0.1:${port}`;
  await waitReady(url, child, opts.readyTimeoutMs ?? READY_TIMEOUT_MS);
  await markReady(child);
  return { url, child };
}

/** How long a fresh gateway is left alone before its idle footprint is read. */
export const IDLE_SETTLE_MS = 2_000;

/**
 * The resident memory of a gateway that is ready and has served nothing yet, in MiB: read from
 * /proc after IDLE_SETTLE_MS so start-up garbage had a chance to be collected.
 */
export async function idleRssMiB(gateway: Service, settleMs = IDLE_SETTLE_MS): Promise<number> {
  await sleep(settleMs);
  return memoryOf(gateway.child.pid).rssKiB / 1024;
}

async function waitReady(url: string, child: Child, timeoutMs: number): Promise<void> {
  let exitCode: number | null | undefined;
  void child.exited.then((code) => (exitCode = code));
  const deadline = performance.now() + timeoutMs;
  let last = 'no answer yet';
  while (performance.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`${child.name} exited (code ${exitCode}) while starting:\n${child.tail()}`);
    try {
      const res = await request(`${url}/readyz`, { method: 'GET', headersTimeout: 1_000, bodyTimeout: 1_000 });
      const body = (await res.body.json()) as { pools?: Record<string, boolean> };
      const pools = Object.values(body.pools ?? {});
      if (res.statusCode === 200 && pools.length > 0 && pools.every(Boolean)) return;
      last = `readyz ${res.statusCode} ${JSON.stringify(body)}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(50);
  }
  throw new Error(`${child.name} was not ready within ${timeoutMs} ms (${last}):\n${child.tail()}`);
}

interface PoolsBody {
  pools?: Array<{ id: string; slots?: { busy?: number }; queue?: { depth?: number } }>;
}

/** Reads every pool's busy slots and queue depth from GET /v1/pools. */
export async function gatewayLoad(url: string): Promise<{ busy: number; queued: number }> {
  const res = await request(`${url}/v1/pools`, { method: 'GET', headersTimeout: 2_000, bodyTimeout: 2_000 });
  const body = (await res.body.json()) as PoolsBody;
  let busy = 0;
  let queued = 0;
  for (const pool of body.pools ?? []) {
    busy += pool.slots?.busy ?? 0;
    queued += pool.queue?.depth ?? 0;
  }
  return { busy, queued };
}

/**
 * Waits (bounded) until the gateway runs and queues nothing: a client that hung up does not
 * cancel its task, so leftovers of one measurement must not run into the next.
 */
export async function waitGatewayIdle(url: string, timeoutMs = 10_000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    try {
      const { busy, queued } = await gatewayLoad(url);
      if (busy === 0 && queued === 0) return true;
    } catch {
      // A busy gateway may time out a status call; try again until the deadline.
    }
    await sleep(50);
  }
  return false;
}

const ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export async function withPgClient<T>(url: string, use: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

export interface BenchDatabase {
  url: string;
  drop(): Promise<void>;
}

/**
 * A fresh database on the local server Postgres (127.0.0.1:5432, trust auth) for one scenario's
 * audit arm, or why there is none; drop() removes it whatever the gateway left connected.
 */
export async function createBenchDatabase(label: string): Promise<BenchDatabase | { unavailable: string }> {
  const name = `orchqueue_bench_${label.replace(/\W+/g, '_')}_${process.pid}_${Date.now()}`;
  try {
    await withPgClient(ADMIN_URL, (c) => c.query(`CREATE DATABASE ${name}`));
  } catch (err) {
    return { unavailable: `server Postgres at 127.0.0.1:5432 was not usable (${err instanceof Error ? err.message : String(err)})` };
  }
  return {
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    drop: async () => {
      await withPgClient(ADMIN_URL, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => undefined);
    },
  };
}
