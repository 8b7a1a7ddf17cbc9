import { afterEach, describe, expect, it } from 'vitest';
import type { AdmittedFact, TerminalFact } from '../core/observer.ts';
import type { AuditLogger } from './gap-reporter.ts';
import { chainRecords, DEFAULT_CHAIN, GENESIS_HEAD, type ChainHead } from './hash-chain.ts';
import type { AuditRow, OpenAdmission } from './records.ts';
import { AuditUnavailableError, type AuditWriterOptions } from './recorder.ts';
import type { AuditHold, AuditQuery, AuditStore, PurgeOutcome, PurgeRequest, RetentionSetting } from './store.ts';
import { verifyLog, type VerifyResult } from './verify-chain.ts';
import { AuditWriter } from './writer.ts';

/** An in-memory store with the database's one rule that matters here: seq must continue the chain. */
class FakeStore implements AuditStore {
  readonly backend = 'pglite' as const;
  readonly chain = DEFAULT_CHAIN;
  rows: AuditRow[] = [];
  batches: number[] = [];
  down = false;
  /** Store the batch, then fail as if the acknowledgement was lost. */
  loseNextAck = false;
  downAfterLostAck = false;
  gate: Promise<void> | null = null;

  async head(): Promise<ChainHead> {
    if (this.down) throw new Error('store down');
    const last = this.rows.at(-1);
    return last === undefined ? GENESIS_HEAD : { seq: last.seq, hash: last.hash };
  }

  async append(rows: readonly AuditRow[]): Promise<void> {
    if (this.gate !== null) await this.gate;
    if (this.down) throw new Error('store down');
    const last = this.rows.at(-1)?.seq ?? 0;
    if (rows[0]?.seq !== last + 1) throw new Error('duplicate key value violates unique constraint "audit_log_pkey"');
    this.rows.push(...rows);
    this.batches.push(rows.length);
    if (this.loseNextAck) {
      this.loseNextAck = false;
      this.down = this.downAfterLostAck;
      throw new Error('connection terminated');
    }
  }

  async query(query: AuditQuery): Promise<AuditRow[]> {
    if (this.down) throw new Error('store down');
    return this.rows.filter((row) => row.seq > (query.after_seq ?? 0)).slice(0, query.limit);
  }

  async verify(): Promise<VerifyResult> {
    const rows = this.rows;
    return verifyLog((async function* () { yield* rows; })());
  }

  async purgePrefix(request: PurgeRequest): Promise<PurgeOutcome> {
    const keep = this.rows.findIndex((row) => row.at >= request.older_than);
    const deleted = keep === -1 ? this.rows.length : keep;
    const anchor = deleted > 0 ? this.rows[deleted - 1] : undefined;
    const { rows } = chainRecords(await this.head(), [{
      at: request.at, kind: 'control', task_id: null, session_id: null, pool_id: null, actor: request.actor, correlation_id: null,
      data: { action: 'retention_purge', ...(anchor === undefined ? {} : { anchor_seq: anchor.seq, anchor_hash: anchor.hash }) },
    }]);
    this.rows.splice(0, deleted);
    this.rows.push(...rows);
    return { row: rows[0]!, deleted_rows: deleted, anchor_seq: anchor?.seq ?? null };
  }

  async syncRetention(days: number | null): Promise<RetentionSetting> { return { retention_days: days, owner: true }; }
  async openAdmissions(): Promise<OpenAdmission[]> { return []; }
  async addHold(): Promise<AuditHold> { throw new Error('not used'); }
  async removeHold(): Promise<boolean> { return false; }
  async listHolds(): Promise<AuditHold[]> { return []; }
  async close(): Promise<void> {}
}

function logger(): AuditLogger & { errors: string[]; warnings: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  return { errors, warnings, error: (_f, m) => errors.push(m), warn: (_f, m) => warnings.push(m) };
}

const OPTIONS: AuditWriterOptions = { batch_max_rows: 64, batch_max_ms: 2, buffer_max_rows: 1_000, fail_closed: true };

function admitted(n: number): AdmittedFact {
  return { task_id: `task-${n}`, pool_id: 'p', priority: 'interactive', correlation_id: `c-${n}`, max_tokens: 16, queue_position: n, predicted_start_ms: 0, policy_label: 'reject' };
}

function terminal(n: number): TerminalFact {
  return { task_id: `task-${n}`, pool_id: 'p', priority: 'batch', correlation_id: `c-${n}`, max_tokens: 16, state: 'completed', finish_reason: 'stop', tokens_out: 3, queue_wait_ms: 1, decode_time_ms: 2, e2e_ms: 3 };
}

const settle = (ms = 5): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await settle(2);
  }
}

const writers: AuditWriter[] = [];
async function start(store: FakeStore, options: Partial<AuditWriterOptions> = {}, log = logger()): Promise<AuditWriter> {
  const writer = await AuditWriter.start({ ...OPTIONS, ...options }, { store, logger: log, retryInitialMs: 5, retryMaxMs: 20 });
  writers.push(writer);
  return writer;
}

afterEach(async () => {
  await Promise.all(writers.splice(0).map((writer) => writer.close(200)));
});

describe('AuditWriter', () => {
  // ORCH-0709
  it('resolves commitAdmission only after the batch holding the row is committed', async () => {
    const store = new FakeStore();
    let release = (): void => undefined;
    store.gate = new Promise((resolve) => { release = resolve; });
    const writer = await start(store);
    let resolved = false;
    const committed = writer.commitAdmission(admitted(1)).then(() => { resolved = true; });
    await settle(20);
    expect(resolved).toBe(false);
    expect(store.rows).toHaveLength(0);
    release();
    await committed;
    expect(store.rows.map((row) => row.task_id)).toEqual(['task-1']);
  });

  // ORCH-0702
  it('groups a burst into fewer commits than rows, never above batch_max_rows, in recording order', async () => {
    const store = new FakeStore();
    const writer = await start(store, { batch_max_rows: 50 });
    const admissions: Promise<void>[] = [];
    for (let n = 0; n < 500; n++) {
      if (n % 2 === 0) admissions.push(writer.commitAdmission(admitted(n)));
      else writer.finished(terminal(n));
    }
    await Promise.all(admissions);
    await writer.flush();
    expect(store.rows.map((row) => row.task_id)).toEqual(Array.from({ length: 500 }, (_, n) => `task-${n}`));
    expect(store.batches.length).toBeLessThan(500);
    expect(Math.max(...store.batches)).toBeLessThanOrEqual(50);
    expect(await store.verify()).toMatchObject({ ok: true, rows: 500 });
  });

  it('commits a lone record at once when idle, without waiting for batch_max_ms', async () => {
    const store = new FakeStore();
    const writer = await start(store, { batch_max_ms: 60_000 });
    await writer.commitAdmission(admitted(1));
    expect(store.batches).toEqual([1]);
  });

  // Issue 14: the first token of an admitted task waits for its row, so no timer may stand in between.
  it('never lets an admission wait for batch_max_ms: not behind lingering rows, not after a batch in flight', async () => {
    const store = new FakeStore();
    let release = (): void => undefined;
    store.gate = new Promise((resolve) => { release = resolve; });
    const writer = await start(store, { batch_max_ms: 60_000 });
    const first = writer.commitAdmission(admitted(1));
    writer.finished(terminal(1));
    store.gate = null;
    release();
    await first;
    await settle(5);
    // The terminal row lingers (nobody waits on it) ...
    expect(store.batches).toEqual([1]);
    // ... until an admission comes: it is committed at once, taking the lingering row along.
    await writer.commitAdmission(admitted(2));
    await settle(1);
    store.gate = new Promise((resolve) => { release = resolve; });
    const third = writer.commitAdmission(admitted(3));
    const fourth = writer.commitAdmission(admitted(4));
    store.gate = null;
    release();
    // One queued behind a batch in flight goes right after it.
    await Promise.all([third, fourth]);
    expect(store.batches).toEqual([1, 2, 1, 1]);
    expect(store.rows.map((row) => `${row.kind}:${row.task_id}`)).toEqual(['admission:task-1', 'terminal:task-1', 'admission:task-2', 'admission:task-3', 'admission:task-4']);
  });

  // Issue 14: under load every row recorded while a commit is in flight, from any number of tasks
  // and macrotasks, goes to the store in the one next call (one message to the PGlite worker).
  it('sends everything recorded during a commit in flight as one next batch, in recording order', async () => {
    const store = new FakeStore();
    let release = (): void => undefined;
    store.gate = new Promise((resolve) => { release = resolve; });
    const writer = await start(store, { batch_max_rows: 256, batch_max_ms: 60_000 });
    const admissions = [writer.commitAdmission(admitted(0))];
    for (let n = 1; n <= 40; n++) {
      admissions.push(writer.commitAdmission(admitted(n)));
      await new Promise((resolve) => setImmediate(resolve));
      writer.finished(terminal(n - 1));
    }
    expect(store.batches).toEqual([]);
    store.gate = null;
    release();
    await Promise.all(admissions);
    expect(store.batches).toEqual([1, 80]);
    expect(store.rows.map((row) => row.kind === 'admission' ? row.task_id : `end ${row.task_id}`).slice(0, 4)).toEqual(['task-0', 'task-1', 'end task-0', 'task-2']);
    expect(await store.verify()).toMatchObject({ ok: true, rows: 81 });
  });

  it('holds rows nobody waits on for up to batch_max_ms, so a task\'s placement and terminal rows share a commit', async () => {
    const store = new FakeStore();
    const writer = await start(store, { batch_max_ms: 40 });
    await writer.commitAdmission(admitted(1));
    writer.placed({ task_id: 'task-1', pool_id: 'p', priority: 'interactive', correlation_id: 'c-1', max_tokens: 16, replica_id: 'r', engine: 'mock', decision: 'd', attempt: 1, queue_wait_ms: 0 });
    await settle(5);
    writer.finished(terminal(1));
    expect(store.batches).toEqual([1]);
    await until(() => store.rows.length === 3);
    expect(store.batches).toEqual([1, 2]);
  });

  // ORCH-0113
  it('fail-closed: refuses admissions while the store is down, keeps other records, and continues the chain after recovery', async () => {
    const store = new FakeStore();
    const log = logger();
    const writer = await start(store, {}, log);
    await writer.commitAdmission(admitted(1));
    store.down = true;
    writer.finished(terminal(1));
    await expect(writer.commitAdmission(admitted(2))).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(writer.accepting()).toBe(false);
    await expect(writer.commitAdmission(admitted(3))).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(log.errors.some((message) => message.includes('audit store failed'))).toBe(true);
    store.down = false;
    await until(() => writer.accepting());
    await writer.commitAdmission(admitted(4));
    expect(store.rows.map((row) => `${row.kind}:${row.task_id}`)).toEqual(['admission:task-1', 'terminal:task-1', 'admission:task-4']);
    expect(await store.verify()).toMatchObject({ ok: true, rows: 3 });
    expect(writer.gaps()).toBe(0);
  });

  it('becomes accepting again after an outage even when nothing is left to write', async () => {
    const store = new FakeStore();
    const writer = await start(store);
    store.down = true;
    await expect(writer.commitAdmission(admitted(1))).rejects.toBeInstanceOf(AuditUnavailableError);
    store.down = false;
    await until(() => writer.accepting());
    expect(writer.pending()).toBe(0);
    expect(store.rows).toHaveLength(0);
  });

  it('fail-open: keeps admitting while the store is down and stores the rows once it is back', async () => {
    const store = new FakeStore();
    const writer = await start(store, { fail_closed: false });
    store.down = true;
    await writer.commitAdmission(admitted(1));
    await writer.commitAdmission(admitted(2));
    expect(writer.accepting()).toBe(false);
    expect(writer.pending()).toBe(2);
    store.down = false;
    await writer.flush();
    expect(store.rows.map((row) => row.task_id)).toEqual(['task-1', 'task-2']);
    expect(writer.gaps()).toBe(0);
  });

  // ORCH-0702 ORCH-0711
  it('fail-open: counts every record dropped on a full buffer as a gap and logs it', async () => {
    const store = new FakeStore();
    const log = logger();
    const writer = await start(store, { fail_closed: false, buffer_max_rows: 10 }, log);
    store.down = true;
    for (let n = 0; n < 25; n++) await writer.commitAdmission(admitted(n));
    expect(writer.gaps()).toBeGreaterThanOrEqual(14);
    expect(log.errors.some((message) => message.startsWith('AUDIT GAP'))).toBe(true);
    store.down = false;
    await writer.flush();
    // Every record is either in the log or counted as a gap, never silently lost.
    expect(store.rows.length + writer.gaps()).toBe(25);
    expect(await store.verify()).toMatchObject({ ok: true });
  });

  it('fail-closed: stops accepting when the buffer is full', async () => {
    const store = new FakeStore();
    store.gate = new Promise(() => undefined);
    const writer = await start(store, { buffer_max_rows: 5, batch_max_rows: 2 });
    for (let n = 0; n < 2; n++) writer.finished(terminal(n));
    await settle(10);
    for (let n = 2; n < 7; n++) writer.finished(terminal(n));
    expect(writer.accepting()).toBe(false);
    await expect(writer.commitAdmission(admitted(9))).rejects.toThrow('buffer is full');
  });

  it('treats a commit whose acknowledgement was lost as committed, without writing it twice', async () => {
    const store = new FakeStore();
    const writer = await start(store);
    store.loseNextAck = true;
    await writer.commitAdmission(admitted(1));
    await writer.commitAdmission(admitted(2));
    expect(store.rows.map((row) => row.task_id)).toEqual(['task-1', 'task-2']);
    expect(await store.verify()).toMatchObject({ ok: true, rows: 2 });
  });

  it('refuses an admission whose commit outcome is unknown, and never writes it again once found stored', async () => {
    const store = new FakeStore();
    const log = logger();
    const writer = await start(store, {}, log);
    store.loseNextAck = true;
    store.downAfterLostAck = true;
    await expect(writer.commitAdmission(admitted(1))).rejects.toBeInstanceOf(AuditUnavailableError);
    store.down = false;
    await until(() => writer.accepting());
    await writer.commitAdmission(admitted(2));
    expect(store.rows.map((row) => row.task_id)).toEqual(['task-1', 'task-2']);
    expect(log.warnings.some((message) => message.includes('answered 503 were stored'))).toBe(true);
  });

  it('continues from the stored head after another writer moved it', async () => {
    const store = new FakeStore();
    const writer = await start(store);
    await writer.commitAdmission(admitted(1));
    const intruder = await start(store);
    await intruder.commitAdmission(admitted(2));
    writer.finished(terminal(3));
    await writer.flush();
    expect(store.rows.map((row) => row.task_id)).toEqual(['task-1', 'task-2', 'task-3']);
    expect(await store.verify()).toMatchObject({ ok: true, rows: 3 });
  });

  it('commits records made before a purge ahead of the purge row', async () => {
    const store = new FakeStore();
    const writer = await start(store);
    for (let n = 0; n < 5; n++) writer.finished(terminal(n));
    const result = await writer.purge(new Date(Date.now() + 60_000), 'ops');
    expect(result).toEqual({ deleted_rows: 5, anchor_seq: 5, seq: 6 });
    writer.finished(terminal(9));
    await writer.flush();
    expect(store.rows.map((row) => row.seq)).toEqual([6, 7]);
    expect(await store.verify()).toMatchObject({ ok: true, rows: 2 });
  });

  it('close drains the buffer, then counts records it could not store as gaps', async () => {
    const store = new FakeStore();
    const writer = await start(store);
    for (let n = 0; n < 3; n++) writer.finished(terminal(n));
    await writer.close();
    expect(store.rows).toHaveLength(3);
    writer.finished(terminal(4));
    expect(writer.gaps()).toBe(1);

    const downStore = new FakeStore();
    const stuck = await start(downStore);
    downStore.down = true;
    stuck.finished(terminal(1));
    await stuck.close(50);
    expect(stuck.gaps()).toBe(1);
    expect(stuck.pending()).toBe(0);
  });
});
