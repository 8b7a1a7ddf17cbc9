// The audit composition: picks the backend from config, opens the store (migrations applied),
// hands the configured retention to the database (it only takes it from the owner role), starts
// the writer on the stored chain head and runs retention. main.ts calls this once.

import type { AuditConfig } from '../config/schema.ts';
import type { Clock } from '../core/ports.ts';
import { systemClock } from '../system-clock.ts';
import type { ChainLock } from './chain-lock.ts';
import type { AuditLogger } from './gap-reporter.ts';
import { DEFAULT_CHAIN } from './hash-chain.ts';
import { PgliteWorkerStore } from './pglite-store.ts';
import { noopRecorder, type AuditRecorder } from './recorder.ts';
import { coalesceRejections } from './rejection-coalescer.ts';
import type { SqlParam, SqlRow } from './sql-driver.ts';
import type { AuditStore } from './store.ts';

import { AuditWriter } from './writer.ts';

export type SqlRunner = (statement: string, params?: readonly SqlParam[]) => Promise<SqlRow[]>;

export interface Audit {
  /** null when audit.backend is off. */
  store: AuditStore | null;
  /** The tenancy tables' seam into the same database (absent when audit.backend is off). */
  sql?: SqlRunner;
  writer: AuditRecorder;
  /** Drains the writer, stops retention, closes the store. */
  close(): Promise<void>;
}

export interface CreateAuditDeps {
  logger: AuditLogger;
  clock?: Clock;
  /** Where DATABASE_URL is read from (process.env in main.ts). */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * The chain this gateway writes on server Postgres (audit-chain.ts auditChainOf: the replica id
   * with state.backend redis); PGlite always keeps the default chain.
   */
  chain?: string;
}

const DAY_MS = 86_400_000;
const RETENTION_INTERVAL_MS = 3_600_000;
// The database refuses a cutoff newer than its own now() - retention_days; this much slack keeps
// a gateway clock slightly ahead of the database's from being refused every hour.
export const RETENTION_SKEW_MARGIN_MS = 300_000;
export const RETENTION_ACTOR = 'system:retention';

export function databaseUrlOf(config: AuditConfig, env: Readonly<Record<string, string | undefined>>): string {
  const url = env.DATABASE_URL ?? config.database_url;
  if (url === undefined || url === '') throw new Error('audit.backend is postgres but neither DATABASE_URL nor audit.database_url is set');
  return url;
}

type OpenedStore = AuditStore & { sql: SqlRunner };

/** The chain's writer lock, held until the store closes: a second writer of the chain is refused here. */
async function lockChain(connectionString: string, chain: string, logger: AuditLogger): Promise<ChainLock> {
  const { acquireChainLock } = await import('./chain-lock.ts');
  return acquireChainLock({
    connectionString, chain,
    onLost: (error) => logger.error({ chain, err: error.message }, 'audit: the connection holding the chain\'s writer lock was lost; taking the lock again'),
    onRelocked: () => logger.warn({ chain }, 'audit: the chain\'s writer lock is held again'),
    onTaken: () => logger.error({ chain }, 'audit: another gateway process took this chain\'s writer lock while its connection was lost: two writers on one chain will fork it; stop one of them'),
  });
}

async function openStore(config: AuditConfig, deps: CreateAuditDeps): Promise<{ store: OpenedStore; lock: ChainLock | null }> {
  const env = deps.env ?? {};
  const chain = deps.chain ?? DEFAULT_CHAIN;
  if (config.backend === 'postgres') {
    const connectionString = databaseUrlOf(config, env);
    const lock = await lockChain(connectionString, chain, deps.logger);
    try {
      // Loaded here: the embedded default never needs the pg driver (docs/operations.md "Memory").
      const { openPgStore } = await import('./pg-store.ts');
      const store = await openPgStore({
        connectionString, chain,
        onIdleError: (error) => deps.logger.warn({ err: error.message }, 'audit: an idle Postgres connection failed'),
      });
      return { store, lock };
    } catch (error) {
      await lock.release();
      throw error;
    }
  }
  if (env.DATABASE_URL !== undefined) {
    deps.logger.warn({ data_dir: config.data_dir }, 'DATABASE_URL is set but audit.backend is pglite; set audit.backend: postgres to use it');
  }
  // One process owns a PGlite directory, so its log is one chain.
  return { store: await PgliteWorkerStore.open({ dataDir: config.data_dir }), lock: null };
}

function startRetention(config: AuditConfig, writer: AuditRecorder, deps: CreateAuditDeps): () => void {
  const days = config.retention_days;
  if (days === undefined) return () => undefined;
  const clock = deps.clock ?? systemClock;
  const run = (): void => {
    writer.purge(new Date(clock.now() - days * DAY_MS - RETENTION_SKEW_MARGIN_MS), RETENTION_ACTOR).then(
      (result) => { if (result.deleted_rows > 0) deps.logger.warn({ ...result }, 'audit retention purged rows'); },
      (error: unknown) => deps.logger.warn({ err: String(error) }, 'audit retention purge failed; will retry'),
    );
  };
  const first = setTimeout(run, 0);
  const every = setInterval(run, RETENTION_INTERVAL_MS);
  first.unref();
  every.unref();
  return () => {
    clearTimeout(first);
    clearInterval(every);
  };
}

/** The owner writes the configured retention into the database; any other role can only read it. */
async function syncRetention(store: AuditStore, config: AuditConfig, logger: AuditLogger): Promise<void> {
  const wanted = config.retention_days ?? null;
  const setting = await store.syncRetention(wanted);
  if (setting.retention_days === wanted) return;
  logger.warn(
    { configured_days: wanted, database_days: setting.retention_days },
    setting.retention_days === null
      ? 'audit.retention_days is set but the database owner has not configured retention: purges are refused (see docs/operations.md "Retention")'
      : 'audit.retention_days differs from the retention the database owner configured; the database refuses cutoffs newer than its own',
  );
}

export async function createAudit(config: AuditConfig, deps: CreateAuditDeps): Promise<Audit> {
  if (config.backend === 'off') return { store: null, writer: noopRecorder(), close: () => Promise.resolve() };
  const { store, lock } = await openStore(config, deps);
  let writer: AuditWriter;
  try {
    await syncRetention(store, config, deps.logger);
    writer = await AuditWriter.start(config, deps.clock === undefined ? { store, logger: deps.logger } : { store, logger: deps.logger, clock: deps.clock });
  } catch (error) {
    await store.close().catch(() => undefined);
    await lock?.release();
    throw error;
  }
  const stopRetention = startRetention(config, writer, deps);
  // Identical refusals under a burst share a row (issue 14); see rejection-coalescer.ts.
  const recorder = coalesceRejections(writer, deps.clock);
  return {
    store,
    sql: (statement, params) => store.sql(statement, params),
    writer: recorder,
    async close() {
      stopRetention();
      await recorder.close();
      await store.close();
      await lock?.release();
    },
  };
}
