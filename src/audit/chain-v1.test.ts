// Chains hashed before canonical JSON became RFC 8785 through a library (issue 9) must still
// verify: fixtures/chain-v1.json was written by the earlier hand-written encoder.

import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../core/canonical-json.ts';
import { loadChainV1 } from '../../test/support/audit-chain-v1.ts';
import { rowContent, rowContentJson, rowHash } from './hash-chain.ts';
import type { AuditRow } from './records.ts';
import { verifyChain } from './verify-chain.ts';

async function* iterate(rows: readonly AuditRow[]): AsyncIterable<AuditRow> {
  yield* rows;
}

describe('a chain written by the pre-RFC 8785 encoder', () => {
  const { rows, purge_anchor_seq: anchorSeq } = loadChainV1();

  it('verifies whole with the current code', async () => {
    const last = rows.at(-1);
    expect(rows.length).toBeGreaterThanOrEqual(10);
    expect(await verifyChain(iterate(rows))).toEqual({ ok: true, rows: rows.length, head_seq: last?.seq, head_hash: last?.hash });
  });

  it('verifies from just after its retention_purge anchor', async () => {
    const kept = rows.filter((row) => row.seq > anchorSeq);
    expect(await verifyChain(iterate(kept))).toMatchObject({ ok: true, rows: kept.length });
  });

  it('gives every row the very bytes it was hashed over, by the fast path and the general one', () => {
    for (const row of rows) {
      expect(rowContentJson(row.seq, row), `seq ${row.seq}`).toBe(row.content);
      expect(canonicalJson(rowContent(row.seq, row)), `seq ${row.seq}`).toBe(row.content);
      expect(rowHash(row.prev_hash, row.seq, row)).toBe(row.hash);
    }
  });

  it('still fails a row of it that was tampered with', async () => {
    const tampered = rows.map((row) => (row.seq === 4 ? { ...row, data: { ...row.data, e2e_ms: 1e20 } } : row));
    expect(await verifyChain(iterate(tampered))).toMatchObject({ ok: false, first_bad_seq: 4, reason: 'hash does not match the row content' });
  });
});
