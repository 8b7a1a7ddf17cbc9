// SqlDriver over an embedded PGlite instance. PGlite executes on the calling thread, so this
// driver is only used inside the audit worker (pglite-worker.ts), never on the event loop.

import type { PGlite, Transaction } from '@electric-sql/pglite';
import type { SqlDriver, SqlParam, SqlQueryable, SqlRow } from './sql-driver.ts';

function queryable(target: PGlite | Transaction): SqlQueryable {
  return {
    async query(sql: string, params: readonly SqlParam[] = []): Promise<SqlRow[]> {
      const result = await target.query<SqlRow>(sql, [...params]);
      return result.rows;
    },
    async exec(sql: string): Promise<void> {
      await target.exec(sql);
    },
  };
}

export function pgliteDriver(db: PGlite): SqlDriver {
  return {
    ...queryable(db),
    transaction: (work) => db.transaction((tx) => work(queryable(tx))),
    close: () => db.close(),
  };
}
