// The embedded backend as seen from the main thread: an AuditStore whose every call is a
// message to the audit worker. If the worker dies, pending calls fail (the writer treats that
// as a store outage) and the next call starts a fresh worker on the same data directory.

import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { DEFAULT_CHAIN, type ChainedRow, type ChainHead } from './hash-chain.ts';
import { fromWireError, INITIALISE_FLAG, type StoreMethod, type WorkerOptions, type WorkerReply, type WorkerStatus } from './pglite-protocol.ts';
import type { AuditRow, OpenAdmission } from './records.ts';
import type { SqlParam, SqlRow } from './sql-driver.ts';
import { encodeBatch } from './sql-rows.ts';
import type { AuditHold, AuditQuery, AuditStore, NewHold, PurgeOutcome, PurgeRequest, RetentionSetting } from './store.ts';
import type { VerifyResult } from './verify-chain.ts';

export const MEMORY_DATA_DIR = 'memory://';
const WORKER_URL = new URL('./pglite-worker.ts', import.meta.url);

export type SpawnWorker = (url: URL, options: WorkerOptions) => Worker;

// The worker's JavaScript is a message pump over PGlite; Postgres' memory is WebAssembly memory,
// outside these limits. Without them V8 let its heap grow to ~150 MiB of mostly garbage (PGlite's
// per-query buffers) before collecting. The largest live set is a 10,000-row /v1/audit page
// (sql-store MAX_QUERY_LIMIT) as rows plus its wire copy, well under the old-space limit; a worker
// that still runs out is lost like a crashed one and restarted by the next call.
const WORKER_RESOURCE_LIMITS: ResourceLimits = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 96 };

// The worker is a plain .ts file entry: the parent's entry flags (-e, --input-type, --import
// preloads) must not apply to it, and Node >= 22.18 strips types without any flag.
const spawnWorker: SpawnWorker = (url, options) =>
  new Worker(url, { workerData: options, execArgv: [], resourceLimits: WORKER_RESOURCE_LIMITS });

/**
 * Keeps PGlite's Postgres (a 9 MB WebAssembly module) on V8's baseline compiler, Liftoff. As it
 * warms up V8 would otherwise re-compile its hottest functions with TurboFan: those compiles peak
 * at +500 MiB resident and leave ~100 MiB of code and compiler memory behind, and on a small
 * machine they take CPU from commits for the first minutes. V8 flags are per process (a worker
 * cannot take its own), so this also covers the only other WebAssembly the gateway runs, undici's
 * llhttp, where the CPU per proxied stream did not change measurably (docs/operations.md "Memory").
 * The implied flags are spelled out: V8 derives them from --liftoff-only only at process start.
 */
function pinWebAssemblyToBaseline(): void {
  setFlagsFromString('--liftoff-only --no-wasm-tier-up --no-wasm-dynamic-tiering');
}

/** The data directory cannot be used or created; the message names the path and what to do. */
export class AuditDataDirError extends Error {
  override readonly name = 'AuditDataDirError';
}

// PGlite runs initdb when the directory has no PG_VERSION; this file is what marks it initialised.
const INITIALISED_MARKER = 'PG_VERSION';
const INIT_SUFFIX = '.initialising-';

async function isInitialised(dataDir: string): Promise<boolean> {
  try {
    await stat(join(dataDir, INITIALISED_MARKER));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new AuditDataDirError(`audit.data_dir ${dataDir}: ${(error as Error).message}`);
  }
}

/** Entries of an existing directory, or null when there is none. */
async function entriesOf(dir: string): Promise<string[] | null> {
  try {
    return await readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new AuditDataDirError(`audit.data_dir ${dir}: ${(error as Error).message}`);
  }
}

/** Removes temp directories a start that died during initialisation left beside dataDir. */
async function removeLeftoverInits(dataDir: string): Promise<void> {
  const prefix = basename(dataDir) + INIT_SUFFIX;
  const siblings = (await entriesOf(dirname(dataDir))) ?? [];
  await Promise.all(siblings.filter((name) => name.startsWith(prefix)).map((name) => rm(join(dirname(dataDir), name), { recursive: true, force: true })));
}

// The initialiser gets the worker's bounds as flags: the same baseline-only WebAssembly (see
// pinWebAssemblyToBaseline) and about the same heap caps (WORKER_RESOURCE_LIMITS).
const INIT_NODE_FLAGS = ['--liftoff-only', '--no-wasm-tier-up', '--no-wasm-dynamic-tiering', '--max-old-space-size=96', '--max-semi-space-size=2'];

/** Runs pglite-worker.ts --initialise dir in a child process and waits for it to end. */
function initialiseIn(dir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // execArgv replaces the parent's (-e, --import preloads, test runners' loaders); stderr stays visible.
    const child = fork(fileURLToPath(WORKER_URL), [INITIALISE_FLAG, dir], { execArgv: INIT_NODE_FLAGS, stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    let status: WorkerStatus | undefined;
    let backstop: NodeJS.Timeout | undefined;
    child.once('message', (message: WorkerStatus) => {
      status = message;
      // It disconnects and exits after its reply; kill is the backstop.
      backstop = setTimeout(() => child.kill('SIGKILL'), 5_000);
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(backstop);
      if (status?.type === 'failed') reject(fromWireError(status.error));
      else if (status?.type === 'ready') resolve();
      else reject(new Error(`the audit initialiser ended (${signal ?? `exit code ${code}`}) before it finished`));
    });
  });
}

export interface PgliteStoreOptions {
  dataDir: string;
  /** Seam for tests that need to hold (and kill) the worker. */
  spawn?: SpawnWorker;
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
}

function started(worker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number): void => reject(new Error(`audit worker exited with code ${code} before it was ready`));
    worker.once('exit', onExit);
    worker.once('error', reject);
    worker.once('message', (status: WorkerStatus) => {
      worker.off('exit', onExit);
      worker.off('error', reject);
      if (status.type === 'ready') resolve();
      else reject(fromWireError(status.error));
    });
  });
}

export class PgliteWorkerStore implements AuditStore {
  readonly backend = 'pglite' as const;
  readonly chain = DEFAULT_CHAIN;
  readonly #options: WorkerOptions;
  readonly #spawn: SpawnWorker;
  readonly #pending = new Map<number, Pending>();
  #worker: Promise<Worker> | null = null;
  #nextId = 1;
  #closed = false;

  private constructor(options: WorkerOptions, spawn: SpawnWorker) {
    this.#options = options;
    this.#spawn = spawn;
  }

  static async open(options: PgliteStoreOptions): Promise<PgliteWorkerStore> {
    const dataDir = options.dataDir === MEMORY_DATA_DIR ? MEMORY_DATA_DIR : resolve(options.dataDir);
    const spawn = options.spawn ?? spawnWorker;
    pinWebAssemblyToBaseline();
    if (dataDir !== MEMORY_DATA_DIR && !(await isInitialised(dataDir))) await PgliteWorkerStore.#initialise(dataDir);
    const store = new PgliteWorkerStore({ dataDir }, spawn);
    await store.#ensureWorker();
    return store;
  }

  /**
   * Creates and migrates a new data directory in a process that ends once done (pglite-worker.ts --initialise):
   * in the gateway, initdb and the migrations would keep ≈ 70 MiB more than a restart for good,
   * even from a worker thread that ends (docs/operations.md "Memory"). The
   * directory is built beside dataDir and renamed into place only when complete, so a start that
   * dies part-way leaves a temp directory (removed by the next start), never a half-made dataDir.
   */
  static async #initialise(dataDir: string): Promise<void> {
    const existing = await entriesOf(dataDir);
    if (existing !== null && existing.length > 0) {
      throw new AuditDataDirError(`audit.data_dir ${dataDir} is not empty but holds no PGlite database (no ${INITIALISED_MARKER}); point audit.data_dir at an empty or absent directory, or move its contents away`);
    }
    try {
      await mkdir(dirname(dataDir), { recursive: true });
      await removeLeftoverInits(dataDir);
    } catch (error) {
      throw error instanceof AuditDataDirError ? error : new AuditDataDirError(`audit.data_dir ${dataDir}: ${(error as Error).message}`);
    }
    const temp = `${dataDir}${INIT_SUFFIX}${randomBytes(4).toString('hex')}`;
    try {
      await initialiseIn(temp);
      // Replaces the empty dataDir, if any; fails if another process created a database there meanwhile.
      await rename(temp, dataDir);
    } catch (error) {
      await rm(temp, { recursive: true, force: true });
      if (error instanceof AuditDataDirError) throw error;
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOTEMPTY' || code === 'EEXIST') {
        throw new AuditDataDirError(`audit.data_dir ${dataDir} was filled by someone else while this gateway initialised it; a PGlite directory belongs to one gateway process at a time`);
      }
      // Postgres and migration errors keep their message and SQLSTATE; only the path is added.
      throw Object.assign(new AuditDataDirError(`audit.data_dir ${dataDir}: initialising failed: ${(error as Error).message}`), code === undefined ? {} : { code });
    }
  }

  #ensureWorker(): Promise<Worker> {
    if (this.#worker !== null) return this.#worker;
    const worker = this.#spawn(WORKER_URL, this.#options);
    const ready = started(worker).then(() => worker);
    this.#worker = ready;
    worker.on('message', (reply: WorkerReply) => this.#settle(reply));
    worker.once('exit', (code) => this.#lost(ready, new Error(`audit worker exited with code ${code}`)));
    worker.on('error', (error) => this.#lost(ready, error));
    ready.catch(() => this.#lost(ready, new Error('audit worker failed to start')));
    return ready;
  }

  #settle(reply: WorkerReply): void {
    if (typeof reply !== 'object' || reply === null || !('id' in reply)) return;
    const pending = this.#pending.get(reply.id);
    if (pending === undefined) return;
    this.#pending.delete(reply.id);
    if (reply.ok) pending.resolve(reply.value);
    else pending.reject(fromWireError(reply.error));
  }

  #lost(worker: Promise<Worker>, error: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = null;
    for (const pending of this.#pending.values()) pending.reject(error);
    this.#pending.clear();
  }

  async #call(method: StoreMethod, ...args: unknown[]): Promise<unknown> {
    if (this.#closed && method !== 'close') throw new Error('audit store is closed');
    const worker = await this.#ensureWorker();
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // Posted once this turn of the event loop is done. An admission's commit is asked for just
      // after its engine call starts, and undici writes that request from a setImmediate of its
      // own (queued first): waking the worker before it let the worker take the CPU from the
      // event loop (on 2 cores, often for its whole commit) before the engine request was
      // written, which undid the overlap of the two (docs/architecture.md "Audit").
      setImmediate(() => worker.postMessage({ id, method, args }));
    });
  }

  // Each method's result type is what SqlAuditStore returns on the other side of the channel.
  head(): Promise<ChainHead> { return this.#call('head') as Promise<ChainHead>; }
  async append(rows: readonly ChainedRow[]): Promise<void> { await this.#call('appendEncoded', encodeBatch(rows)); }
  query(query: AuditQuery): Promise<AuditRow[]> { return this.#call('query', query) as Promise<AuditRow[]>; }
  verify(): Promise<VerifyResult> { return this.#call('verify') as Promise<VerifyResult>; }
  purgePrefix(request: PurgeRequest): Promise<PurgeOutcome> { return this.#call('purgePrefix', request) as Promise<PurgeOutcome>; }
  syncRetention(days: number | null): Promise<RetentionSetting> { return this.#call('syncRetention', days) as Promise<RetentionSetting>; }
  openAdmissions(afterSeq: number, limit: number): Promise<OpenAdmission[]> { return this.#call('openAdmissions', afterSeq, limit) as Promise<OpenAdmission[]>; }
  addHold(hold: NewHold): Promise<AuditHold> { return this.#call('addHold', hold) as Promise<AuditHold>; }
  async removeHold(id: string): Promise<boolean> { return (await this.#call('removeHold', id)) === true; }
  listHolds(): Promise<AuditHold[]> { return this.#call('listHolds') as Promise<AuditHold[]>; }
  /** One statement on the tenancy tables (migrations/0003), run by the worker. */
  sql(statement: string, params: readonly SqlParam[] = []): Promise<SqlRow[]> { return this.#call('sql', statement, params) as Promise<SqlRow[]>; }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#worker === null) return;
    const worker = await this.#worker.catch(() => null);
    if (worker === null) return;
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    await this.#call('close').catch(() => undefined);
    // The worker's port closes after the reply, which lets its thread end; terminate is the backstop.
    const timer = setTimeout(() => void worker.terminate(), 5_000);
    await exited;
    clearTimeout(timer);
  }
}
