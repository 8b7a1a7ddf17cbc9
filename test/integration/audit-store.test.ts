// The audit store and writer against both real backends: server Postgres and PGlite (in a
// worker, in-memory). Tests in a backend's block share one store and run in order; the purge
// test comes last because it deletes the rows the others wrote.
// Verifies ORCH-0700 (every decision recorded), ORCH-0702 (batched, bounded), ORCH-0703 and
// ORCH-0708 (purge of the unheld prefix, still verifiable), ORCH-0709 (admission committed before
// commitAdmission resolves), ORCH-0710 (no prompt text), ORCH-0711 (fail-open gaps counted).

import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { chainRecords } from '../../src/audit/hash-chain.ts';
import { exportNdjson, verifyNdjson } from '../../src/audit/ndjson-export.ts';
import { admissionRecord } from '../../src/audit/records.ts';
import { AuditUnavailableError, type AuditWriterOptions } from '../../src/audit/recorder.ts';
import type { AuditStore } from '../../src/audit/store.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import type { Clock } from '../../src/core/ports.ts';
import { admittedFact, BACKENDS, faultyStore, recordingLogger, terminalFact, until } from './audit-backends.ts';

const OPTIONS: AuditWriterOptions = { batch_max_rows: 64, batch_max_ms: 2, buffer_max_rows: 10_000, fail_closed: true };

describe.each(BACKENDS)('audit on $name', (backend) => {
  let store: AuditStore;
  let dispose: () => Promise<void>;
  const writers: AuditWriter[] = [];

  async function startWriter(target: AuditStore = store, options: Partial<AuditWriterOptions> = {}, clock?: Clock): Promise<AuditWriter> {
    const deps = { store: target, logger: recordingLogger(), retryInitialMs: 10, retryMaxMs: 50 };
    const writer = await AuditWriter.start({ ...OPTIONS, ...options }, clock === undefined ? deps : { ...deps, clock });
    writers.push(writer);
    return writer;
  }

  beforeAll(async () => {
    ({ store, dispose } = await backend.fresh());
  });

  afterEach(async () => {
    await Promise.all(writers.splice(0).map((writer) => writer.close(1_000)));
  });

  afterAll(async () => {
    await dispose();
  });

  // ORCH-0700 ORCH-0710
  it('records every kind of fact with its ids, never prompt text, and only the prompt hash it was given', async () => {
    const writer = await startWriter();
    await writer.commitAdmission(admittedFact('kinds-1', { session_id: 'sess-k', evicted_task_id: 'old-1', policy_label: 'drop-lru', queue_position: 4, prompt_sha256: 'ab'.repeat(32) }));
    writer.rejected({ correlation_id: 'corr-r', code: 'ADMISSION_REJECT', pool_id: 'pool-a', task_id: 'kinds-1', policy_label: 'reject', message: 'queue full' });
    writer.placed({ ...admittedFact('kinds-1'), replica_id: 'r2', engine: 'vllm', queue_wait_ms: 9, decision: 'least-loaded of 3', attempt: 1 });
    writer.finished(terminalFact('kinds-1', { state: 'canceled', finish_reason: 'canceled', cancel_reason: 'client' }));
    writer.control({ action: 'drain', actor: 'ops@example', target: 'pool-a/r2', outcome: 'accepted' });
    writer.control({ action: 'session_delete', actor: 'client-token-1', target: 'sess-k', outcome: 'done' });
    await writer.flush();

    const rows = await store.query({ task_id: 'kinds-1', limit: 10 });
    expect(rows.map((row) => row.kind)).toEqual(['admission', 'rejection', 'placement', 'terminal']);
    expect(rows[0]?.data).toEqual({ accepted: true, priority: 'interactive', max_tokens: 64, queue_position: 4, predicted_start_ms: 5, policy_label: 'drop-lru', evicted_task_id: 'old-1', prompt_sha256: 'ab'.repeat(32) });
    expect(rows[0]).toMatchObject({ session_id: 'sess-k', pool_id: 'pool-a', correlation_id: 'corr-kinds-1' });
    expect(rows[1]?.data).toEqual({ accepted: false, code: 'ADMISSION_REJECT', policy_label: 'reject' });
    expect(rows[2]?.data).toMatchObject({ replica_id: 'r2', engine: 'vllm', decision: 'least-loaded of 3', attempt: 1 });
    expect(rows[3]?.data).toMatchObject({ state: 'canceled', finish_reason: 'canceled', cancel_reason: 'client', tokens_out: 12, e2e_ms: 45 });
    const control = await store.query({ kind: 'control', limit: 10 });
    expect(control.at(-1)).toMatchObject({ actor: 'ops@example', data: { action: 'drain', target: 'pool-a/r2', outcome: 'accepted' } });
    const deletion = await store.query({ kind: 'session_delete', limit: 10 });
    expect(deletion.at(-1)).toMatchObject({ session_id: 'sess-k', actor: 'client-token-1' });
    expect(JSON.stringify(rows)).not.toContain('queue full');
  });

  it('makes an admission readable in the store by the time commitAdmission resolves', async () => {
    const writer = await startWriter();
    await writer.commitAdmission(admittedFact('commit-point-1'));
    expect(await store.query({ task_id: 'commit-point-1', limit: 1 })).toHaveLength(1);
  });

  it('keeps recording order under concurrent producers and chains every row', async () => {
    const writer = await startWriter();
    const order: string[] = [];
    const producer = async (p: number): Promise<void> => {
      for (let i = 0; i < 20; i++) {
        const taskId = `order-${p}-${i}`;
        order.push(taskId);
        if (i % 4 === 0) await writer.commitAdmission(admittedFact(taskId));
        else writer.finished(terminalFact(taskId));
        if (i % 3 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    };
    await Promise.all(Array.from({ length: 10 }, (_, p) => producer(p)));
    await writer.flush();
    const stored: string[] = [];
    for await (const line of exportNdjson(store, {})) {
      const taskId = (JSON.parse(line) as { task_id: string | null }).task_id;
      if (taskId?.startsWith('order-') === true) stored.push(taskId);
    }
    expect(stored).toEqual(order);
    expect(await store.verify()).toMatchObject({ ok: true });
  });

  // ORCH-0702
  it('commits a burst in fewer transactions than rows', async () => {
    const counted = faultyStore(store);
    const writer = await startWriter(counted, { batch_max_rows: 100 });
    const admissions = Array.from({ length: 300 }, (_, i) => writer.commitAdmission(admittedFact(`burst-${i}`)));
    for (let i = 0; i < 300; i++) writer.finished(terminalFact(`burst-${i}`));
    await Promise.all(admissions);
    await writer.flush();
    expect(counted.appends).toBeLessThan(600);
    expect(counted.appends).toBeGreaterThanOrEqual(6);
    expect(await store.verify()).toMatchObject({ ok: true });
  });

  // ORCH-0113
  it('stops accepting and refuses admissions while the store is down, then continues the chain', async () => {
    const flaky = faultyStore(store);
    const writer = await startWriter(flaky);
    await writer.commitAdmission(admittedFact('outage-1'));
    flaky.down = true;
    writer.finished(terminalFact('outage-1'));
    await expect(writer.commitAdmission(admittedFact('outage-2'))).rejects.toBeInstanceOf(AuditUnavailableError);
    expect(writer.accepting()).toBe(false);
    await expect(writer.commitAdmission(admittedFact('outage-3'))).rejects.toBeInstanceOf(AuditUnavailableError);
    flaky.down = false;
    await until(() => writer.accepting());
    await writer.commitAdmission(admittedFact('outage-4'));
    const rows = await store.query({ after_seq: 0, limit: 10_000 });
    const outage = rows.filter((row) => row.task_id?.startsWith('outage-') === true).map((row) => `${row.kind}:${row.task_id}`);
    expect(outage).toEqual(['admission:outage-1', 'terminal:outage-1', 'admission:outage-4']);
    expect(await store.verify()).toMatchObject({ ok: true });
  });

  // ORCH-0711
  it('fail-open keeps serving through an outage and counts every dropped record as a gap', async () => {
    const flaky = faultyStore(store);
    const writer = await startWriter(flaky, { fail_closed: false, buffer_max_rows: 20 });
    flaky.down = true;
    for (let i = 0; i < 50; i++) await writer.commitAdmission(admittedFact(`open-${i}`));
    expect(writer.gaps()).toBeGreaterThan(0);
    flaky.down = false;
    await writer.flush();
    const stored = (await store.query({ after_seq: 0, limit: 10_000 })).filter((row) => row.task_id?.startsWith('open-') === true);
    expect(stored.length + writer.gaps()).toBe(50);
    expect(await store.verify()).toMatchObject({ ok: true });
  });

  // The columns are derived in the database from the canonical content the hash covers; text
  // that JSON must escape (or jsonb refuses) has to come back exactly as it was hashed.
  it('stores awkward text exactly as hashed: quotes, backslashes, newlines, U+2028, astral, NUL, lone surrogates', async () => {
    const writer = await startWriter();
    const awkward = 'q"uo\\te\nline\u2028sep\u{1F600} tab\t nul\u0000 lone\uD800 end';
    await writer.commitAdmission(admittedFact('awkward-1', { session_id: awkward, correlation_id: awkward, policy_label: awkward }));
    writer.control({ action: 'drain', actor: awkward, target: awkward, outcome: 'accepted', detail: { nested: [awkward, -0, 1.5e300, null], '\u00e9': true } });
    await writer.flush();
    const [admission] = await store.query({ task_id: 'awkward-1', limit: 1 });
    const stored = awkward.replace('\u0000', '\uFFFD').replace('\uD800', '\uFFFD');
    expect(admission).toMatchObject({ session_id: stored, correlation_id: stored, data: { policy_label: stored } });
    const control = (await store.query({ kind: 'control', limit: 10_000 })).at(-1);
    expect(control).toMatchObject({ actor: stored, data: { target: stored, detail: { nested: [stored, 0, 1.5e300, null], '\u00e9': true } } });
    expect(await store.verify()).toMatchObject({ ok: true });
  });

  // The batch travels as one string per column (sql-rows.ts encodeBatch); a row that does not
  // split cleanly must not leave part of its batch stored.
  it('refuses a batch with a malformed row whole, then appends where the chain stood', async () => {
    const head = await store.head();
    const { rows } = chainRecords(head, [admissionRecord(admittedFact('malformed-1'), new Date()), admissionRecord(admittedFact('malformed-2'), new Date())]);
    const [good, bad] = rows;
    if (good === undefined || bad === undefined) throw new Error('chainRecords returned fewer rows');
    await expect(store.append([good, { ...bad, content: `${bad.content}\n{}` }])).rejects.toThrow();
    expect(await store.head()).toEqual(head);
    await store.append(rows);
    expect((await store.query({ task_id: 'malformed-2', limit: 1 }))[0]).toMatchObject({ seq: head.seq + 2, prev_hash: good.hash, hash: bad.hash });
  });

  it('filters by task, session, kind and time range, and pages by seq', async () => {
    let now = Date.parse('2030-01-01T00:00:00.000Z');
    const clock: Clock = { now: () => now, monotonic: () => performance.now() };
    const writer = await startWriter(store, {}, clock);
    for (let i = 0; i < 10; i++) {
      now += 60_000;
      await writer.commitAdmission(admittedFact(`page-${i}`, { session_id: i % 2 === 0 ? 'sess-even' : 'sess-odd' }));
      writer.finished(terminalFact(`page-${i}`, { session_id: i % 2 === 0 ? 'sess-even' : 'sess-odd' }));
    }
    await writer.flush();
    const even = await store.query({ session_id: 'sess-even', kind: 'terminal', limit: 100 });
    expect(even.map((row) => row.task_id)).toEqual(['page-0', 'page-2', 'page-4', 'page-6', 'page-8']);
    const window = await store.query({ kind: 'admission', since: new Date('2030-01-01T00:03:00.000Z'), until: new Date('2030-01-01T00:05:00.000Z'), limit: 100 });
    expect(window.map((row) => row.task_id)).toEqual(['page-2', 'page-3']);
    const pages: string[][] = [];
    let after = 0;
    for (;;) {
      const page = await store.query({ session_id: 'sess-odd', after_seq: after, limit: 3 });
      if (page.length === 0) break;
      pages.push(page.map((row) => `${row.kind}:${row.task_id}`));
      after = page.at(-1)!.seq;
    }
    expect(pages.map((page) => page.length)).toEqual([3, 3, 3, 1]);
    expect(pages.flat()[0]).toBe('admission:page-1');
  });

  it('exports NDJSON lines carrying seq, prev_hash and hash that verify offline', async () => {
    const lines: string[] = [];
    for await (const line of exportNdjson(store)) lines.push(line);
    const head = await store.head();
    expect(lines).toHaveLength(head.seq);
    const last = JSON.parse(lines.at(-1)!) as Record<string, unknown>;
    expect(last).toMatchObject({ seq: head.seq, hash: head.hash });
    expect(typeof last.prev_hash).toBe('string');
    expect(lines.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n'))).toBe(true);
    expect(await verifyNdjson(lines)).toMatchObject({ ok: true, rows: head.seq, head_hash: head.hash });
    const forged = lines.map((line) => line.replace('"tokens_out":12', '"tokens_out":13'));
    const firstChanged = forged.findIndex((line, i) => line !== lines[i]);
    expect(await verifyNdjson(forged)).toMatchObject({ ok: false, first_bad_seq: firstChanged + 1 });
    const oneTask: string[] = [];
    for await (const line of exportNdjson(store, { task_id: 'page-3' })) oneTask.push(line);
    expect(oneTask).toHaveLength(2);
  });

  // ORCH-0703 ORCH-0708: on a store of its own, with rows from 2020 and a one-day retention floor.
  it('purges only the unheld prefix, records the purge, and still verifies after each purge', async () => {
    const own = await backend.fresh();
    let now = Date.parse('2020-01-01T00:00:00.000Z');
    const clock: Clock = { now: () => now, monotonic: () => performance.now() };
    const writer = await startWriter(own.store, {}, clock);
    try {
      const target = own.store;
      expect(await target.syncRetention(1)).toEqual({ retention_days: 1, owner: true });
      for (let i = 1; i <= 5; i++) {
        now += 60_000;
        await writer.commitAdmission(admittedFact(`old-${i}`));
      }
      now += 60_000;
      await writer.commitAdmission(admittedFact('held-task'));
      await writer.commitAdmission(admittedFact('after-held', { session_id: 'held-session' }));
      writer.finished(terminalFact('after-held', { session_id: 'held-session' }));
      await writer.flush();
      const taskHold = await target.addHold({ task_id: 'held-task', reason: 'litigation 42', created_by: 'legal@example' });
      const sessionHold = await target.addHold({ session_id: 'held-session', reason: 'complaint', created_by: 'legal@example' });
      const rangeHold = await target.addHold({ from_at: new Date('2020-01-01T00:03:00.000Z'), to_at: new Date('2020-01-01T00:03:00.001Z'), reason: 'audit', created_by: 'legal@example' });
      expect((await target.listHolds()).map((hold) => hold.id)).toEqual(expect.arrayContaining([taskHold.id, sessionHold.id, rangeHold.id]));

      // A cutoff inside the retention floor is refused and deletes nothing.
      await expect(writer.purge(new Date(Date.now() - 3_600_000), 'ops@example')).rejects.toThrow(/retention floor of 1 days/);
      expect(await target.query({ limit: 100 })).toHaveLength(8);

      const cutoff = new Date('2020-06-01T00:00:00.000Z');
      const byRange = await writer.purge(cutoff, 'ops@example');
      expect(byRange).toMatchObject({ anchor_seq: 2, deleted_rows: 2 });
      expect(await target.verify()).toMatchObject({ ok: true });
      expect(await target.removeHold(rangeHold.id)).toBe(true);

      const first = await writer.purge(cutoff, 'ops@example');
      expect(first).toMatchObject({ anchor_seq: 5, deleted_rows: 3 });
      const remaining = await target.query({ limit: 100 });
      expect(remaining[0]?.seq).toBe(6);
      expect(remaining.at(-1)).toMatchObject({
        seq: first.seq, kind: 'control', actor: 'ops@example',
        data: { action: 'retention_purge', anchor_seq: 5, detail: { deleted_rows: 3, retention_days: 1, older_than: cutoff.toISOString() } },
      });
      expect(await target.verify()).toMatchObject({ ok: true });

      expect(await target.removeHold(taskHold.id)).toBe(true);
      expect(await target.removeHold(taskHold.id)).toBe(false);
      const second = await writer.purge(cutoff, 'ops@example');
      expect((await target.query({ limit: 100 }))[0]?.task_id).toBe('after-held');
      expect(second.deleted_rows).toBe(1);
      expect(await target.verify()).toMatchObject({ ok: true });

      expect(await target.removeHold(sessionHold.id)).toBe(true);
      await writer.purge(cutoff, 'ops@example');
      const left = await target.query({ limit: 100 });
      expect(left).toHaveLength(1);
      expect(left[0]?.data).toMatchObject({ action: 'retention_purge' });
      expect(await target.verify()).toMatchObject({ ok: true, rows: 1 });
    } finally {
      await writer.close(1_000);
      await own.dispose();
    }
  });
});
