// What must survive restarts and people with database access, on both backends: migrations
// apply once, a restarted writer continues the chain, raw UPDATE/DELETE/TRUNCATE are refused,
// a lost connection (or worker) is recovered, and tampering is named at the exact row.
// The tests are one story on one durable database per backend and must run in this order.
// Verifies ORCH-0701 (append-only in the database, hash-chained) and ORCH-0704 (verification
// names the first broken row).

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { migrate, readMigrations } from '../../src/audit/migrate.ts';
import type { AuditWriterOptions } from '../../src/audit/recorder.ts';
import type { AuditStore } from '../../src/audit/store.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { admittedFact, BACKENDS, recordingLogger, terminalFact, type DurableBackend } from './audit-backends.ts';

const OPTIONS: AuditWriterOptions = { batch_max_rows: 32, batch_max_ms: 2, buffer_max_rows: 1_000, fail_closed: true };

describe.each(BACKENDS)('audit durability on $name', (backend) => {
  let durable: DurableBackend;
  let open: { store: AuditStore; writer: AuditWriter } | null = null;

  async function start(): Promise<{ store: AuditStore; writer: AuditWriter }> {
    const store = await durable.open();
    const writer = await AuditWriter.start(OPTIONS, { store, logger: recordingLogger(), retryInitialMs: 10, retryMaxMs: 100 });
    open = { store, writer };
    return open;
  }

  async function stop(): Promise<void> {
    if (open === null) return;
    await open.writer.close(1_000);
    await open.store.close();
    open = null;
  }

  beforeAll(async () => {
    durable = await backend.durable();
  }, 60_000);

  afterEach(stop);

  afterAll(async () => {
    await durable.dispose();
  });

  // Generous limits: every PGlite open costs an initdb or a WASM start, seconds on a busy machine.
  const SLOW_MS = 60_000;

  it('continues the chain from the last committed row after a restart', async () => {
    let { writer } = await start();
    for (let i = 0; i < 10; i++) await writer.commitAdmission(admittedFact(`restart-${i}`));
    await stop();
    ({ writer } = await start());
    for (let i = 0; i < 10; i++) writer.finished(terminalFact(`restart-${i}`));
    await writer.flush();
    const rows = await open!.store.query({ limit: 100 });
    expect(rows.map((row) => row.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await open!.store.verify()).toMatchObject({ ok: true, rows: 20 });
  }, SLOW_MS);

  it('recovers when the store loses its connection or worker, and keeps the chain intact', async () => {
    const { store, writer } = await start();
    await durable.sever();
    // The first write after the cut may fail (and be refused) or succeed on a fresh connection.
    await writer.commitAdmission(admittedFact('sever-1')).catch(() => undefined);
    const deadline = Date.now() + SLOW_MS / 2;
    for (;;) {
      try {
        await writer.commitAdmission(admittedFact('sever-2'));
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    expect(await store.query({ task_id: 'sever-2', limit: 1 })).toHaveLength(1);
    expect(await store.verify()).toMatchObject({ ok: true });
  }, SLOW_MS);

  // ORCH-0701
  it('applies each migration once, refuses an edited one, and refuses raw UPDATE, DELETE and TRUNCATE even for the superuser', async () => {
    await durable.asSuperuser(async (driver) => {
      const migrations = await readMigrations();
      expect(await migrate(driver, migrations)).toEqual([]);
      const ledger = await driver.query('SELECT version, checksum FROM schema_migrations ORDER BY version');
      expect(ledger).toEqual(migrations.map((m) => ({ version: m.version, checksum: m.checksum })));
      const edited = migrations.map((m) => ({ ...m, sql: `${m.sql}\n-- edited`, checksum: 'f'.repeat(64) }));
      await expect(migrate(driver, edited)).rejects.toThrow(/edited after it was applied/);

      await expect(driver.query(`UPDATE audit_log SET data = '{}'::jsonb WHERE seq = 1`)).rejects.toThrow(/append-only: UPDATE refused/);
      await expect(driver.query('DELETE FROM audit_log WHERE seq = 1')).rejects.toThrow(/append-only: DELETE refused/);
      await expect(driver.query('TRUNCATE audit_log')).rejects.toThrow(/append-only: TRUNCATE refused/);
      // The purge bound only opens rows at or below it, and only inside audit_purge_prefix's transaction.
      await driver.query(`SELECT set_config('orchqueue.audit_purge_through', '0', false)`);
      await expect(driver.query('DELETE FROM audit_log WHERE seq = 5')).rejects.toThrow(/append-only/);
      expect(await driver.query('SELECT count(*)::int AS n FROM audit_log WHERE seq <= 5')).toEqual([{ n: 5 }]);

      await driver.exec(`
        ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
        UPDATE audit_log SET data = jsonb_set(data, '{tokens_out}', '9999') WHERE seq = 14;
        ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;`);
    });
  }, SLOW_MS);

  // ORCH-0701 ORCH-0704
  it('names exactly the row a superuser changed with the trigger disabled', async () => {
    const { store } = await start();
    expect(await store.verify()).toMatchObject({ ok: false, first_bad_seq: 14, reason: 'hash does not match the row content' });
  }, SLOW_MS);
});
