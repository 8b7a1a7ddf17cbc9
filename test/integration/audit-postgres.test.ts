// Server-Postgres specifics: the application role's grants (migrations/roles/app-grants.sql,
// quoted in docs/operations.md) leave it unable to rewrite the log; concurrent starts migrate
// once; a real network outage (a TCP proxy we cut) makes the writer refuse, then recover.
// Verifies ORCH-0701 (the application role cannot rewrite the log).

import { readFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPgStore } from '../../src/audit/pg-store.ts';
import { AuditUnavailableError } from '../../src/audit/recorder.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { adminQuery, admittedFact, createTestDatabase, databaseUrl, recordingLogger, testPgUrl, until } from './audit-backends.ts';
import pg from 'pg';

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
  let database: Awaited<ReturnType<typeof createTestDatabase>>;

  beforeAll(async () => {
    database = await createTestDatabase();
    const owner = await openPgStore({ connectionString: databaseUrl(database.name) });
    await owner.close();
    await adminQuery(`CREATE ROLE ${role} LOGIN`);
    const grants = (await readFile(GRANTS_FILE, 'utf8')).replaceAll('orchqueue_app', role);
    const client = new pg.Client({ connectionString: databaseUrl(database.name) });
    await client.connect();
    await client.query(grants);
    await client.end();
  });

  afterAll(async () => {
    await database.drop();
    await adminQuery(`DROP ROLE IF EXISTS ${role}`);
  });

  it('lets the application role start, append, read, hold and purge', async () => {
    const store = await openPgStore({ connectionString: databaseUrl(database.name, role) });
    const writer = await AuditWriter.start(OPTIONS, { store, logger: recordingLogger() });
    try {
      for (let i = 0; i < 5; i++) await writer.commitAdmission(admittedFact(`grant-${i}`));
      const hold = await store.addHold({ task_id: 'grant-3', reason: 'case 7', created_by: 'legal' });
      expect(await writer.purge(new Date(Date.now() + 60_000), 'ops')).toMatchObject({ deleted_rows: 3, anchor_seq: 3 });
      expect(await store.removeHold(hold.id)).toBe(true);
      expect(await store.verify()).toMatchObject({ ok: true, rows: 3 });
    } finally {
      await writer.close();
      await store.close();
    }
  });

  // ORCH-0701
  it('denies the application role UPDATE, DELETE, TRUNCATE and disabling the trigger', async () => {
    await expect(asRole(database.name, role, `UPDATE audit_log SET kind = 'control'`)).rejects.toThrow(/permission denied/);
    await expect(asRole(database.name, role, 'DELETE FROM audit_log')).rejects.toThrow(/permission denied/);
    await expect(asRole(database.name, role, 'TRUNCATE audit_log')).rejects.toThrow(/permission denied/);
    await expect(asRole(database.name, role, 'ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only')).rejects.toThrow(/must be owner/);
    await expect(asRole(database.name, role, `SELECT set_config('orchqueue.audit_purge_through', '999', false); DELETE FROM audit_log`)).rejects.toThrow(/permission denied/);
  });

  it('is documented with exactly the grants the test applies', async () => {
    const doc = await readFile(OPERATIONS_DOC, 'utf8');
    const grants = (await readFile(GRANTS_FILE, 'utf8')).split('\n').filter((line) => line.startsWith('GRANT'));
    expect(grants.length).toBeGreaterThan(0);
    for (const grant of grants) expect(doc).toContain(grant);
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
      expect(rows).toEqual([{ version: '0001' }]);
    } finally {
      await database.drop();
    }
  });
});

/** A TCP proxy to Postgres that the test can cut and restore, like a network partition. */
function cuttableProxy(): Promise<{ port: number; cut(): void; restore(): void; close(): Promise<void> }> {
  const target = new URL(testPgUrl());
  const sockets = new Set<Socket>();
  let down = false;
  const server: Server = createServer((client) => {
    if (down) return void client.destroy();
    const upstream = connect({ host: target.hostname, port: Number(target.port || 5432) });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      resolve({
        port,
        cut() {
          down = true;
          for (const socket of sockets) socket.destroy();
        },
        restore() {
          down = false;
        },
        close: () => new Promise((done) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => done());
        }),
      });
    });
  });
}

describe('audit writer through a real network outage', () => {
  // ORCH-0113
  it('refuses admissions while Postgres is unreachable and continues the chain once it is back', async () => {
    const database = await createTestDatabase();
    const proxy = await cuttableProxy();
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
