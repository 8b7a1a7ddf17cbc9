// Server-Postgres specifics: the application role's grants (migrations/roles/app-grants.sql,
// quoted in docs/operations.md) leave it unable to rewrite the log; concurrent starts migrate
// once; a real network outage (a TCP proxy we cut) makes the writer refuse, then recover.
// Verifies ORCH-0701 (the application role cannot rewrite the log) and the attacks of issue 10,
// finding 3: purge beyond the owner's retention, the purge GUC, a forged purge row, a wiped and
// restarted chain.

import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPgStore } from '../../src/audit/pg-store.ts';
import { AuditUnavailableError } from '../../src/audit/recorder.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import type { Clock } from '../../src/core/ports.ts';
import { adminQuery, admittedFact, createTestDatabase, databaseUrl, recordingLogger, testPgUrl, until } from './audit-backends.ts';
import pg from 'pg';
import { tcpProxy } from '../support/tcp-proxy.ts';

const GRANTS_FILE = new URL('../../migrations/roles/app-grants.sql', import.meta.url);
const OPERATIONS_DOC = new URL('../../docs/operations.md', import.meta.url);
const OPTIONS = { batch_max_rows: 32, batch_max_ms: 2, buffer_max_rows: 1_000, fail_closed: true };

async function asRole(database: string, role: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl(database, role) });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

describe('audit grants on server Postgres', () => {
  const role = `audit_app_${Math.random().toString(36).slice(2, 10)}`;
  // A role that was (wrongly) granted DELETE: the trigger must still refuse it.
  const intruder = `audit_del_${Math.random().toString(36).slice(2, 10)}`;
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  const DAY_MS = 86_400_000;
  // Rows written 40 days ago, so a 30-day floor leaves them purgeable.
  const past: Clock = { now: () => Date.now() - 40 * DAY_MS, monotonic: () => performance.now() };

  async function asOwner(sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
    const client = new pg.Client({ connectionString: databaseUrl(database.name) });
    await client.connect();
    try {
      return await client.query(sql, params);
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    const owner = await openPgStore({ connectionString: databaseUrl(database.name) });
    await owner.close();
    await adminQuery(`CREATE ROLE ${role} LOGIN`);
    await adminQuery(`CREATE ROLE ${intruder} LOGIN`);
    const grants = (await readFile(GRANTS_FILE, 'utf8')).replaceAll('orchqueue_app', role);
    await asOwner(grants);
    await asOwner(`GRANT USAGE ON SCHEMA public TO ${intruder}; GRANT SELECT, DELETE ON audit_log TO ${intruder}`);
  });

  afterAll(async () => {
    await database.drop();
    await adminQuery(`DROP ROLE IF EXISTS ${role}`);
    await adminQuery(`DROP ROLE IF EXISTS ${intruder}`);
  });

  it('refuses every purge while the owner has not configured retention, and the app role cannot configure it', async () => {
    const store = await openPgStore({ connectionString: databaseUrl(database.name, role) });
    const writer = await AuditWriter.start(OPTIONS, { store, logger: recordingLogger(), clock: past });
    try {
      for (let i = 0; i < 5; i++) await writer.commitAdmission(admittedFact(`unset-${i}`));
      expect(await store.syncRetention(1)).toEqual({ retention_days: null, owner: false });
      await expect(writer.purge(new Date(Date.now() - 35 * DAY_MS), 'ops')).rejects.toThrow(/retention is not configured/);
      await expect(asRole(database.name, role, 'UPDATE audit_settings SET retention_days = 1')).rejects.toThrow(/permission denied/);
      await expect(asRole(database.name, role, `INSERT INTO audit_chain_marks (kind, seq, hash) VALUES ('purge', 99, 'x')`)).rejects.toThrow(/permission denied/);
      expect(await store.query({ limit: 100 })).toHaveLength(5);
    } finally {
      await writer.close();
      await store.close();
    }
  });

  it('lets the application role start, append, read, hold and purge within the owner\'s retention', async () => {
    const owner = await openPgStore({ connectionString: databaseUrl(database.name) });
    expect(await owner.syncRetention(30)).toEqual({ retention_days: 30, owner: true });
    await owner.close();
    const store = await openPgStore({ connectionString: databaseUrl(database.name, role) });
    const writer = await AuditWriter.start(OPTIONS, { store, logger: recordingLogger(), clock: past });
    try {
      for (let i = 0; i < 5; i++) await writer.commitAdmission(admittedFact(`grant-${i}`));
      const hold = await store.addHold({ task_id: 'grant-3', reason: 'case 7', created_by: 'legal' });
      // Rows 1-5 are unset-*, 6-10 grant-*; the hold on grant-3 (seq 9) keeps 9 onwards.
      expect(await writer.purge(new Date(Date.now() - 31 * DAY_MS), 'ops')).toMatchObject({ deleted_rows: 8, anchor_seq: 8 });
      expect(await store.removeHold(hold.id)).toBe(true);
      expect(await store.verify()).toMatchObject({ ok: true, rows: 3 });
      const marks = await asOwner(`SELECT kind, seq, anchor_seq FROM audit_chain_marks ORDER BY seq`);
      expect(marks.rows).toEqual([{ kind: 'genesis', seq: '1', anchor_seq: null }, { kind: 'purge', seq: '11', anchor_seq: '8' }]);
    } finally {
      await writer.close();
      await store.close();
    }
  });

  // ORCH-0701 (issue 10, finding 3)
  it('refuses a purge cutoff newer than the retention floor, "infinity" included, and leaves every row', async () => {
    const before = (await asOwner('SELECT count(*)::int AS n FROM audit_log')).rows[0] as { n: number };
    await expect(asRole(database.name, role, `SELECT * FROM audit_purge_plan('main', 'infinity')`)).rejects.toThrow(/newer than the retention floor of 30 days/);
    await expect(asRole(database.name, role, `SELECT * FROM audit_purge_plan('main', now() - interval '29 days')`)).rejects.toThrow(/retention floor/);
    const store = await openPgStore({ connectionString: databaseUrl(database.name, role) });
    try {
      await expect(store.purgePrefix({ older_than: new Date(Date.now() + DAY_MS), actor: 'intruder', at: new Date() })).rejects.toThrow(/retention floor/);
    } finally {
      await store.close();
    }
    expect((await asOwner('SELECT count(*)::int AS n FROM audit_log')).rows[0]).toEqual(before);
  });

  // ORCH-0701 (issue 10, finding 3)
  it('refuses a purge that does not append the matching, chained purge row', async () => {
    const head = (await asOwner('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1')).rows[0] as { seq: string; hash: string };
    const content = JSON.stringify({ kind: 'control', seq: Number(head.seq) + 1, data: { action: 'retention_purge' } });
    const forged = `SELECT * FROM audit_purge_commit('main', now() - interval '31 days', '${content}', '${head.hash}', '${'0'.repeat(64)}')`;
    await expect(asRole(database.name, role, forged)).rejects.toThrow(/purge row/);
    const rows = await asOwner('SELECT count(*)::int AS n FROM audit_log');
    expect(rows.rows[0]).toEqual({ n: 3 });
  });

  // ORCH-0701
  it('denies the application role UPDATE, DELETE, TRUNCATE and disabling the trigger', async () => {
    await expect(asRole(database.name, role, `UPDATE audit_log SET kind = 'control'`)).rejects.toThrow(/permission denied/);
    await expect(asRole(database.name, role, 'DELETE FROM audit_log')).rejects.toThrow(/permission denied/);
    await expect(asRole(database.name, role, 'TRUNCATE audit_log')).rejects.toThrow(/permission denied/);
    await expect(asRole(database.name, role, 'ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only')).rejects.toThrow(/must be owner/);
    await expect(asRole(database.name, role, `SELECT set_config('orchqueue.audit_purge_through', '999', false); DELETE FROM audit_log`)).rejects.toThrow(/permission denied/);
  });

  // ORCH-0701 (issue 10, finding 3): the GUC no longer opens the trigger, and the window table is owner-only.
  it('refuses DELETE to a role holding the privilege, whatever it sets in its session', async () => {
    await expect(asRole(database.name, intruder, `BEGIN; SET LOCAL orchqueue.audit_purge_through = '999999'; DELETE FROM audit_log; COMMIT`)).rejects.toThrow(/append-only: DELETE refused/);
    await expect(asRole(database.name, intruder, 'INSERT INTO audit_purge_window VALUES (txid_current(), 999999)')).rejects.toThrow(/permission denied/);
    expect((await asOwner('SELECT count(*)::int AS n FROM audit_log')).rows[0]).toEqual({ n: 3 });
  });

  it('is documented with exactly the grants the test applies', async () => {
    const doc = await readFile(OPERATIONS_DOC, 'utf8');
    const grants = (await readFile(GRANTS_FILE, 'utf8')).split('\n').filter((line) => line.startsWith('GRANT'));
    expect(grants.length).toBeGreaterThan(0);
    for (const grant of grants) expect(doc).toContain(grant);
  });

  // Issue 10, finding 3: even the owner wiping the log cannot start a fresh chain unnoticed.
  it('refuses to restart the chain at seq 1 after a wipe, and verify names the wipe', async () => {
    await asOwner(`ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only; DELETE FROM audit_log; ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only`);
    const store = await openPgStore({ connectionString: databaseUrl(database.name, role) });
    const writer = await AuditWriter.start(OPTIONS, { store, logger: recordingLogger() });
    try {
      await expect(writer.commitAdmission(admittedFact('restart-1'))).rejects.toBeInstanceOf(AuditUnavailableError);
      expect(await store.query({ limit: 10 })).toEqual([]);
      expect(await store.verify()).toMatchObject({ ok: false, first_bad_seq: 1, reason: expect.stringMatching(/chain is empty but the database recorded row 1/) });
    } finally {
      await writer.close(1_000);
      await store.close();
    }
  });
});

describe('audit migrations on server Postgres', () => {
  it('applies the migrations once when several gateways start at the same time', async () => {
    const database = await createTestDatabase();
    try {
      const stores = await Promise.all(Array.from({ length: 4 }, () => openPgStore({ connectionString: databaseUrl(database.name) })));
      await Promise.all(stores.map((store) => store.close()));
      const client = new pg.Client({ connectionString: databaseUrl(database.name) });
      await client.connect();
      const { rows } = await client.query('SELECT version FROM schema_migrations');
      await client.end();
      expect(rows).toEqual([{ version: '0001' }, { version: '0002' }, { version: '0003' }, { version: '0004' }]);
    } finally {
      await database.drop();
    }
  });
});

describe('audit writer through a real network outage', () => {
  // ORCH-0113
  it('refuses admissions while Postgres is unreachable and continues the chain once it is back', async () => {
    const database = await createTestDatabase();
    const target = new URL(testPgUrl());
    const proxy = await tcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    const url = new URL(databaseUrl(database.name));
    url.port = String(proxy.port);
    const logger = recordingLogger();
    const store = await openPgStore({ connectionString: url.toString(), onIdleError: (error) => logger.warn({}, error.message) });
    const writer = await AuditWriter.start(OPTIONS, { store, logger, retryInitialMs: 20, retryMaxMs: 100 });
    try {
      await writer.commitAdmission(admittedFact('net-1'));
      proxy.cut();
      await expect(writer.commitAdmission(admittedFact('net-2'))).rejects.toBeInstanceOf(AuditUnavailableError);
      expect(writer.accepting()).toBe(false);
      expect(logger.errors.some((message) => message.includes('audit store failed'))).toBe(true);
      proxy.restore();
      await until(() => writer.accepting(), 10_000);
      await writer.commitAdmission(admittedFact('net-3'));
      const rows = await store.query({ limit: 10 });
      expect(rows.map((row) => row.task_id)).toEqual(['net-1', 'net-3']);
      expect(await store.verify()).toMatchObject({ ok: true, rows: 2 });
    } finally {
      await writer.close();
      await store.close();
      await proxy.close();
      await database.drop();
    }
  });
});
