// The little SQL surface the audit store needs, so one store implementation (sql-store.ts) runs
// on server Postgres (pg-driver.ts) and on PGlite (pglite-driver.ts) with the same statements.

export type SqlParam = string | number | boolean | Date | null | readonly (string | number | boolean | Date | null)[];
export type SqlRow = Record<string, unknown>;

export interface SqlQueryable {
  /** One parameterised statement; returns its rows. */
  query(sql: string, params?: readonly SqlParam[]): Promise<SqlRow[]>;
  /** Several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface SqlDriver extends SqlQueryable {
  /** Runs `work` in one transaction: commits when it resolves, rolls back when it throws. */
  transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
