// The server-Postgres driver's prepared statements (src/audit/pg-driver.ts): each SQL text is
// parsed once per connection, a statement the server lost runs again, errors keep their SQLSTATE.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgDriver } from '../../src/audit/pg-driver.ts';
import type { SqlDriver } from '../../src/audit/sql-driver.ts';
import { createTestDatabase, databaseUrl } from './audit-backends.ts';

describe('pgDriver prepared statements', () => {
  let database: Awaited<ReturnType<typeof createTestDatabase>>;
  let driver: SqlDriver;

  beforeAll(async () => {
    database = await createTestDatabase();
    // One connection, so pg_prepared_statements (per session) sees every statement the driver named.
    driver = pgDriver({ connectionString: databaseUrl(database.name), maxConnections: 1 });
    await driver.exec('CREATE TABLE t (id bigint PRIMARY KEY, doc jsonb)');
  });

  afterAll(async () => {
    await driver.close();
    await database.drop();
  });

  const prepared = async (): Promise<string[]> =>
    (await driver.transaction((tx) => tx.query('SELECT name FROM pg_prepared_statements ORDER BY name'))).map((row) => String(row.name));

  it('parses a SQL text once and runs it by name afterwards', async () => {
    const before = await prepared();
    for (let i = 0; i < 3; i++) await driver.query('INSERT INTO t (id, doc) SELECT $1, $2::text::jsonb', [i, `{"n":${i}}`]);
    const after = await prepared();
    expect(after.length).toBe(before.length + 1);
    expect(after.every((name) => name.startsWith('orchqueue_'))).toBe(true);
    expect(await driver.query('SELECT id, doc FROM t WHERE id >= $1 ORDER BY id', [1])).toEqual([{ id: '1', doc: { n: 1 } }, { id: '2', doc: { n: 2 } }]);
  });

  it('keeps the SQLSTATE of a failed run and stays usable afterwards', async () => {
    const insert = 'INSERT INTO t (id, doc) VALUES ($1, $2)';
    await driver.query(insert, [10, '{}']);
    await expect(driver.query(insert, [10, '{}'])).rejects.toMatchObject({ code: '23505' });
    await driver.query(insert, [11, '{}']);
    expect(await driver.query('SELECT id FROM t WHERE id >= $1 ORDER BY id', [10])).toEqual([{ id: '10' }, { id: '11' }]);
  });

  it('runs a statement again when the server no longer has it', async () => {
    const select = 'SELECT $1::text AS v';
    expect(await driver.query(select, ['first'])).toEqual([{ v: 'first' }]);
    await driver.exec('DEALLOCATE ALL');
    expect(await driver.query(select, ['again'])).toEqual([{ v: 'again' }]);
  });
});
