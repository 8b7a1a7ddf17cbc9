// SqlDriver over a node-postgres pool (server Postgres). Timeouts are bounded so an unreachable
// or hung server turns into errors the writer can react to, never into a silent stall.

import pg from 'pg';
import type { SqlDriver, SqlParam, SqlQueryable, SqlRow } from './sql-driver.ts';

export interface PgDriverOptions {
  connectionString: string;
  maxConnections?: number;
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
  onIdleError?: (error: Error) => void;
}

function queryable(client: pg.Pool | pg.PoolClient): SqlQueryable {
  return {
    async query(sql: string, params: readonly SqlParam[] = []): Promise<SqlRow[]> {
      const result = await client.query<SqlRow>(sql, [...params]);
      return result.rows;
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
  };
}

export function pgDriver(options: PgDriverOptions): SqlDriver {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 4,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 2_000,
    query_timeout: options.queryTimeoutMs ?? 10_000,
    idleTimeoutMillis: 10_000,
    application_name: 'orchqueue-audit',
  });
  // An idle client losing its connection emits on the pool; unhandled, it would kill the process.
  pool.on('error', (error) => options.onIdleError?.(error));
  return {
    ...queryable(pool),
    async transaction<T>(work: (tx: SqlQueryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const result = await work(queryable(client));
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: unknown) => {
          broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
        });
        throw error;
      } finally {
        // A connection whose rollback failed is in an unknown state: destroy it, never reuse it.
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}
