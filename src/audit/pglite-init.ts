// Creates and migrates a new embedded audit directory in a process of its own, started by
// pglite-store.ts and ended once done. initdb and the migrations grow a process's WebAssembly
// memory, V8 heap and malloc arenas for good; even a worker thread that ends leaves ~65 MiB in
// the gateway's malloc arenas, while an ended process gives everything back. Its one input is the
// directory (argv), its one output a WorkerStatus over the IPC channel.

import { PGlite } from '@electric-sql/pglite';
import { pgliteDriver } from './pglite-driver.ts';
import { toWireError, type WorkerStatus } from './pglite-protocol.ts';
import { postgresStartParams } from './pglite-worker.ts';
import { openSqlStore } from './sql-store.ts';

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

const dataDir = process.argv[2];
if (process.send !== undefined && dataDir !== undefined) {
  // A gateway that dies mid-way takes this process with it; its next start removes the directory.
  process.once('disconnect', () => process.exit(1));
  const status = await initialise(dataDir);
  process.send(status, () => process.disconnect());
}
