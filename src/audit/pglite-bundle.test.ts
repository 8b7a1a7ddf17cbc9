import type { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPglite, NOT_READ_AFTER_START, releaseBundle } from './pglite-bundle.ts';
import { pgliteDriver } from './pglite-driver.ts';
import { openSqlStore, type SqlAuditStore } from './sql-store.ts';

/** A directory tree of MEMFS-like nodes, enough for releaseBundle's walk. */
function fakeFs(files: Record<string, Uint8Array>) {
  const DIR = 0o040000;
  const FILE = 0o100000;
  const nodes = new Map<string, { mode: number; contents?: unknown; usedBytes?: number }>([['/', { mode: DIR }]]);
  for (const [path, contents] of Object.entries(files)) {
    const parts = path.split('/').slice(1);
    for (let i = 1; i < parts.length; i++) nodes.set(`/${parts.slice(0, i).join('/')}`, { mode: DIR });
    nodes.set(path, { mode: FILE, contents, usedBytes: contents.length });
  }
  return {
    nodes,
    readdir: (dir: string) => [...nodes.keys()].filter((p) => p !== '/' && p.slice(0, p.lastIndexOf('/')) === (dir === '/' ? '' : dir)).map((p) => p.slice(p.lastIndexOf('/') + 1)),
    lookupPath: (path: string) => ({ node: nodes.get(path)! }),
    isDir: (mode: number) => (mode & DIR) === DIR,
    isFile: (mode: number) => (mode & FILE) === FILE,
    isMountpoint: () => false,
    unlink: (path: string) => void nodes.delete(path),
  };
}

describe('releaseBundle', () => {
  it('copies the files still read, deletes those never read after start, and detaches the bundle', () => {
    const bundle = new ArrayBuffer(12);
    new Uint8Array(bundle).set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const own = new Uint8Array([42]);
    const fs = fakeFs({
      '/pglite/share/postgresql/timezone/UTC': new Uint8Array(bundle, 0, 4),
      '/pglite/share/postgresql/postgres.bki': new Uint8Array(bundle, 4, 4),
      '/pglite/lib/postgresql/utf8_and_sjis.so': new Uint8Array(bundle, 8, 2),
      '/pglite/lib/postgresql/plpgsql.so': new Uint8Array(bundle, 10, 2),
      '/pglite/data/base/1': own,
    });

    expect(releaseBundle(fs, bundle)).toEqual({ copied: 2, deleted: 2 });

    expect(bundle.byteLength).toBe(0);
    expect([...fs.nodes.keys()].filter((p) => fs.nodes.get(p)?.contents !== undefined).sort()).toEqual([
      '/pglite/data/base/1', '/pglite/lib/postgresql/plpgsql.so', '/pglite/share/postgresql/timezone/UTC',
    ]);
    expect(fs.nodes.get('/pglite/share/postgresql/timezone/UTC')?.contents).toEqual(new Uint8Array([1, 2, 3, 4]));
    expect(fs.nodes.get('/pglite/lib/postgresql/plpgsql.so')?.contents).toEqual(new Uint8Array([11, 12]));
    expect(fs.nodes.get('/pglite/data/base/1')?.contents).toBe(own);
  });

  it('keeps what a running database loads: the PL/pgSQL module, time zones, ICU data', () => {
    const kept = ['/pglite/lib/postgresql/plpgsql.so', '/pglite/share/postgresql/extension/plpgsql--1.0.sql', '/pglite/share/postgresql/timezone/Europe/Berlin', '/pglite/share/postgresql/timezonesets/Default', '/pglite/icu/icudt76l/coll/root.res'];
    for (const path of kept) expect(NOT_READ_AFTER_START.some((pattern) => pattern.test(path)), path).toBe(false);
  });
});

describe('createPglite', () => {
  let db: PGlite;
  let store: SqlAuditStore;

  beforeAll(async () => {
    db = await createPglite('memory://');
    store = await openSqlStore('pglite', pgliteDriver(db));
    // initdb of a new database: seconds alone, and beyond the default hook timeout on a loaded 2-core machine.
  }, 120_000);

  afterAll(async () => {
    await store.close();
  });

  it('leaves no file of the released bundle behind and Postgres working', async () => {
    const fs = db.Module.FS as unknown as { analyzePath(path: string): { exists: boolean } };
    expect(fs.analyzePath('/pglite/share/postgresql/postgres.bki').exists).toBe(false);
    expect(fs.analyzePath('/pglite/lib/postgresql/plpgsql.so').exists).toBe(true);
    // A time zone file (copied out of the bundle) and a PL/pgSQL trigger (the append-only guard).
    const [row] = (await db.query<{ at: string }>(`SELECT to_char(timestamptz '2026-07-01 12:00Z' AT TIME ZONE 'Europe/Berlin', 'HH24') AS at`)).rows;
    expect(row?.at).toBe('14');
    await expect(db.query(`TRUNCATE audit_log`)).rejects.toThrow('audit_log is append-only: TRUNCATE refused');
  });
});
