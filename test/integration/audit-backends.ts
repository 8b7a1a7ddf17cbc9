// Backend fixtures for the audit integration tests: the same suites run on server Postgres (a
// database of its own per fixture, dropped afterwards) and on PGlite (in-memory, or a temporary
// data directory when a test needs to close, tamper and reopen).

import { PGlite } from '@electric-sql/pglite';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import pg from 'pg';
import type { AuditLogger } from '../../src/audit/gap-reporter.ts';
import { pgDriver } from '../../src/audit/pg-driver.ts';
import { openPgStore } from '../../src/audit/pg-store.ts';
import { pgliteDriver } from '../../src/audit/pglite-driver.ts';
import { MEMORY_DATA_DIR, PgliteWorkerStore } from '../../src/audit/pglite-store.ts';
import type { SqlDriver } from '../../src/audit/sql-driver.ts';
import type { AuditStore } from '../../src/audit/store.ts';
import type { AdmittedFact, TerminalFact } from '../../src/core/observer.ts';

export interface DurableBackend {
  /** Opens the store on the same database every time. */
  open(): Promise<AuditStore>;
  /**
   * Raw SQL as the database superuser. PGlite has a single connection, so every store opened
   * on this location must be closed first.
   */
  asSuperuser<T>(work: (driver: SqlDriver) => Promise<T>): Promise<T>;
  /** Cuts the open store off its database: kills its connections (pg) or its worker (PGlite). */
  sever(): Promise<void>;
  dispose(): Promise<void>;
}

export interface Backend {
  name: 'postgres' | 'pglite';
  /** An empty store for the functional suite (PGlite: in-memory). */
  fresh(): Promise<{ store: AuditStore; dispose(): Promise<void> }>;
  durable(): Promise<DurableBackend>;
}

export function testPgUrl(): string {
  const url = process.env.ORCHQUEUE_TEST_PG_URL;
  // Never skip silently: a missing database is a failure, not a reason to pass.
  if (url === undefined) throw new Error('ORCHQUEUE_TEST_PG_URL is not set; the vitest global setup provides it');
  return url;
}

export function databaseUrl(database: string, user = 'postgres'): string {
  const url = new URL(testPgUrl());
  url.pathname = `/${database}`;
  url.username = user;
  return url.toString();
}

export async function adminQuery(sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: testPgUrl() });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(): Promise<{ name: string; drop(): Promise<void> }> {
  const name = `audit_test_${Math.random().toString(36).slice(2, 10)}`;
  await adminQuery(`CREATE DATABASE ${name}`);
  return { name, drop: async () => void (await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)) };
}

/** Runs `work` on a driver of its own and closes it, whatever happens. */
async function closing<T>(driver: SqlDriver, work: (driver: SqlDriver) => Promise<T>): Promise<T> {
  try {
    return await work(driver);
  } finally {
    await driver.close();
  }
}

async function pgDurable(): Promise<DurableBackend> {
  const database = await createTestDatabase();
  const url = databaseUrl(database.name);
  return {
    open: () => openPgStore({ connectionString: url }),
    asSuperuser: (work) => closing(pgDriver({ connectionString: url, maxConnections: 1 }), work),
    async sever() {
      await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${database.name}' AND pid <> pg_backend_pid()`);
    },
    dispose: database.drop,
  };
}

async function pgliteDurable(): Promise<DurableBackend> {
  const dir = await mkdtemp(join(tmpdir(), 'orchqueue-audit-'));
  const workers: Worker[] = [];
  const spawn = (url: URL, options: { dataDir: string }): Worker => {
    const worker = new Worker(url, { workerData: options, execArgv: [] });
    workers.push(worker);
    return worker;
  };
  return {
    open: () => PgliteWorkerStore.open({ dataDir: dir, spawn }),
    asSuperuser: async (work) => closing(pgliteDriver(await PGlite.create(dir)), work),
    async sever() {
      await Promise.all(workers.splice(0).map((worker) => worker.terminate()));
    },
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

export const BACKENDS: Backend[] = [
  {
    name: 'postgres',
    async fresh() {
      const database = await createTestDatabase();
      const store = await openPgStore({ connectionString: databaseUrl(database.name) });
      return { store, dispose: async () => { await store.close(); await database.drop(); } };
    },
    durable: pgDurable,
  },
  {
    name: 'pglite',
    async fresh() {
      const store = await PgliteWorkerStore.open({ dataDir: MEMORY_DATA_DIR });
      return { store, dispose: () => store.close() };
    },
    durable: pgliteDurable,
  },
];

/** Wraps a store so a test can take it down and count commits, independent of the writer's own counters. */
export function faultyStore(inner: AuditStore): AuditStore & { down: boolean; appends: number } {
  const failIfDown = (): void => {
    if (wrapper.down) throw new Error('connect ECONNREFUSED (test outage)');
  };
  const wrapper = {
    down: false,
    appends: 0,
    backend: inner.backend,
    chain: inner.chain,
    head: async () => (failIfDown(), inner.head()),
    append: async (rows: Parameters<AuditStore['append']>[0]) => {
      failIfDown();
      wrapper.appends += 1;
      return inner.append(rows);
    },
    query: async (query: Parameters<AuditStore['query']>[0]) => (failIfDown(), inner.query(query)),
    verify: async () => (failIfDown(), inner.verify()),
    purgePrefix: async (request: Parameters<AuditStore['purgePrefix']>[0]) => (failIfDown(), inner.purgePrefix(request)),
    syncRetention: async (days: number | null) => (failIfDown(), inner.syncRetention(days)),
    openAdmissions: async (afterSeq: number, limit: number) => (failIfDown(), inner.openAdmissions(afterSeq, limit)),
    addHold: async (hold: Parameters<AuditStore['addHold']>[0]) => (failIfDown(), inner.addHold(hold)),
    removeHold: async (id: string) => (failIfDown(), inner.removeHold(id)),
    listHolds: async () => (failIfDown(), inner.listHolds()),
    close: () => inner.close(),
  };
  return wrapper;
}

export function recordingLogger(): AuditLogger & { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  return { errors, warnings, error: (_fields, message) => errors.push(message), warn: (_fields, message) => warnings.push(message) };
}

export async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function admittedFact(taskId: string, extra: Partial<AdmittedFact> = {}): AdmittedFact {
  return {
    task_id: taskId, pool_id: 'pool-a', priority: 'interactive', correlation_id: `corr-${taskId}`, max_tokens: 64,
    queue_position: 0, predicted_start_ms: 5, policy_label: 'reject', ...extra,
  };
}

export function terminalFact(taskId: string, extra: Partial<TerminalFact> = {}): TerminalFact {
  return {
    task_id: taskId, pool_id: 'pool-a', priority: 'interactive', correlation_id: `corr-${taskId}`, max_tokens: 64,
    state: 'completed', finish_reason: 'stop', replica_id: 'r1', engine: 'mock', tokens_out: 12, prompt_tokens: 7,
    queue_wait_ms: 3, decode_time_ms: 40, e2e_ms: 45, ...extra,
  };
}
