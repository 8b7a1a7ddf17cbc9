// Loads src/audit/fixtures/chain-v1.json (made before canonical JSON moved to RFC 8785 via a library) as
// the rows a store would give back, for the tests that prove old chains still verify. The fixture
// predates chains (migrations/0004): its rows are the default chain's.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_CHAIN, type ChainedRow } from '../../src/audit/hash-chain.ts';
import type { AuditRecord } from '../../src/audit/records.ts';

export interface ChainFixture {
  purge_anchor_seq: number;
  rows: ChainedRow[];
}

type StoredRow = Omit<ChainedRow, 'at' | 'chain'> & { at: string; kind: AuditRecord['kind'] };

export function loadChainV1(): ChainFixture {
  const text = readFileSync(join(import.meta.dirname, '../../src/audit/fixtures/chain-v1.json'), 'utf8');
  const parsed = JSON.parse(text) as { purge_anchor_seq: number; rows: StoredRow[] };
  return { purge_anchor_seq: parsed.purge_anchor_seq, rows: parsed.rows.map((row) => ({ ...row, chain: DEFAULT_CHAIN, at: new Date(row.at) })) };
}
