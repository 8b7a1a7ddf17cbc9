// AuditStore over any SqlDriver: the one implementation both backends run (server Postgres on
// the main thread, PGlite inside the audit worker). It inserts chained rows; it never decides
// seq or hashes except for the purge row, which the database checks and commits with the deletion
// (audit_purge_plan + audit_purge_commit, migrations/0002).

import { randomUUID } from 'node:crypto';
import { migrate, readMigrations } from './migrate.ts';
import { chainRecords, DEFAULT_CHAIN, GENESIS_HEAD, type ChainedRow, type ChainHead } from './hash-chain.ts';
import type { AuditRecord, AuditRow, OpenAdmission } from './records.ts';
import type { SqlDriver, SqlParam, SqlRow } from './sql-driver.ts';
import { AUDIT_COLUMNS, encodeBatch, HOLD_COLUMNS, INSERT_BATCH_SQL, insertParams, toAuditHold, toAuditRow, type EncodedBatch } from './sql-rows.ts';
import type { AuditBackend, AuditHold, AuditQuery, AuditStore, NewHold, PurgeOutcome, PurgeRequest, RetentionSetting } from './store.ts';
import { verifyLog, type ChainMarks, type VerifyResult } from './verify-chain.ts';

const VERIFY_PAGE_ROWS = 1_000;
export const MAX_QUERY_LIMIT = 10_000;

function whereClause(query: AuditQuery): { sql: string; params: SqlParam[] } {
  const conditions: string[] = [];
  const params: SqlParam[] = [];
  const add = (condition: string, value: SqlParam): void => {
    params.push(value);
    conditions.push(condition.replace('?', `$${params.length}`));
  };
  if (query.chain !== undefined) add('chain = ?', query.chain);
  if (query.task_id !== undefined) add('task_id = ?', query.task_id);
  if (query.session_id !== undefined) add('session_id = ?', query.session_id);
  if (query.kind !== undefined) add('kind = ?', query.kind);
  if (query.since !== undefined) add('at >= ?', query.since.toISOString());
  if (query.until !== undefined) add('at < ?', query.until.toISOString());
  if (query.after_chain !== undefined) {
    params.push(query.after_chain, query.after_seq ?? 0);
    conditions.push(`(chain, seq) > ($${params.length - 1}, $${params.length})`);
  } else if (query.after_seq !== undefined) {
    add('seq > ?', query.after_seq);
  }
  return { sql: conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`, params };
}

/** What audit_purge_plan answers: the prefix it would delete and the head the purge row extends. */
interface PurgePlan {
  through: number | null;
  anchorHash: string | null;
  deleted: number;
  head: ChainHead;
  retentionDays: number;
}

function purgePlanOf(row: SqlRow | undefined): PurgePlan {
  if (row === undefined) throw new Error('audit_purge_plan returned no row');
  return {
    through: row.through_seq === null || row.through_seq === undefined ? null : Number(row.through_seq),
    anchorHash: typeof row.anchor_hash === 'string' ? row.anchor_hash : null,
    deleted: Number(row.deleted_rows ?? 0),
    head: { seq: Number(row.head_seq), hash: String(row.head_hash) },
    retentionDays: Number(row.retention_days),
  };
}

// The database checks every field of this row against its own plan (audit_purge_commit).
function purgeRecord(request: PurgeRequest, plan: PurgePlan): AuditRecord {
  const anchor: AuditRecord['data'] = plan.through === null || plan.anchorHash === null ? {} : { anchor_seq: plan.through, anchor_hash: plan.anchorHash };
  return {
    at: request.at, kind: 'control', task_id: null, session_id: null, pool_id: null, actor: request.actor,
    correlation_id: request.correlation_id ?? null,
    data: {
      action: 'retention_purge', target: 'audit_log', outcome: 'done',
      detail: { older_than: request.older_than.toISOString(), deleted_rows: plan.deleted, retention_days: plan.retentionDays }, ...anchor,
    },
  };
}

type MutableMarks = { genesis: ChainMarks['genesis']; purges: ChainMarks['purges'][number][] };

/** The marks of each registered chain. A chain is registered by its genesis mark (migrations/0004). */
function marksByChain(rows: SqlRow[]): Map<string, ChainMarks> {
  const chains = new Map<string, MutableMarks>();
  for (const row of rows) {
    const chain = String(row.chain);
    let marks = chains.get(chain);
    if (marks === undefined) {
      marks = { genesis: null, purges: [] };
      chains.set(chain, marks);
    }
    const seq = Number(row.seq);
    const hash = String(row.hash);
    if (row.kind === 'genesis') marks.genesis = { seq, hash };
    else marks.purges.push({ seq, hash, anchor: row.anchor_seq === null ? null : { seq: Number(row.anchor_seq), hash: String(row.anchor_hash) } });
  }
  return chains;
}

// Seqs compare only within a chain; a terminal row another replica wrote for the task (a survivor
// ending a lost replica's task) closes it when it is not older than the admission.
const OPEN_ADMISSIONS_SQL = `SELECT a.seq, a.at, a.task_id, a.session_id, a.pool_id, a.correlation_id, a.data,
    (SELECT p.data FROM audit_log p WHERE p.chain = a.chain AND p.task_id = a.task_id AND p.kind = 'placement' AND p.seq > a.seq ORDER BY p.seq DESC LIMIT 1) AS placement
  FROM audit_log a
  WHERE a.chain = $3 AND a.kind = 'admission' AND a.task_id IS NOT NULL AND a.seq > $1
    AND NOT EXISTS (SELECT 1 FROM audit_log t WHERE t.task_id = a.task_id AND t.kind IN ('terminal', 'admission')
      AND CASE WHEN t.chain = a.chain THEN t.seq > a.seq ELSE t.kind = 'terminal' AND t.at >= a.at END)
  ORDER BY a.seq LIMIT $2`;

export class SqlAuditStore implements AuditStore {
  readonly backend: AuditBackend;
  readonly chain: string;
  readonly #driver: SqlDriver;

  constructor(backend: AuditBackend, driver: SqlDriver, chain: string = DEFAULT_CHAIN) {
    this.backend = backend;
    this.#driver = driver;
    this.chain = chain;
  }

  async head(): Promise<ChainHead> {
    const [last] = await this.#driver.query('SELECT seq, hash FROM audit_log WHERE chain = $1 ORDER BY seq DESC LIMIT 1', [this.chain]);
    return last === undefined ? GENESIS_HEAD : { seq: Number(last.seq), hash: String(last.hash) };
  }

  append(rows: readonly ChainedRow[]): Promise<void> {
    return this.appendEncoded(encodeBatch(rows));
  }

  /** append() for a batch already encoded (sql-rows.ts encodeBatch), as the worker receives it. */
  async appendEncoded(batch: EncodedBatch): Promise<void> {
    if (batch.hash === '') return;
    await this.#driver.query(INSERT_BATCH_SQL, insertParams(batch));
  }

  async query(query: AuditQuery): Promise<AuditRow[]> {
    if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_QUERY_LIMIT) {
      throw new RangeError(`limit must be an integer in 1..${MAX_QUERY_LIMIT}`);
    }
    const where = whereClause(query);
    const rows = await this.#driver.query(
      `SELECT ${AUDIT_COLUMNS} FROM audit_log ${where.sql} ORDER BY chain, seq LIMIT $${where.params.length + 1}`,
      [...where.params, query.limit],
    );
    return rows.map(toAuditRow);
  }

  async verify(): Promise<VerifyResult> {
    const marks = marksByChain(await this.#driver.query('SELECT chain, kind, seq, hash, anchor_seq, anchor_hash FROM audit_chain_marks ORDER BY chain, seq'));
    return verifyLog(this.#pages(), marks);
  }

  /** Every row, chain by chain in seq order. */
  async *#pages(): AsyncGenerator<AuditRow> {
    let after: { chain: string; seq: number } = { chain: '', seq: 0 };
    for (;;) {
      const page = await this.query({ after_chain: after.chain, after_seq: after.seq, limit: VERIFY_PAGE_ROWS });
      yield* page;
      const last = page.at(-1);
      if (last === undefined || page.length < VERIFY_PAGE_ROWS) return;
      after = { chain: last.chain, seq: last.seq };
    }
  }

  purgePrefix(request: PurgeRequest): Promise<PurgeOutcome> {
    return this.#driver.transaction(async (tx) => {
      const olderThan = request.older_than.toISOString();
      const plan = purgePlanOf((await tx.query('SELECT * FROM audit_purge_plan($1, $2)', [this.chain, olderThan]))[0]);
      const { rows } = chainRecords(plan.head, [purgeRecord(request, plan)], this.chain);
      const [chained] = rows;
      if (chained === undefined) throw new Error('chainRecords returned no row for one record');
      const [result] = await tx.query('SELECT deleted_rows FROM audit_purge_commit($1, $2, $3, $4, $5)', [this.chain, olderThan, chained.content, chained.prev_hash, chained.hash]);
      const { content: _content, ...row } = chained;
      return { row, deleted_rows: Number(result?.deleted_rows ?? 0), anchor_seq: plan.through };
    });
  }

  async syncRetention(days: number | null): Promise<RetentionSetting> {
    const [access] = await this.#driver.query(`SELECT has_table_privilege('audit_settings', 'UPDATE') AS owner`);
    const owner = access?.owner === true;
    if (owner) {
      await this.#driver.query(
        'UPDATE audit_settings SET retention_days = $1, updated_at = now(), updated_by = current_user WHERE retention_days IS DISTINCT FROM $1::integer',
        [days],
      );
    }
    const [setting] = await this.#driver.query('SELECT retention_days FROM audit_settings');
    const stored = setting?.retention_days;
    return { retention_days: stored === null || stored === undefined ? null : Number(stored), owner };
  }

  async openAdmissions(afterSeq: number, limit: number): Promise<OpenAdmission[]> {
    const rows = await this.#driver.query(OPEN_ADMISSIONS_SQL, [afterSeq, limit, this.chain]);
    return rows.map((row) => ({
      seq: Number(row.seq),
      at: row.at instanceof Date ? row.at : new Date(String(row.at)),
      task_id: String(row.task_id),
      session_id: row.session_id === null ? null : String(row.session_id),
      pool_id: row.pool_id === null ? null : String(row.pool_id),
      correlation_id: row.correlation_id === null ? null : String(row.correlation_id),
      admission: row.data as OpenAdmission['admission'],
      placement: (row.placement ?? null) as OpenAdmission['placement'],
    }));
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

  /** One statement on the tenancy tables (migrations/0003), which share this database. */
  sql(statement: string, params: readonly SqlParam[] = []): Promise<SqlRow[]> {
    return this.#driver.query(statement, params);
  }

  close(): Promise<void> {
    return this.#driver.close();
  }
}

/** Applies pending migrations, then returns the store on `chain`. Closes the driver if that fails. */
export async function openSqlStore(backend: AuditBackend, driver: SqlDriver, chain: string = DEFAULT_CHAIN): Promise<SqlAuditStore> {
  try {
    await migrate(driver, await readMigrations());
  } catch (error) {
    await driver.close().catch(() => undefined);
    throw error;
  }
  return new SqlAuditStore(backend, driver, chain);
}
