// SqlDriver over an embedded PGlite instance. PGlite executes on the calling thread, so this
// driver is only used inside the audit worker (pglite-worker.ts), never on the event loop.
// Statements outside a transaction run as named prepared statements: Postgres parses and plans
// each SQL text once, and every later run is one Bind/Execute/Sync exchange with the WebAssembly.

import { parse, protocol, type PGlite, type Transaction } from '@electric-sql/pglite';
import type { SqlDriver, SqlParam, SqlQueryable, SqlRow } from './sql-driver.ts';

/**
 * How many distinct SQL texts keep a prepared statement. The audit store's texts are a fixed
 * set (the /v1/audit filters make at most 64 of them); texts beyond the bound run unprepared.
 */
const MAX_PREPARED = 256;

// SQLSTATE invalid_sql_statement_name: the statement is gone (someone ran DEALLOCATE).
const STATEMENT_GONE = '26000';

interface Prepared {
  name: string;
  /** The parameters' type oids, as Postgres inferred them: they pick each value's serializer. */
  paramTypes: number[];
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((length, part) => length + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

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

/**
 * Runs statements as named prepared statements. PGlite's own `query` parses, describes and plans
 * the text on every call, six exchanges with the WebAssembly; for the audit's one-row INSERT that
 * was two thirds of a commit's time. Errors are PGlite's DatabaseError, with the SQLSTATE as `code`.
 */
class PreparedStatements {
  readonly #db: PGlite;
  readonly #prepared = new Map<string, Prepared>();
  #named = 0;

  constructor(db: PGlite) {
    this.#db = db;
  }

  /** Like `db.query`: waits for any open transaction and for other statements, then runs alone. */
  async query(sql: string, params: readonly SqlParam[]): Promise<SqlRow[]> {
    if (!this.#prepared.has(sql) && this.#prepared.size >= MAX_PREPARED) return (await this.#db.query<SqlRow>(sql, [...params])).rows;
    await this.#db._checkReady();
    // The locks `db.query` takes; they are not re-entrant, so nothing below calls `db.query`.
    return this.#db._runExclusiveTransaction(() => this.#db._runExclusiveQuery(async () => {
      const prepared = this.#prepared.get(sql) ?? (await this.#prepare(sql));
      try {
        return await this.#run(prepared, params);
      } catch (error) {
        if ((error as { code?: unknown }).code !== STATEMENT_GONE) throw error;
        this.#prepared.delete(sql);
        return this.#run(await this.#prepare(sql), params);
      }
    }));
  }

  async #prepare(sql: string): Promise<Prepared> {
    const name = `orchqueue_${++this.#named}`;
    const { serialize } = protocol;
    const described = await this.#db.execProtocol(concat([
      serialize.parse({ name, text: sql }),
      serialize.describe({ type: 'S', name }),
      serialize.sync(),
    ]));
    const prepared = { name, paramTypes: parse.parseDescribeStatementResults(described.messages) };
    this.#prepared.set(sql, prepared);
    return prepared;
  }

  async #run(prepared: Prepared, params: readonly SqlParam[]): Promise<SqlRow[]> {
    const { serialize } = protocol;
    const values = params.map((param, i) => {
      if (param === null) return null;
      const serializer = this.#db.serializers[prepared.paramTypes[i] ?? 0];
      return serializer === undefined ? String(param) : serializer(param);
    });
    const result = await this.#db.execProtocol(concat([
      serialize.bind({ statement: prepared.name, values }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.sync(),
    ]));
    return parse.parseResults(result.messages, this.#db.parsers)[0]?.rows as SqlRow[] | undefined ?? [];
  }
}

export function pgliteDriver(db: PGlite): SqlDriver {
  const statements = new PreparedStatements(db);
  return {
    query: (sql, params = []) => statements.query(sql, params),
    exec: async (sql) => {
      await db.exec(sql);
    },
    transaction: (work) => db.transaction((tx) => work(queryable(tx))),
    close: () => db.close(),
  };
}
