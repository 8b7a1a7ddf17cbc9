// createAudit, the factory main.ts calls: backend choice, audit off, and retention running on
// its own. Verifies ORCH-0708 (the scheduled purge is recorded and the chain still verifies).

import { describe, expect, it } from 'vitest';
import { createAudit, RETENTION_ACTOR } from '../../src/audit/create-audit.ts';
import type { AuditConfig } from '../../src/config/schema.ts';
import type { Clock } from '../../src/core/ports.ts';
import { admittedFact, createTestDatabase, databaseUrl, recordingLogger } from './audit-backends.ts';

async function eventually<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const BASE: AuditConfig = {
  backend: 'postgres', data_dir: 'memory://', fail_closed: true, batch_max_rows: 64, batch_max_ms: 2,
  buffer_max_rows: 1_000, hash_prompts: false,
};

describe('createAudit', () => {
  it('gives an always-accepting recorder and no store when audit is off', async () => {
    const audit = await createAudit({ ...BASE, backend: 'off' }, { logger: recordingLogger() });
    expect(audit.store).toBeNull();
    expect(audit.writer.accepting()).toBe(true);
    await expect(audit.writer.commitAdmission(admittedFact('off-1'))).resolves.toBeUndefined();
    await audit.close();
  });

  it('refuses to start on postgres without a URL', async () => {
    await expect(createAudit(BASE, { logger: recordingLogger(), env: {} })).rejects.toThrow(/DATABASE_URL/);
  });

  it('prefers DATABASE_URL over audit.database_url and purges on schedule when retention_days is set', async () => {
    const database = await createTestDatabase();
    const url = databaseUrl(database.name);
    try {
      // Rows written "ten years ago"; the database's own clock decides what the retention floor allows.
      const earlier: Clock = { now: () => Date.now() - 3_650 * 86_400_000, monotonic: () => performance.now() };
      const first = await createAudit({ ...BASE, database_url: 'postgres://nobody@127.0.0.1:1/none' }, { logger: recordingLogger(), env: { DATABASE_URL: url }, clock: earlier });
      expect(first.store?.backend).toBe('postgres');
      for (let i = 0; i < 5; i++) await first.writer.commitAdmission(admittedFact(`retain-${i}`));
      await first.close();

      // A one-day retention makes every earlier row purgeable; the owner's start writes the floor.
      const second = await createAudit({ ...BASE, retention_days: 1 }, { logger: recordingLogger(), env: { DATABASE_URL: url } });
      try {
        const store = second.store!;
        const rows = await eventually(() => store.query({ limit: 100 }), (found) => found.some((row) => row.actor === RETENTION_ACTOR));
        expect(rows).toHaveLength(1);
        expect(rows[0]).toMatchObject({ seq: 6, actor: RETENTION_ACTOR, data: { action: 'retention_purge', anchor_seq: 5 } });
        expect(await store.verify()).toMatchObject({ ok: true, rows: 1 });
      } finally {
        await second.close();
      }
    } finally {
      await database.drop();
    }
  });

  it('records a refusal burst in a few chained rows that still count and name every refused request', async () => {
    const database = await createTestDatabase();
    try {
      const audit = await createAudit(BASE, { logger: recordingLogger(), env: { DATABASE_URL: databaseUrl(database.name) } });
      const refusal = (id: string) => ({ correlation_id: id, code: 'ADMISSION_REJECT' as const, message: 'pool p queue is full (8 waiting)', pool_id: 'p', policy_label: 'reject', priority: 'interactive' as const, tenant: 'default', key_id: 'anonymous' });
      const ids = Array.from({ length: 300 }, (_, i) => `burst-${i}`);
      for (const id of ids) audit.writer.rejected?.(refusal(id));
      await audit.writer.flush();
      const sql = audit.sql!;
      // The queries docs/operations.md gives operators.
      const [total] = await sql(`SELECT sum(coalesce((data->>'count')::int, 1))::int AS n, count(*)::int AS rows FROM audit_log WHERE kind = 'rejection'`);
      expect(total).toEqual({ n: 300, rows: 3 });
      for (const id of ['burst-0', 'burst-1', 'burst-257', 'burst-299']) {
        const found = await sql(`SELECT seq FROM audit_log WHERE kind = 'rejection' AND (correlation_id = $1 OR data->'correlation_ids' ? $1)`, [id]);
        expect(found, id).toHaveLength(1);
      }
      expect(await audit.store!.verify()).toMatchObject({ ok: true, rows: 3 });
      await audit.close();
    } finally {
      await database.drop();
    }
  });
});
