// The server-Postgres backend: the shared SQL store over a node-postgres pool. pg is fully
// asynchronous, so it runs on the main thread; migrations apply on open.

import { pgDriver } from './pg-driver.ts';
import { openSqlStore, type SqlAuditStore } from './sql-store.ts';

export interface PgStoreOptions {
  connectionString: string;
  onIdleError?: (error: Error) => void;
}

export function openPgStore(options: PgStoreOptions): Promise<SqlAuditStore> {
  const driver = pgDriver(options.onIdleError === undefined
    ? { connectionString: options.connectionString }
    : { connectionString: options.connectionString, onIdleError: options.onIdleError });
  return openSqlStore('postgres', driver);
}
