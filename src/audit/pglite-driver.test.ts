import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgliteDriver } from './pglite-driver.ts';
import type { SqlDriver } from './sql-driver.ts';

describe('pgliteDriver', () => {
  let driver: SqlDriver;

  beforeAll(async () => {
    driver = pgliteDriver(await PGlite.create('memory://'));
    await driver.exec(`CREATE TABLE t (id bigint PRIMARY KEY, at timestamptz, doc jsonb, tags text[])`);
    // initdb of a new database: seconds alone, and beyond the default hook timeout on a loaded 2-core machine.
  }, 120_000);

  afterAll(async () => {
    await driver.close();
  });

  const preparedCount = async (): Promise<number> => {
    const [row] = await driver.query(`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement NOT LIKE '%pg_prepared_statements%'`);
    return Number(row?.n);
  };

  it('binds parameters by their inferred types and parses the rows it returns', async () => {
    await driver.query('INSERT INTO t (id, at, doc, tags) SELECT $1, $2::timestamptz, $3::text::jsonb, $4', [1, '2026-01-02T03:04:05.006Z', '{"a":[1,"x"]}', ['a', 'b "quoted"', 'c,d']]);
    await driver.query('INSERT INTO t (id, at, doc, tags) SELECT $1, $2::timestamptz, $3::text::jsonb, $4', [2, null, '{}', []]);
    const rows = await driver.query('SELECT id, at, doc, tags FROM t WHERE id <= $1 ORDER BY id', [2]);
    expect(rows).toEqual([
      { id: 1, at: new Date('2026-01-02T03:04:05.006Z'), doc: { a: [1, 'x'] }, tags: ['a', 'b "quoted"', 'c,d'] },
      { id: 2, at: null, doc: {}, tags: [] },
    ]);
  });

  it('parses a SQL text once and reuses its prepared statement on later runs', async () => {
    const before = await preparedCount();
    for (let i = 0; i < 3; i++) await driver.query('SELECT $1::int + 1 AS n', [i]);
    expect(await preparedCount()).toBe(before + 1);
    expect(await driver.query('SELECT $1::int + 1 AS n', [41])).toEqual([{ n: 42 }]);
  });

  it('keeps the SQLSTATE of a failed run and stays usable afterwards', async () => {
    const insert = 'INSERT INTO t (id) VALUES ($1)';
    await driver.query(insert, [10]);
    await expect(driver.query(insert, [10])).rejects.toMatchObject({ code: '23505' });
    await driver.query(insert, [11]);
    expect(await driver.query('SELECT id FROM t WHERE id >= $1 ORDER BY id', [10])).toEqual([{ id: 10 }, { id: 11 }]);
  });

  it('refuses a statement that does not parse without keeping it', async () => {
    const before = await preparedCount();
    await expect(driver.query('SELEC $1', [1])).rejects.toMatchObject({ code: '42601' });
    await expect(driver.query('SELEC $1', [1])).rejects.toMatchObject({ code: '42601' });
    expect(await preparedCount()).toBe(before);
  });

  it('prepares a statement again after someone deallocated it', async () => {
    expect(await driver.query('SELECT $1::text AS v', ['first'])).toEqual([{ v: 'first' }]);
    await driver.exec('DEALLOCATE ALL');
    expect(await driver.query('SELECT $1::text AS v', ['again'])).toEqual([{ v: 'again' }]);
  });

  it('runs a statement issued during a transaction only after that transaction ends', async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => { release = resolve; });
    let inserted: () => void = () => undefined;
    const insertedOnce = new Promise<void>((resolve) => { inserted = resolve; });
    const transaction = driver.transaction(async (tx) => {
      await tx.query('INSERT INTO t (id) VALUES ($1)', [20]);
      inserted();
      await held;
      await tx.query('INSERT INTO t (id) VALUES ($1)', [21]);
    });
    await insertedOnce;
    const seen = driver.query('SELECT count(*)::int AS n FROM t WHERE id IN (20, 21)');
    release();
    await transaction;
    expect(await seen).toEqual([{ n: 2 }]);
  });
});
