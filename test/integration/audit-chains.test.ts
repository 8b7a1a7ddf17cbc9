// Several writers on one server Postgres (issue 15, item 2): one hash chain per gateway replica,
// each with its own seq, marks and purges, and verify walking every registered chain. Also: the
// pre-chain fixture still verifies after migration 0004 on both backends, and a second process on
// one chain is refused at start. Each test has a database of its own.

import { PGlite } from '@electric-sql/pglite';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { acquireChainLock, AuditChainInUseError } from '../../src/audit/chain-lock.ts';
import { createAudit } from '../../src/audit/create-audit.ts';
import { chainRecords } from '../../src/audit/hash-chain.ts';
import { migrate, readMigrations } from '../../src/audit/migrate.ts';
import { verifyNdjson, exportNdjson } from '../../src/audit/ndjson-export.ts';
import { pgDriver } from '../../src/audit/pg-driver.ts';
import { openPgStore } from '../../src/audit/pg-store.ts';
import { pgliteDriver } from '../../src/audit/pglite-driver.ts';
import type { SqlDriver } from '../../src/audit/sql-driver.ts';
import { SqlAuditStore } from '../../src/audit/sql-store.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import type { AuditConfig } from '../../src/config/schema.ts';
import type { Clock } from '../../src/core/ports.ts';
import { loadChainV1 } from '../support/audit-chain-v1.ts';
import { adminQuery, admittedFact, createTestDatabase, databaseUrl, recordingLogger, terminalFact, until } from './audit-backends.ts';

const OPTIONS = { batch_max_rows: 16, batch_max_ms: 1, buffer_max_rows: 10_000, fail_closed: true };
const DAY_MS = 86_400_000;

async function asOwner<T>(url: string, work: (driver: SqlDriver) => Promise<T>): Promise<T> {
  const driver = pgDriver({ connectionString: url, maxConnections: 1 });
  try {
    return await work(driver);
  } finally {
    await driver.close();
  }
}

/** Opens a writer on `chain` and records `tasks` tasks (admission + terminal each), concurrently with whatever else runs. */
async function writeTasks(url: string, chain: string, tasks: number, clock?: Clock): Promise<void> {
  const store = await openPgStore({ connectionString: url, chain });
  const writer = await AuditWriter.start(OPTIONS, clock === undefined ? { store, logger: recordingLogger() } : { store, logger: recordingLogger(), clock });
  try {
    await Promise.all(Array.from({ length: tasks }, async (_, i) => {
      await writer.commitAdmission(admittedFact(`${chain}-task-${i}`));
      writer.finished(terminalFact(`${chain}-task-${i}`));
    }));
    await writer.flush();
  } finally {
    await writer.close();
    await store.close();
  }
}

describe('audit chains on one server Postgres', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let url: string;

  beforeEach(async () => {
    database = await createTestDatabase();
    url = databaseUrl(database.name);
  });

  afterEach(async () => {
    await database.drop();
  });

  it('verifies two writers that wrote concurrently and reports each chain with its own head', async () => {
    await Promise.all([writeTasks(url, 'gw-a', 60), writeTasks(url, 'gw-b', 45)]);
    const store = await openPgStore({ connectionString: url });
    try {
      const result = await store.verify();
      expect(result).toMatchObject({ ok: true, rows: 210 });
      expect(result.chains.map(({ chain, ok, rows }) => ({ chain, ok, rows }))).toEqual([
        { chain: 'gw-a', ok: true, rows: 120 },
        { chain: 'gw-b', ok: true, rows: 90 },
      ]);
      // Several chains: no single head at the top.
      expect(result).not.toHaveProperty('head_seq');
      expect(result.chains[0]).toMatchObject({ head_seq: 120 });
      // seq runs per chain, from 1.
      const first = await store.query({ chain: 'gw-b', limit: 1 });
      expect(first[0]).toMatchObject({ chain: 'gw-b', seq: 1 });
      // The export holds both chains and verifies offline the same way.
      const lines: string[] = [];
      for await (const line of exportNdjson(store)) lines.push(line);
      expect(lines).toHaveLength(210);
      expect(await verifyNdjson(lines)).toMatchObject({ ok: true, rows: 210, chains: [{ chain: 'gw-a', rows: 120 }, { chain: 'gw-b', rows: 90 }] });
    } finally {
      await store.close();
    }
  });

  it('names the chain and the row of a tampered row, and still vouches for the other chain', async () => {
    await Promise.all([writeTasks(url, 'gw-a', 10), writeTasks(url, 'gw-b', 10)]);
    await asOwner(url, (driver) => driver.exec(`
      ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
      UPDATE audit_log SET data = jsonb_set(data, '{tokens_out}', '9999') WHERE chain = 'gw-b' AND seq = 7;
      ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;`));
    const store = await openPgStore({ connectionString: url });
    try {
      const result = await store.verify();
      expect(result).toMatchObject({ ok: false, chain: 'gw-b', first_bad_seq: 7, reason: 'hash does not match the row content' });
      expect(result.chains).toMatchObject([{ chain: 'gw-a', ok: true, rows: 20 }, { chain: 'gw-b', ok: false, first_bad_seq: 7, rows: 6 }]);
    } finally {
      await store.close();
    }
  });

  it('fails a registered chain whose rows were all deleted', async () => {
    await Promise.all([writeTasks(url, 'gw-a', 5), writeTasks(url, 'gw-b', 5)]);
    await asOwner(url, (driver) => driver.exec(`
      ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
      DELETE FROM audit_log WHERE chain = 'gw-a';
      ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;`));
    const store = await openPgStore({ connectionString: url });
    try {
      expect(await store.verify()).toMatchObject({
        ok: false, chain: 'gw-a', first_bad_seq: 1, reason: expect.stringMatching(/chain is empty but the database recorded row 1/),
        chains: [{ chain: 'gw-a', ok: false, rows: 0 }, { chain: 'gw-b', ok: true, rows: 10 }],
      });
    } finally {
      await store.close();
    }
  });

  it('fails rows of a chain the database never registered', async () => {
    await writeTasks(url, 'gw-a', 3);
    // A well-chained row, inserted past the genesis trigger (seq 2: the trigger fires only at seq 1).
    const store = await openPgStore({ connectionString: url, chain: 'intruder' });
    const [row] = chainRecords({ seq: 1, hash: 'c'.repeat(64) }, [{
      at: new Date(Math.trunc(Date.now())), kind: 'control', task_id: null, session_id: null, pool_id: null, actor: 'x', correlation_id: null, data: { action: 'forged' },
    }], 'intruder').rows;
    try {
      await store.append([row!]);
      expect(await store.verify()).toMatchObject({
        ok: false, chain: 'intruder', first_bad_seq: 2, reason: expect.stringMatching(/never registered/),
        chains: [{ chain: 'gw-a', ok: true, rows: 6 }, { chain: 'intruder', ok: false, rows: 0 }],
      });
    } finally {
      await store.close();
    }
  });

  it('purges one chain within retention and every chain still verifies', async () => {
    const past: Clock = { now: () => Date.now() - 40 * DAY_MS, monotonic: () => performance.now() };
    await Promise.all([writeTasks(url, 'gw-a', 5, past), writeTasks(url, 'gw-b', 4, past)]);
    await asOwner(url, (driver) => driver.query('UPDATE audit_settings SET retention_days = 30'));
    const store = await openPgStore({ connectionString: url, chain: 'gw-a' });
    const writer = await AuditWriter.start(OPTIONS, { store, logger: recordingLogger() });
    try {
      expect(await writer.purge(new Date(Date.now() - 31 * DAY_MS), 'ops')).toEqual({ deleted_rows: 10, anchor_seq: 10, seq: 11 });
      await writer.commitAdmission(admittedFact('after-purge'));
      const result = await store.verify();
      expect(result).toMatchObject({ ok: true, rows: 10, chains: [{ chain: 'gw-a', ok: true, rows: 2, head_seq: 12 }, { chain: 'gw-b', ok: true, rows: 8, head_seq: 8 }] });
      const marks = await asOwner(url, (driver) => driver.query('SELECT chain, kind, seq, anchor_seq FROM audit_chain_marks ORDER BY chain, seq'));
      expect(marks.map((mark) => ({ ...mark, seq: Number(mark.seq), anchor_seq: mark.anchor_seq === null ? null : Number(mark.anchor_seq) }))).toEqual([
        { chain: 'gw-a', kind: 'genesis', seq: 1, anchor_seq: null },
        { chain: 'gw-a', kind: 'purge', seq: 11, anchor_seq: 10 },
        { chain: 'gw-b', kind: 'genesis', seq: 1, anchor_seq: null },
      ]);
    } finally {
      await writer.close();
      await store.close();
    }
  });

  it('closes at start only its own chain\'s open tasks, and counts a survivor\'s row in another chain as their end', async () => {
    const lost = await openPgStore({ connectionString: url, chain: 'gw-lost' });
    const survivor = await openPgStore({ connectionString: url, chain: 'gw-survivor' });
    const lostWriter = await AuditWriter.start(OPTIONS, { store: lost, logger: recordingLogger() });
    const survivorWriter = await AuditWriter.start(OPTIONS, { store: survivor, logger: recordingLogger() });
    try {
      await lostWriter.commitAdmission(admittedFact('lost-1'));
      await lostWriter.commitAdmission(admittedFact('lost-2'));
      await survivorWriter.commitAdmission(admittedFact('own-1'));
      await lostWriter.close();
      // The survivor sees only its own open task; the lost replica's are not its to close at start.
      expect((await survivor.openAdmissions(0, 10)).map((open) => open.task_id)).toEqual(['own-1']);
      const [open] = await lost.openAdmissions(0, 1);
      survivorWriter.abandoned(open!, 'gw-lost');
      await survivorWriter.flush();
      const [row] = await survivor.query({ task_id: 'lost-1', kind: 'terminal', limit: 10 });
      expect(row).toMatchObject({
        chain: 'gw-survivor', actor: 'system:replica_lost',
        data: { state: 'abandoned', cause: 'replica_lost', lost_replica: 'gw-lost', admission_seq: 1 },
      });
      // The lost replica, restarted, finds only the task nobody ended.
      expect((await lost.openAdmissions(0, 10)).map((open) => open.task_id)).toEqual(['lost-2']);
      expect(await survivor.verify()).toMatchObject({ ok: true, rows: 4, chains: [{ chain: 'gw-lost', rows: 2 }, { chain: 'gw-survivor', rows: 2 }] });
    } finally {
      await survivorWriter.close();
      await lost.close();
      await survivor.close();
    }
  });

  it('refuses a second gateway process on the same chain at start, naming the chain and what to do, and lets another chain start', async () => {
    const config: AuditConfig = {
      backend: 'postgres', database_url: url, data_dir: 'memory://', fail_closed: true, batch_max_rows: 16, batch_max_ms: 1,
      buffer_max_rows: 1_000, hash_prompts: false,
    };
    const first = await createAudit(config, { logger: recordingLogger(), env: {} });
    try {
      const refused = createAudit(config, { logger: recordingLogger(), env: {} });
      await expect(refused).rejects.toBeInstanceOf(AuditChainInUseError);
      await expect(refused).rejects.toThrow(/audit chain "main" is already being written by another gateway process.*state\.replica_id/);
      const other = await createAudit(config, { logger: recordingLogger(), env: {}, chain: 'gw-b' });
      await other.close();
    } finally {
      await first.close();
    }
    // Once the first has closed, the chain is free again.
    const again = await createAudit(config, { logger: recordingLogger(), env: {} });
    await again.close();
  });
  it('takes the chain\'s lock again after its connection is killed, and still refuses a second writer', async () => {
    const events: string[] = [];
    const lock = await acquireChainLock({
      connectionString: url, chain: 'gw-a',
      onLost: () => events.push('lost'), onRelocked: () => events.push('relocked'), onTaken: () => events.push('taken'),
    });
    try {
      await adminQuery(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${database.name}' AND application_name = 'orchqueue-audit-chain-lock'`);
      await until(() => events.includes('relocked'), 15_000);
      expect(events).toEqual(['lost', 'relocked']);
      await expect(acquireChainLock({ connectionString: url, chain: 'gw-a' })).rejects.toBeInstanceOf(AuditChainInUseError);
    } finally {
      await lock.release();
    }
    const next = await acquireChainLock({ connectionString: url, chain: 'gw-a' });
    await next.release();
  });
});

describe('a pre-chain log after migration 0004', () => {
  const { rows } = loadChainV1();
  const last = rows.at(-1)!;
  const migrations = readMigrations();
  // The rows as the 0001-0003 schema stored them: no chain column.
  const insertV1 = async (driver: SqlDriver): Promise<void> => {
    for (const row of rows) {
      await driver.query(
        `INSERT INTO audit_log (seq, at, kind, task_id, session_id, pool_id, actor, correlation_id, data, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11)`,
        [row.seq, row.at.toISOString(), row.kind, row.task_id, row.session_id, row.pool_id, row.actor, row.correlation_id, JSON.stringify(row.data), row.prev_hash, row.hash],
      );
    }
  };
  const expected = {
    ok: true, rows: rows.length, head_seq: last.seq, head_hash: last.hash,
    chains: [{ chain: 'main', ok: true, rows: rows.length, head_seq: last.seq, head_hash: last.hash }],
  };

  it('verifies on server Postgres as the default chain, and the writer continues it', async () => {
    const database = await createTestDatabase();
    const driver = pgDriver({ connectionString: databaseUrl(database.name) });
    try {
      const all = await migrations;
      expect(all.map((migration) => migration.version)).toContain('0004');
      await migrate(driver, all.filter((migration) => migration.version < '0004'));
      await insertV1(driver);
      expect(await migrate(driver, all)).toEqual(['0004']);
      const store = new SqlAuditStore('postgres', driver);
      expect(await store.verify()).toEqual(expected);
      expect(await store.head()).toEqual({ seq: last.seq, hash: last.hash });
      const writer = await AuditWriter.start(OPTIONS, { store, logger: recordingLogger() });
      await writer.commitAdmission(admittedFact('after-migration'));
      await writer.close();
      expect(await store.verify()).toMatchObject({ ok: true, rows: rows.length + 1, head_seq: last.seq + 1 });
    } finally {
      await driver.close();
      await database.drop();
    }
  });

  // initdb of an in-memory PGlite on this thread costs ~5 s of CPU but 25-40 s of wall time on the
  // shared 2-core machine, hence the longer timeout.
  it('verifies on PGlite as the default chain', async () => {
    const driver = pgliteDriver(await PGlite.create());
    try {
      const all = await migrations;
      await migrate(driver, all.filter((migration) => migration.version < '0004'));
      await insertV1(driver);
      expect(await migrate(driver, all)).toEqual(['0004']);
      expect(await new SqlAuditStore('pglite', driver).verify()).toEqual(expected);
    } finally {
      await driver.close();
    }
  }, 120_000);
});
