import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RejectedFact } from '../core/observer.ts';
import { noopRecorder, type AuditRecorder } from './recorder.ts';
import { toJsonValue } from './jsonb-value.ts';
import { rejectionRecord } from './records.ts';
import { COALESCE_MAX_IDS, COALESCE_WINDOW_MS, coalesceRejections } from './rejection-coalescer.ts';

function recording(): { recorder: AuditRecorder; rows: RejectedFact[]; closed: () => boolean } {
  const rows: RejectedFact[] = [];
  let closed = false;
  const recorder: AuditRecorder = {
    ...noopRecorder(),
    rejected: (f) => rows.push(f),
    close: () => {
      closed = true;
      return Promise.resolve();
    },
  };
  return { recorder, rows, closed: () => closed };
}

const full = (id: string, extra: Partial<RejectedFact> = {}): RejectedFact => ({
  correlation_id: id, code: 'ADMISSION_REJECT', message: 'pool p queue is full (8 waiting)', pool_id: 'p', policy_label: 'reject',
  priority: 'interactive', tenant: 'default', key_id: 'anonymous', ...extra,
});

describe('coalesceRejections', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('writes a lone refusal at once as its own row, unchanged', () => {
    const { recorder, rows } = recording();
    const fact = full('c1');
    coalesceRejections(recorder).rejected?.(fact);
    expect(rows).toEqual([fact]);
    vi.advanceTimersByTime(COALESCE_WINDOW_MS * 3);
    expect(rows).toHaveLength(1);
  });

  it('merges the identical refusals of one window into one row listing every correlation id in order', () => {
    const { recorder, rows } = recording();
    const audit = coalesceRejections(recorder);
    for (let i = 1; i <= 5; i++) audit.rejected?.(full(`c${i}`));
    expect(rows.map((r) => r.correlation_id)).toEqual(['c1']);
    vi.advanceTimersByTime(COALESCE_WINDOW_MS);
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatchObject({ correlation_id: 'c2', code: 'ADMISSION_REJECT', pool_id: 'p', repeats: { correlation_ids: ['c2', 'c3', 'c4', 'c5'] } });
    // Counted: every refusal is in exactly one row.
    const ids = rows.flatMap((r) => r.repeats?.correlation_ids ?? [r.correlation_id]);
    expect(ids).toEqual(['c1', 'c2', 'c3', 'c4', 'c5']);
  });

  it('keeps refusals that differ in anything recorded (tenant, key, code, pool) in separate rows', () => {
    const { recorder, rows } = recording();
    const audit = coalesceRejections(recorder);
    audit.rejected?.(full('a1'));
    audit.rejected?.(full('b1', { tenant: 'team-b', key_id: 'key:b' }));
    audit.rejected?.(full('a2'));
    audit.rejected?.(full('b2', { tenant: 'team-b', key_id: 'key:b' }));
    audit.rejected?.(full('r1', { code: 'RATE_LIMITED', limit: 'requests_per_min' }));
    vi.advanceTimersByTime(COALESCE_WINDOW_MS);
    expect(rows.map((r) => [r.correlation_id, r.tenant, r.code, r.repeats?.correlation_ids])).toEqual([
      ['a1', 'default', 'ADMISSION_REJECT', undefined],
      ['b1', 'team-b', 'ADMISSION_REJECT', undefined],
      ['r1', 'default', 'RATE_LIMITED', undefined],
      ['a2', 'default', 'ADMISSION_REJECT', ['a2']],
      ['b2', 'team-b', 'ADMISSION_REJECT', ['b2']],
    ]);
  });

  it('splits a run of one kind at the first refusal that differs in one recorded field only', () => {
    const { recorder, rows } = recording();
    const audit = coalesceRejections(recorder);
    audit.rejected?.(full('p1'));
    audit.rejected?.(full('p2'));
    audit.rejected?.(full('q1', { priority: 'batch' }));
    audit.rejected?.(full('p3'));
    audit.rejected?.(full('q2', { priority: 'batch' }));
    vi.advanceTimersByTime(COALESCE_WINDOW_MS);
    expect(rows.map((r) => [r.correlation_id, r.priority, r.repeats?.correlation_ids])).toEqual([
      ['p1', 'interactive', undefined],
      ['q1', 'batch', undefined],
      ['p2', 'interactive', ['p2', 'p3']],
      ['q2', 'batch', ['q2']],
    ]);
  });

  it('never merges a refusal that names a task or a session', () => {
    const { recorder, rows } = recording();
    const audit = coalesceRejections(recorder);
    audit.rejected?.(full('x1'));
    audit.rejected?.(full('x2', { task_id: 'job-1' }));
    audit.rejected?.(full('x3', { session_id: 's-1' }));
    expect(rows.map((r) => [r.correlation_id, r.repeats])).toEqual([['x1', undefined], ['x2', undefined], ['x3', undefined]]);
  });

  it('writes a group as soon as it holds the most ids a row may list', () => {
    const { recorder, rows } = recording();
    const audit = coalesceRejections(recorder);
    for (let i = 0; i <= COALESCE_MAX_IDS; i++) audit.rejected?.(full(`c${i}`));
    expect(rows).toHaveLength(2);
    expect(rows[1]?.repeats?.correlation_ids).toHaveLength(COALESCE_MAX_IDS);
  });

  it('keeps one row per window while a burst lasts, and writes a lone refusal on its own again after a quiet window', () => {
    const { recorder, rows } = recording();
    const audit = coalesceRejections(recorder);
    let n = 0;
    for (let w = 0; w < 4; w++) {
      for (let i = 0; i < 10; i++) audit.rejected?.(full(`c${n++}`));
      vi.advanceTimersByTime(COALESCE_WINDOW_MS);
    }
    // The first alone, then one row per window.
    expect(rows.map((r) => r.repeats?.correlation_ids.length ?? 1)).toEqual([1, 9, 10, 10, 10]);
    vi.advanceTimersByTime(COALESCE_WINDOW_MS);
    audit.rejected?.(full('late'));
    expect(rows.at(-1)).toMatchObject({ correlation_id: 'late' });
    expect(rows.at(-1)?.repeats).toBeUndefined();
  });

  it('writes what it gathered before the recorder flushes or closes', async () => {
    const { recorder, rows, closed } = recording();
    const audit = coalesceRejections(recorder);
    audit.rejected?.(full('c1'));
    audit.rejected?.(full('c2'));
    await audit.flush();
    expect(rows.map((r) => r.correlation_id)).toEqual(['c1', 'c2']);
    audit.rejected?.(full('c3'));
    audit.rejected?.(full('c4'));
    await audit.close();
    expect(rows.flatMap((r) => r.repeats?.correlation_ids ?? [r.correlation_id])).toEqual(['c1', 'c2', 'c3', 'c4']);
    expect(closed()).toBe(true);
  });
});

describe('rejectionRecord of a coalesced refusal', () => {
  it('records the count, every correlation id and when the first one happened', () => {
    const record = rejectionRecord(full('c2', { repeats: { correlation_ids: ['c2', 'c3'], first_at_ms: Date.UTC(2026, 0, 1) } }), new Date(Date.UTC(2026, 0, 1, 0, 0, 1)));
    expect(record).toMatchObject({ kind: 'rejection', correlation_id: 'c2', data: { count: 2, correlation_ids: ['c2', 'c3'], first_at: '2026-01-01T00:00:00.000Z', accepted: false, code: 'ADMISSION_REJECT' } });
  });

  it('leaves a single refusal row as it always was, its members in canonical order', () => {
    const record = rejectionRecord(full('c1'), new Date(0));
    expect(Object.keys(record.data)).toEqual(['accepted', 'code', 'policy_label', 'priority', 'tenant']);
  });

  it('stores the same data as the whole row made storable at once, NUL and lone surrogates in ids replaced', () => {
    const ids = ['c2', 'bad\u0000id', 'lone\uD800', 'c5'];
    const fact = full('c2', { limit: 'requests_per_min', repeats: { correlation_ids: ids, first_at_ms: Date.UTC(2026, 0, 1) } });
    const record = rejectionRecord(fact, new Date(0));
    expect(record.data).toEqual(toJsonValue({
      accepted: false, code: fact.code, count: 4, correlation_ids: ids, first_at: '2026-01-01T00:00:00.000Z', limit: fact.limit, policy_label: fact.policy_label, priority: fact.priority, tenant: fact.tenant,
    }));
    expect(record.data.correlation_ids).toEqual(['c2', 'bad\uFFFDid', 'lone\uFFFD', 'c5']);
  });
});
