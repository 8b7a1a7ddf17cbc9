import { describe, expect, it } from 'vitest';
import { chainRecords, GENESIS_HEAD, rowHash } from './hash-chain.ts';
import type { AuditRecord, AuditRow } from './records.ts';
import { verifyChain, verifyLog, type ChainMarks } from './verify-chain.ts';

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

  describe('with the database\'s chain marks (genesis and purges)', () => {
    const purgeRow = (rows: AuditRow[], anchorIndex: number): AuditRow => {
      const anchor = rows[anchorIndex]!;
      const last = rows.at(-1)!;
      const purge: AuditRecord = { ...record(last.seq + 1, { action: 'retention_purge', anchor_seq: anchor.seq, anchor_hash: anchor.hash }), kind: 'control', task_id: null };
      return chainRecords({ seq: last.seq, hash: last.hash }, [purge]).rows[0]!;
    };

    it('accepts a chain that starts at its recorded genesis row', async () => {
      const rows = chain(3);
      expect(await verifyChain(iterate(rows), { genesis: { seq: 1, hash: rows[0]!.hash }, purges: [] })).toMatchObject({ ok: true, rows: 3 });
    });

    it('names a restarted chain: seq 1 again, but not the recorded genesis row', async () => {
      const original = chain(3);
      const restarted = chainRecords(GENESIS_HEAD, [record(99)]).rows;
      expect(await verifyChain(iterate(restarted), { genesis: { seq: 1, hash: original[0]!.hash }, purges: [] }))
        .toMatchObject({ ok: false, first_bad_seq: 1, reason: expect.stringMatching(/not the recorded genesis row.*restarted/) });
    });

    it('names an emptied chain whose genesis was recorded', async () => {
      expect(await verifyChain(iterate([]), { genesis: { seq: 1, hash: 'a'.repeat(64) }, purges: [] }))
        .toMatchObject({ ok: false, first_bad_seq: 1, reason: expect.stringMatching(/chain is empty but the database recorded row 1/) });
    });

    it('accepts a chain cut at the latest purge anchor and names one cut further, or missing its purge row', async () => {
      const rows = chain(5);
      const purge = purgeRow(rows, 1);
      const marks = { genesis: { seq: 1, hash: rows[0]!.hash }, purges: [{ seq: purge.seq, hash: purge.hash, anchor: { seq: 2, hash: rows[1]!.hash } }] };
      expect(await verifyChain(iterate([...rows.slice(2), purge]), marks)).toMatchObject({ ok: true, rows: 4, head_seq: 6 });
      // Row 3 removed as well: the in-chain purge row no longer explains the start, and the marks name it.
      expect(await verifyChain(iterate([...rows.slice(3), purge]), marks)).toMatchObject({ ok: false, first_bad_seq: 4, reason: expect.stringMatching(/must start at seq 3.*rows are missing/) });
      // The tail, purge row included, removed: caught at the start (nothing anchors it any more).
      expect(await verifyChain(iterate(rows.slice(2)), marks)).toMatchObject({ ok: false, first_bad_seq: 3 });
      // A recorded purge that deleted nothing, removed from the end together with what followed it.
      const noop = { genesis: { seq: 1, hash: rows[0]!.hash }, purges: [{ seq: 6, hash: 'b'.repeat(64), anchor: null }] };
      expect(await verifyChain(iterate(rows), noop)).toMatchObject({ ok: false, first_bad_seq: 6, reason: expect.stringMatching(/ends at seq 5.*rows were removed/) });
    });
  });
});

describe('verifyLog (one chain per writer)', () => {
  const named = (name: string, count: number): AuditRow[] => chainRecords(GENESIS_HEAD, Array.from({ length: count }, (_, i) => record(i + 1)), name).rows;
  const genesisOf = (rows: AuditRow[]): ChainMarks => ({ genesis: { seq: 1, hash: rows[0]!.hash }, purges: [] });

  it('verifies interleaved chains each on its own and lists them by name', async () => {
    const a = named('gw-a', 4);
    const b = named('gw-b', 3);
    const interleaved = [a[0]!, b[0]!, a[1]!, b[1]!, b[2]!, a[2]!, a[3]!];
    const result = await verifyLog(iterate(interleaved), new Map([['gw-b', genesisOf(b)], ['gw-a', genesisOf(a)]]));
    expect(result).toEqual({
      ok: true, rows: 7,
      chains: [
        { chain: 'gw-a', ok: true, rows: 4, head_seq: 4, head_hash: a[3]!.hash },
        { chain: 'gw-b', ok: true, rows: 3, head_seq: 3, head_hash: b[2]!.hash },
      ],
    });
  });

  it('repeats the head at the top for a log of one chain, and for an empty log', async () => {
    const rows = chain(2);
    expect(await verifyLog(iterate(rows))).toMatchObject({ ok: true, rows: 2, head_seq: 2, head_hash: rows[1]!.hash, chains: [{ chain: 'main' }] });
    expect(await verifyLog(iterate([]), new Map())).toMatchObject({ ok: true, rows: 0, head_seq: 0, chains: [] });
  });

  it('names the chain of a row moved into another chain', async () => {
    const a = named('gw-a', 3);
    const b = named('gw-b', 3);
    const moved = { ...b[1]!, chain: 'gw-a', seq: 4, prev_hash: a[2]!.hash };
    const result = await verifyLog(iterate([...a, moved, b[0]!, b[2]!]));
    expect(result).toMatchObject({ ok: false, chain: 'gw-a', first_bad_seq: 4, reason: 'hash does not match the row content' });
    expect(result.chains).toMatchObject([{ chain: 'gw-a', ok: false, rows: 3 }, { chain: 'gw-b', ok: false, first_bad_seq: 3 }]);
  });

  it('fails a registered chain without rows and rows of an unregistered chain', async () => {
    const a = named('gw-a', 2);
    const stray = named('stray', 2);
    const result = await verifyLog(iterate([...a, ...stray]), new Map([['gw-a', genesisOf(a)], ['gone', { genesis: { seq: 1, hash: 'e'.repeat(64) }, purges: [] }]]));
    expect(result).toMatchObject({ ok: false, rows: 2, chain: 'gone', first_bad_seq: 1 });
    expect(result.chains).toMatchObject([
      { chain: 'gone', ok: false, rows: 0, reason: expect.stringMatching(/chain is empty but the database recorded row 1/) },
      { chain: 'gw-a', ok: true, rows: 2 },
      { chain: 'stray', ok: false, rows: 0, first_bad_seq: 1, reason: expect.stringMatching(/never registered/) },
    ]);
  });
});
