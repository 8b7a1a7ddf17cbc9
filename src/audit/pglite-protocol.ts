// Messages between the main thread (pglite-store.ts) and the audit worker (pglite-worker.ts).
// Every AuditStore call becomes one request; values cross by structured clone (Dates survive),
// except appended batches, which cross as three strings (sql-rows.ts encodeBatch).

import type { AuditStore } from './store.ts';

/** The audit store plus the tenancy seam (`sql`, the tables of migrations/0003). */
type WorkerSurface = AuditStore & { sql: unknown };

// A batch travels pre-encoded (sql-rows.ts encodeBatch), not as row objects.
export type StoreMethod = Exclude<keyof WorkerSurface, 'backend' | 'append'> | 'appendEncoded';

export const STORE_METHODS: readonly StoreMethod[] = [
  'head', 'appendEncoded', 'query', 'verify', 'purgePrefix', 'syncRetention', 'openAdmissions', 'addHold', 'removeHold', 'listHolds', 'sql', 'close',
];

export interface WorkerRequest {
  id: number;
  method: StoreMethod;
  args: unknown[];
}

export interface WireError {
  message: string;
  /** SQLSTATE when the database raised it. */
  code?: string;
}

export type WorkerReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

export type WorkerStatus = { type: 'ready' } | { type: 'failed'; error: WireError };

/** argv[2] of the worker module run as a child process that only initialises a new data directory. */
export const INITIALISE_FLAG = '--initialise';

export interface WorkerOptions {
  /** A filesystem path, or "memory://" for an in-memory database. */
  dataDir: string;
}

export function toWireError(error: unknown): WireError {
  if (!(error instanceof Error)) return { message: String(error) };
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' ? { message: error.message, code } : { message: error.message };
}

export function fromWireError(wire: WireError): Error {
  return Object.assign(new Error(wire.message), wire.code === undefined ? {} : { code: wire.code });
}
