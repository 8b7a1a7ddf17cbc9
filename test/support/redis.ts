// Redis for tests, never skipped: the shared server at REDIS_URL (or 127.0.0.1:6379), started
// here as a private redis-server when none answers; each test gets its own key prefix and its
// connections are closed and its keys deleted afterwards. `startRedisServer` runs a private
// server on a free port that a test may stop, kill and restart (the Redis-gone tests).

import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';

const BINARY = existsSync('/usr/bin/redis-server') ? '/usr/bin/redis-server' : 'redis-server';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Whether the server process is running now. */
  readonly running: boolean;
  /** Graceful stop (SHUTDOWN NOSAVE semantics via SIGTERM; nothing is persisted). */
  stop(): Promise<void>;
  /** A crash: SIGKILL, connections drop without a goodbye. */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty (no persistence). */
  restart(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('freePort: no TCP address');
  return address.port;
}

function spawnServer(port: number): Promise<ChildProcess> {
  const child = spawn(BINARY, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (!/Ready to accept connections/.test(output)) return;
      child.stdout?.off('data', onData);
      child.stdout?.resume();
      child.off('exit', onExit);
      resolve(child);
    };
    const onExit = (code: number | null) => reject(new Error(`redis-server on port ${port} exited (${code}) before it was ready:\n${output}`));
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (chunk: Buffer) => void (output += chunk.toString()));
    child.once('error', reject);
    child.once('exit', onExit);
  });
}

/**
 * Kills the server when this test process ends however it ends (a vitest worker is often killed
 * without an 'exit' event): a shell reading our stdin pipe sees EOF when we die.
 */
function watchdog(server: ChildProcess): ChildProcess {
  const dog = spawn('sh', ['-c', `read _ignored; kill -9 ${server.pid} 2>/dev/null`], { stdio: ['pipe', 'ignore', 'ignore'] });
  dog.unref();
  return dog;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** A private redis-server on a free port (or `port`); stop it with `stop()` or `kill()`. */
export async function startRedisServer(port?: number): Promise<RedisServer> {
  const chosen = port ?? (await freePort());
  let child: ChildProcess | undefined = await spawnServer(chosen);
  let dog = watchdog(child);
  const halt = async (signal: NodeJS.Signals) => {
    const current = child;
    child = undefined;
    if (current === undefined) return;
    current.kill(signal);
    await exited(current);
    dog.kill('SIGKILL');
  };
  return {
    port: chosen,
    url: `redis://127.0.0.1:${chosen}`,
    get running() {
      return child !== undefined;
    },
    stop: () => halt('SIGTERM'),
    kill: () => halt('SIGKILL'),
    async restart() {
      if (child !== undefined) throw new Error('restart: the server is still running');
      child = await spawnServer(chosen);
      dog = watchdog(child);
    },
  };
}

function answers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port || 6379) });
    socket.setTimeout(1_000);
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('timeout', () => { socket.destroy(); resolve(false); });
    socket.once('error', () => resolve(false));
  });
}

let shared: Promise<string> | undefined;

/** The URL of the Redis tests share: REDIS_URL, else 127.0.0.1:6379, else a server started here. */
export function sharedRedisUrl(): Promise<string> {
  shared ??= (async () => {
    const url = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
    if (await answers(url)) return url;
    return (await startRedisServer()).url;
  })();
  return shared;
}

export interface RedisTestContext {
  readonly url: string;
  /** This test's key prefix, e.g. `oqtest:3f2a…:`. */
  readonly prefix: string;
  /** A connection closed by cleanup(). */
  readonly client: Redis;
  /** Another connection to the same server (blocking reads, subscribers), closed by cleanup(). */
  connect(options?: RedisOptions): Redis;
  /** Closes every connection and deletes every key under the prefix. */
  cleanup(): Promise<void>;
}

/** Deletes every key that starts with `prefix` (SCAN, never KEYS: a shared server stays responsive). */
export async function deleteKeysUnder(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

/** A connection helper on its own key prefix: call in beforeEach, `cleanup` in afterEach. */
export async function redisForTest(url?: string): Promise<RedisTestContext> {
  const target = url ?? (await sharedRedisUrl());
  const prefix = `oqtest:${randomUUID()}:`;
  const connections: Redis[] = [];
  const open = (options: RedisOptions = {}) => {
    const redis = new Redis(target, { maxRetriesPerRequest: 1, ...options });
    connections.push(redis);
    return redis;
  };
  const client = open();
  return {
    url: target,
    prefix,
    client,
    connect: open,
    async cleanup() {
      const janitor = new Redis(target, { maxRetriesPerRequest: 1 });
      try {
        await deleteKeysUnder(janitor, prefix);
      } finally {
        janitor.disconnect();
        for (const redis of connections) redis.disconnect();
      }
    },
  };
}
