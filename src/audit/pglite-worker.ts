// The audit worker: owns the PGlite instance and the SqlAuditStore on its own thread, so a
// 200-row commit (~30 ms of WASM work) never stalls the gateway's event loop. It only answers
// requests from pglite-store.ts; it has no other inputs and decides nothing.
//
// Started as a child process with `--initialise <dir>` instead, it creates and migrates a new data
// directory and exits. initdb and the migrations grow a process's WebAssembly memory, V8 heap and
// malloc arenas for good; even a worker thread that ends leaves ~65 MiB in the gateway's malloc
// arenas, while an ended process gives everything back (docs/operations.md "Memory").

import { PGlite } from '@electric-sql/pglite';
import { isMainThread, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { compactHeap } from '../heap-compaction.ts';
import { createPglite } from './pglite-bundle.ts';
import { pgliteDriver } from './pglite-driver.ts';
import { INITIALISE_FLAG, STORE_METHODS, toWireError, type WorkerOptions, type WorkerReply, type WorkerRequest, type WorkerStatus } from './pglite-protocol.ts';
import { openSqlStore, type SqlAuditStore } from './sql-store.ts';

function isRequest(value: unknown): value is WorkerRequest {
  if (typeof value !== 'object' || value === null) return false;
  const { id, method, args } = value as Record<string, unknown>;
  return typeof id === 'number' && STORE_METHODS.some((m) => m === method) && Array.isArray(args);
}

async function answer(store: SqlAuditStore, request: WorkerRequest): Promise<WorkerReply> {
  try {
    // The method name was checked against STORE_METHODS; arguments are the caller's, cloned.
    const method = store[request.method] as (...args: unknown[]) => Promise<unknown>;
    const value = await method.apply(store, request.args);
    return { id: request.id, ok: true, value };
  } catch (error) {
    return { id: request.id, ok: false, error: toWireError(error) };
  }
}

// Postgres' own memory lives in the WebAssembly heap, which never shrinks, and PGlite touches all of
// shared_buffers at start: its 128 MB default alone was ~130 MiB resident. The audit appends to the
// end of a few relations and pages through indexes; pages it misses are read back from the data
// directory's files, which the OS page cache holds outside this process's memory.
// docs/operations.md "Memory" has the measurements.
const POSTGRES_SETTINGS = [
  'shared_buffers=4MB', // 512 pages: the append tails, catalogs and a 1000-row page of /v1/audit
  'maintenance_work_mem=16MB', // bounds CREATE INDEX / VACUUM on a large log (default 64 MB)
];

function postgresStartParams(): string[] {
  return [...PGlite.defaultStartParams, ...POSTGRES_SETTINGS.flatMap((setting) => ['-c', setting])];
}

async function serve(port: MessagePort, options: WorkerOptions): Promise<void> {
  let store: SqlAuditStore;
  try {
    const db = await createPglite(options.dataDir, { startParams: postgresStartParams() });
    store = await openSqlStore('pglite', pgliteDriver(db));
  } catch (error) {
    port.postMessage({ type: 'failed', error: toWireError(error) } satisfies WorkerStatus);
    return;
  }
  port.on('message', (message: unknown) => {
    if (!isRequest(message)) return;
    void answer(store, message).then((reply) => {
      port.postMessage(reply);
      if (message.method === 'close' && reply.ok) port.close();
    });
  });
  compactHeap(); // PGlite's start-up garbage (its 6 MB file bundle, unpacked) goes before serving
  port.postMessage({ type: 'ready' } satisfies WorkerStatus);
}

async function initialise(dataDir: string): Promise<WorkerStatus> {
  try {
    const db = await PGlite.create(dataDir, { startParams: postgresStartParams() });
    const store = await openSqlStore('pglite', pgliteDriver(db));
    await store.close();
    return { type: 'ready' };
  } catch (error) {
    return { type: 'failed', error: toWireError(error) };
  }
}

if (!isMainThread && parentPort !== null) {
  void serve(parentPort, workerData as WorkerOptions);
} else if (process.send !== undefined && process.argv[2] === INITIALISE_FLAG && process.argv[3] !== undefined) {
  // A gateway that dies mid-way takes this process with it; its next start removes the directory.
  process.once('disconnect', () => process.exit(1));
  const status = await initialise(process.argv[3]);
  process.send(status, () => process.disconnect());
}
