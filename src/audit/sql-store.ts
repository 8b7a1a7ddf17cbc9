// AuditStore over any SqlDriver: the one implementation both backends run (server Postgres on
// the main thread, PGlite inside the audit worker). It inserts chained rows; it never decides
// seq or hashes except for the purge row, which must commit atomically with the deletion.

import { randomUUID } from 'node:crypto';
import { migrate, readMigrations } from './migrate.ts';
import { chainRecords, GENESIS_HEAD, type ChainedRow, type ChainHead } from './hash-chain.ts';
import type { AuditRecord, AuditRow } from './records.ts';
import type { SqlDriver, SqlParam } from './sql-driver.ts';
import { AUDIT_COLUMNS, decodeBatch, HOLD_COLUMNS, INSERT_BATCH_SQL, insertBatch, insertParams, toAuditHold, toAuditRow, type InsertBatch } from './sql-rows.ts';
import type { AuditBackend, AuditHold, AuditQuery, AuditStore, NewHold, PurgeOutcome, PurgeRequest } from './store.ts';
import { verifyChain, type VerifyResult } from './verify-chain.ts';

const VERIFY_PAGE_ROWS = 1_000;
export const MAX_QUERY_LIMIT = 10_000;

function whereClause(query: AuditQuery): { sql: string; params: SqlParam[] } {
  const conditions: string[] = [];
  const params: SqlParam[] = [];
  const add = (condition: string, value: SqlParam): void => {
    params.push(value);
    conditions.push(condition.replace('?', `$${params.length}`));
  };
  if (query.task_id !== undefined) add('task_id = ?', query.task_id);
  if (query.session_id !== undefined) add('session_id = ?', query.session_id);
  if (query.kind !== undefined) add('kind = ?', query.kind);
  if (query.since !== undefined) add('at >= ?', query.since.toISOString());
  if (query.until !== undefined) add('at < ?', query.until.toISOString());
  if (query.after_seq !== undefined) add('seq > ?', query.after_seq);
  return { sql: conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`, params };
}

function purgeRecord(request: PurgeRequest, deleted: number, through: number | null, anchorHash: string | null): AuditRecord {
  const anchor: AuditRecord['data'] = through === null || anchorHash === null ? {} : { anchor_seq: through, anchor_hash: anchorHash };
  return {
    at: request.at, kind: 'control', task_id: null, session_id: null, pool_id: null, actor: request.actor,
    correlation_id: request.correlation_id ?? null,
    data: { action: 'retention_purge', target: 'audit_log', outcome: 'done', detail: { older_than: request.older_than.toISOString(), deleted_rows: deleted }, ...anchor },
  };
}

export class SqlAuditStore implements AuditStore {
  readonly backend: AuditBackend;
  readonly #driver: SqlDriver;

  constructor(backend: AuditBackend, driver: SqlDriver) {
    this.backend = backend;
    this.#driver = driver;
  }

  async head(): Promise<ChainHead> {
    const [last] = await this.#driver.query('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
    return last === undefined ? GENESIS_HEAD : { seq: Number(last.seq), hash: String(last.hash) };
  }

  append(rows: readonly ChainedRow[]): Promise<void> {
    return this.#insert(insertBatch(rows));
  }

  /** append() for a batch in the worker's wire form (sql-rows.ts encodeBatch). */
  appendEncoded(text: string): Promise<void> {
    return this.#insert(decodeBatch(text));
  }

  async #insert(batch: InsertBatch): Promise<void> {
    if (batch.content.length === 0) return;
    await this.#driver.query(INSERT_BATCH_SQL, insertParams(batch));
  }

  async query(query: AuditQuery): Promise<AuditRow[]> {
    if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_QUERY_LIMIT) {
      throw new RangeError(`limit must be an integer in 1..${MAX_QUERY_LIMIT}`);
    }
    const where = whereClause(query);
    const rows = await this.#driver.query(
      `SELECT ${AUDIT_COLUMNS} FROM audit_log ${where.sql} ORDER BY seq LIMIT $${where.params.length + 1}`,
      [...where.params, query.limit],
    );
    return rows.map(toAuditRow);
  }

  verify(): Promise<VerifyResult> {
    return verifyChain(this.#pages());
  }

  async *#pages(): AsyncGenerator<AuditRow> {
    let after = 0;
    for (;;) {
      const page = await this.query({ after_seq: after, limit: VERIFY_PAGE_ROWS });
      yield* page;
      const last = page.at(-1);
      if (last === undefined || page.length < VERIFY_PAGE_ROWS) return;
      after = last.seq;
    }
  }

  purgePrefix(request: PurgeRequest): Promise<PurgeOutcome> {
    return this.#driver.transaction(async (tx) => {
      const [result] = await tx.query('SELECT through_seq, anchor_hash, deleted_rows FROM audit_purge_prefix($1)', [request.older_than.toISOString()]);
      const through = result?.through_seq === null || result?.through_seq === undefined ? null : Number(result.through_seq);
      const anchorHash = typeof result?.anchor_hash === 'string' ? result.anchor_hash : null;
      const deleted = Number(result?.deleted_rows ?? 0);
      const { rows } = chainRecords(request.head, [purgeRecord(request, deleted, through, anchorHash)]);
      await tx.query(INSERT_BATCH_SQL, insertParams(insertBatch(rows)));
      const [chained] = rows;
      if (chained === undefined) throw new Error('chainRecords returned no row for one record');
      const { content: _content, ...row } = chained;
      return { row, deleted_rows: deleted, anchor_seq: through };
    });
  }

  async addHold(hold: NewHold): Promise<AuditHold> {
    const [row] = await this.#driver.query(
      `INSERT INTO audit_holds (id, task_id, session_id, from_at, to_at, reason, created_by)
       VALUES ($1, $2, $3, $4::timestamptz, $5::timestamptz, $6, $7) RETURNING ${HOLD_COLUMNS}`,
      [
        randomUUID(),
        'task_id' in hold ? hold.task_id : null,
        'session_id' in hold ? hold.session_id : null,
        'from_at' in hold ? hold.from_at.toISOString() : null,
        'to_at' in hold ? hold.to_at.toISOString() : null,
        hold.reason,
        hold.created_by,
      ],
    );
    if (row === undefined) throw new Error('INSERT ... RETURNING gave no row');
    return toAuditHold(row);
  }

  async removeHold(id: string): Promise<boolean> {
    const rows = await this.#driver.query('DELETE FROM audit_holds WHERE id = $1 RETURNING id', [id]);
    return rows.length > 0;
  }

  async listHolds(): Promise<AuditHold[]> {
    return (await this.#driver.query(`SELECT ${HOLD_COLUMNS} FROM audit_holds ORDER BY created_at, id`)).map(toAuditHold);
  }

  close(): Promise<void> {
    return this.#driver.close();
  }
}

/** Applies pending migrations, then returns the store. Closes the driver if that fails. */
export async function openSqlStore(backend: AuditBackend, driver: SqlDriver): Promise<SqlAuditStore> {
  try {
    await migrate(driver, await readMigrations());
  } catch (error) {
    await driver.close().catch(() => undefined);
    throw error;
  }
  return new SqlAuditStore(backend, driver);
}
