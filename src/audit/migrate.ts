// Applies migrations/NNNN_name.sql in order, each recorded in schema_migrations with a checksum.
// Everything runs in one transaction under an advisory lock, so concurrent starts serialise and
// a failed migration leaves nothing behind. An edited, already-applied file stops the start.

import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import type { SqlDriver, SqlQueryable } from './sql-driver.ts';

export interface Migration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export const MIGRATIONS_DIR = new URL('../../migrations/', import.meta.url);
const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

export async function readMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => FILE_PATTERN.test(file)).sort();
  return Promise.all(
    files.map(async (file) => {
      const [, version = '', name = ''] = FILE_PATTERN.exec(file) ?? [];
      const sql = await readFile(new URL(file, dir), 'utf8');
      return { version, name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    }),
  );
}

async function ensureLedger(tx: SqlQueryable): Promise<void> {
  // Checked before creating so a role without CREATE can start on an up-to-date database.
  const [found] = await tx.query(`SELECT to_regclass('schema_migrations') IS NOT NULL AS present`);
  if (found?.present === true) return;
  await tx.exec(`CREATE TABLE schema_migrations (
    version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
}

/** Returns the versions it applied (empty when the database was already current). */
export async function migrate(driver: SqlDriver, migrations: readonly Migration[]): Promise<string[]> {
  return driver.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtext('orchqueue.audit.migrations'))`);
    await ensureLedger(tx);
    const applied = new Map<string, string>();
    for (const row of await tx.query('SELECT version, checksum FROM schema_migrations')) {
      applied.set(String(row.version), String(row.checksum));
    }
    const done: string[] = [];
    for (const migration of migrations) {
      const checksum = applied.get(migration.version);
      if (checksum === migration.checksum) continue;
      if (checksum !== undefined) {
        throw new Error(`migration ${migration.version}_${migration.name} was edited after it was applied; add a new migration instead`);
      }
      await tx.exec(migration.sql);
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [migration.version, migration.name, migration.checksum]);
      done.push(migration.version);
    }
    return done;
  });
}
