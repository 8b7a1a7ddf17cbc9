import { describe, expect, it } from 'vitest';
import { chainRecords, GENESIS_HEAD, rowHash } from './hash-chain.ts';
import type { AuditRecord, AuditRow } from './records.ts';
import { verifyChain } from './verify-chain.ts';

function record(n: number, data: AuditRecord['data'] = { n }): AuditRecord {
  return { at: new Date(1_700_000_000_000 + n), kind: 'admission', task_id: `t${n}`, session_id: null, pool_id: 'p', actor: null, correlation_id: `c${n}`, data };
}

async function* iterate(rows: AuditRow[]): AsyncIterable<AuditRow> {
  yield* rows;
}

function chain(count: number): AuditRow[] {
  return chainRecords(GENESIS_HEAD, Array.from({ length: count }, (_, i) => record(i + 1))).rows;
}

describe('verifyChain', () => {
  it('accepts an untouched chain and reports its head', async () => {
    const rows = chain(5);
    expect(await verifyChain(iterate(rows))).toEqual({ ok: true, rows: 5, head_seq: 5, head_hash: rows[4]?.hash });
  });

  it('accepts an empty log', async () => {
    expect(await verifyChain(iterate([]))).toMatchObject({ ok: true, rows: 0, head_seq: 0 });
  });

  // ORCH-0701 ORCH-0704
  it('names the row whose content was changed', async () => {
    const rows = chain(5);
    rows[2] = { ...rows[2]!, data: { n: 999 } };
    expect(await verifyChain(iterate(rows))).toMatchObject({ ok: false, first_bad_seq: 3, reason: 'hash does not match the row content' });
  });

  it('names the row after a deleted one', async () => {
    const rows = chain(5);
    rows.splice(2, 1);
    expect(await verifyChain(iterate(rows))).toMatchObject({ ok: false, first_bad_seq: 4 });
  });

  it('names a row whose content and hash were both rewritten, through the link to it', async () => {
    const rows = chain(5);
    const forged = { ...rows[1]!, data: { n: -1 } };
    forged.hash = rowHash(forged.prev_hash, forged.seq, forged);
    rows[1] = forged;
    expect(await verifyChain(iterate(rows))).toMatchObject({ ok: false, first_bad_seq: 3, reason: 'prev_hash does not match the previous row' });
  });

  it('refuses a chain that starts after seq 1 without a purge anchor', async () => {
    const rows = chain(5).slice(2);
    expect(await verifyChain(iterate(rows))).toMatchObject({ ok: false, first_bad_seq: 3 });
  });

  // ORCH-0704 ORCH-0708
  it('accepts a chain that starts after seq 1 when a retention_purge row anchors it', async () => {
    const rows = chain(5);
    const anchor = rows[1]!;
    const purge: AuditRecord = {
      ...record(6, { action: 'retention_purge', anchor_seq: anchor.seq, anchor_hash: anchor.hash, deleted_rows: 2 }),
      kind: 'control', task_id: null, actor: 'ops',
    };
    const tail = chainRecords({ seq: 5, hash: rows[4]!.hash }, [purge]).rows;
    expect(await verifyChain(iterate([...rows.slice(2), ...tail]))).toMatchObject({ ok: true, rows: 4, head_seq: 6 });
  });
});
