// One writer per audit chain on server Postgres: a session advisory lock on the chain's name, held
// on a connection of its own for as long as the gateway runs. Two processes appending to one chain
// would fork it (both extend the same head; one insert fails on the key, and each then reads the
// other's rows as its head moving), so the second is refused at start with a clear error instead.

import pg from 'pg';

/** The advisory lock's first key: the class of lock; the second is hashtext(chain). */
const LOCK_CLASS = 'orchqueue.audit.chain';
const RELOCK_INTERVAL_MS = 2_000;

/** Another process holds the chain: the message says which chain and what to do. */
export class AuditChainInUseError extends Error {
  override readonly name = 'AuditChainInUseError';
  readonly code = 'AUDIT_CHAIN_IN_USE';
}

export interface ChainLockOptions {
  connectionString: string;
  chain: string;
  connectTimeoutMs?: number;
  /** Told when the lock's connection is lost, and whether taking the lock again succeeded. */
  onLost?: (error: Error) => void;
  onRelocked?: () => void;
  /** Another process took the chain while this one had lost its connection. */
  onTaken?: () => void;
}

export interface ChainLock {
  release(): Promise<void>;
}

export function chainInUseMessage(chain: string): string {
  return `audit chain "${chain}" is already being written by another gateway process on this database `
    + '(it holds the chain\'s advisory lock). Each process writing to one database needs its own chain: '
    + 'set state.replica_id (ORCHQUEUE_REPLICA_ID) to a name no other replica uses with state.backend redis, '
    + 'or stop the other process; with state.backend memory only one gateway may write to a database '
    + '(docs/operations.md "Several writers")';
}

async function tryLock(options: ChainLockOptions): Promise<pg.Client | null> {
  const client = new pg.Client({
    connectionString: options.connectionString,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 2_000,
    application_name: 'orchqueue-audit-chain-lock',
  });
  // Until watch() takes over, an 'error' from the idle connection must not end the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    const result = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1), hashtext($2)) AS locked', [LOCK_CLASS, options.chain]);
    if (result.rows[0]?.locked === true) return client;
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
  await client.end().catch(() => undefined);
  return null;
}

/**
 * Takes the chain's lock or throws AuditChainInUseError. If the lock's connection is lost (the
 * server restarted), the lock went with it: it is taken again every RELOCK_INTERVAL_MS until it
 * is, and a process that took the chain meanwhile is reported through onTaken.
 */
export async function acquireChainLock(options: ChainLockOptions): Promise<ChainLock> {
  const first = await tryLock(options);
  if (first === null) throw new AuditChainInUseError(chainInUseMessage(options.chain));
  let client: pg.Client | null = first;
  let released = false;
  let takenReported = false;
  let timer: NodeJS.Timeout | undefined;

  const retryLater = (): void => {
    timer = setTimeout(relock, RELOCK_INTERVAL_MS);
    timer.unref();
  };

  function relock(): void {
    timer = undefined;
    if (released) return;
    tryLock(options).then((next) => {
      if (released) return void next?.end().catch(() => undefined);
      if (next !== null) {
        takenReported = false;
        watch(next);
        options.onRelocked?.();
        return;
      }
      // Reported once per loss, not at every retry.
      if (!takenReported) options.onTaken?.();
      takenReported = true;
      retryLater();
    }, retryLater);
  }

  function watch(held: pg.Client): void {
    client = held;
    // A client losing its connection emits 'error' (possibly more than once); unhandled, one would end the process.
    held.on('error', (error) => {
      if (released || client !== held) return;
      client = null;
      options.onLost?.(error);
      held.end().catch(() => undefined);
      relock();
    });
  }
  watch(first);

  return {
    async release() {
      released = true;
      clearTimeout(timer);
      const held = client;
      client = null;
      // Ending the session releases its advisory locks.
      await held?.end().catch(() => undefined);
    },
  };
}
