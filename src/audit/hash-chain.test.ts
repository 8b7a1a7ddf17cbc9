import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../core/canonical-json.ts';
import { chainRecords, DEFAULT_CHAIN, GENESIS_HEAD, rowContent, rowContentJson, rowHash } from './hash-chain.ts';
import type { AuditRecord } from './records.ts';
import { encodeBatch } from './sql-rows.ts';

const AWKWARD = 'q"uo\\te\nline\u2028sep\u{1F600} tab\t é';

function record(overrides: Partial<AuditRecord> = {}): AuditRecord {
  return {
    at: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)), kind: 'terminal', task_id: 't-1', session_id: null, pool_id: 'pool-a',
    actor: null, correlation_id: 'corr-1', data: { state: 'succeeded', tokens_out: 64, e2e_ms: 130.5, nested: { b: [1, null], a: 'x' } },
    ...overrides,
  };
}

describe('rowContentJson', () => {
  it('gives the canonical JSON of the row content byte for byte', () => {
    const cases: AuditRecord[] = [
      record(),
      record({ task_id: null, pool_id: null, correlation_id: null, actor: 'ops', session_id: 's', kind: 'control', data: {} }),
      record({ task_id: AWKWARD, session_id: AWKWARD, pool_id: AWKWARD, actor: AWKWARD, correlation_id: AWKWARD, data: { [AWKWARD]: AWKWARD } }),
    ];
    for (const [i, r] of cases.entries()) {
      for (const seq of [1, 42, 9_007_199_254_740_991]) expect(rowContentJson(seq, r), `case ${i} seq ${seq}`).toBe(canonicalJson(rowContent(seq, r)));
    }
  });

  it('writes flat data like the general encoder: unsorted keys, -0, booleans, nulls, awkward text', () => {
    const flat = { z: 1, a: -0, 'é': true, B: null, [AWKWARD]: AWKWARD, m: 1e21, n: 0.1 + 0.2, sorted_after: false };
    for (const data of [flat, { a: 1, b: 'x' }, { b: 'x', a: 1 }]) {
      expect(rowContentJson(7, record({ data }))).toBe(canonicalJson(rowContent(7, record({ data }))));
    }
  });

  it('refuses data with a lone surrogate or a non-finite number, as the general encoder does', () => {
    for (const data of [{ a: 'x\uD800' }, { a: Number.NaN }, { ['\uDC00']: 1 }] as AuditRecord['data'][]) {
      expect(() => rowContentJson(1, record({ data }))).toThrow(TypeError);
    }
  });

  it('takes the general path for rows of another shape, so it never disagrees with it', () => {
    const odd = { ...record(), task_id: undefined, actor: 7 } as unknown as AuditRecord;
    expect(rowContentJson(3, odd)).toBe(canonicalJson(rowContent(3, odd)));
    expect(rowContentJson(3, odd)).not.toContain('task_id');
  });
});

describe('the chain in the content', () => {
  it('is left out for the default chain, so rows from before chains keep their bytes, and named for any other', () => {
    expect(rowContentJson(1, record())).not.toContain('"chain"');
    expect(rowContentJson(1, record(), DEFAULT_CHAIN)).toBe(rowContentJson(1, record()));
    for (const chain of ['gw-a', 'host.example-4711', AWKWARD]) {
      const json = rowContentJson(5, record(), chain);
      expect(json).toBe(canonicalJson(rowContent(5, record(), chain)));
      expect(JSON.parse(json)).toMatchObject({ chain, seq: 5 });
    }
  });

  it('makes the same record at the same seq hash differently in two chains', () => {
    const [a] = chainRecords(GENESIS_HEAD, [record()], 'gw-a').rows;
    const [b] = chainRecords(GENESIS_HEAD, [record()], 'gw-b').rows;
    expect(a?.chain).toBe('gw-a');
    expect(a?.hash).not.toBe(b?.hash);
    expect(rowHash(a!.prev_hash, 1, a!, 'gw-b')).not.toBe(a?.hash);
    expect(rowHash(a!.prev_hash, 1, a!, 'gw-a')).toBe(a?.hash);
  });
});

describe('chainRecords', () => {
  it('carries the hashed content with each row and links the rows', () => {
    const { rows, head } = chainRecords(GENESIS_HEAD, [record(), record({ task_id: 't-2' })]);
    expect(rows.map((row) => row.seq)).toEqual([1, 2]);
    expect(rows[1]?.prev_hash).toBe(rows[0]?.hash);
    for (const row of rows) {
      expect(row.content).toBe(canonicalJson(rowContent(row.seq, row)));
      expect(rowHash(row.prev_hash, row.seq, row)).toBe(row.hash);
    }
    expect(head).toEqual({ seq: 2, hash: rows[1]?.hash });
  });
});

describe('encodeBatch', () => {
  it('joins each column into one string: contents a line each (no raw newline inside any value), hashes space-separated', () => {
    const { rows } = chainRecords({ seq: 9, hash: 'a'.repeat(64) }, [record({ task_id: AWKWARD }), record(), record({ data: { s: '\n\n' } })]);
    const batch = encodeBatch(rows);
    expect(batch.content.split('\n')).toEqual(rows.map((row) => row.content));
    expect(batch.prev_hash.split(' ')).toEqual(rows.map((row) => row.prev_hash));
    expect(batch.hash.split(' ')).toEqual(rows.map((row) => row.hash));
    expect(encodeBatch([])).toEqual({ content: '', prev_hash: '', hash: '' });
  });
});
