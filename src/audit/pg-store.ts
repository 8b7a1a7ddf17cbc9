// The server-Postgres backend: the shared SQL store over a node-postgres pool. pg is fully
// asynchronous, so it runs on the main thread; migrations apply on open. It does not take the
// chain's writer lock (chain-lock.ts): the gateway does, in create-audit.ts, so tests and tools
// may open readers beside a running writer.

import { pgDriver } from './pg-driver.ts';
import { openSqlStore, type SqlAuditStore } from './sql-store.ts';

export interface PgStoreOptions {
  connectionString: string;
  /** The chain it appends to and purges (default: hash-chain.ts DEFAULT_CHAIN). */
  chain?: string;
  onIdleError?: (error: Error) => void;
}

export function openPgStore(options: PgStoreOptions): Promise<SqlAuditStore> {
  const driver = pgDriver(options.onIdleError === undefined
    ? { connectionString: options.connectionString }
    : { connectionString: options.connectionString, onIdleError: options.onIdleError });
  return openSqlStore('postgres', driver, options.chain);
}
