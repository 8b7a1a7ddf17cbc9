// A chain hashed by the pre-RFC 8785 encoder (src/audit/fixtures/chain-v1.json), stored in both
// real backends: after the jsonb round trip (1e21 and 5e-324 come back from numeric text, keys
// in jsonb's order) the current code still verifies it. ORCH-0701

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadChainV1 } from '../support/audit-chain-v1.ts';
import type { AuditStore } from '../../src/audit/store.ts';
import { BACKENDS } from './audit-backends.ts';

describe.each(BACKENDS)('a pre-RFC 8785 chain on $name', (backend) => {
  const { rows } = loadChainV1();
  let store: AuditStore;
  let dispose: () => Promise<void>;

  beforeAll(async () => {
    ({ store, dispose } = await backend.fresh());
    await store.append(rows);
  });

  afterAll(async () => {
    await dispose();
  });

  it('verifies after the rows went through the database', async () => {
    const last = rows.at(-1);
    expect(await store.verify()).toEqual({
      ok: true, rows: rows.length, head_seq: last?.seq, head_hash: last?.hash,
      chains: [{ chain: 'main', ok: true, rows: rows.length, head_seq: last?.seq, head_hash: last?.hash }],
    });
  });

  it('gives back the values that were hashed', async () => {
    const stored = await store.query({ limit: 100 });
    expect(stored.map(({ seq, at, data }) => ({ seq, at, data }))).toEqual(rows.map(({ seq, at, data }) => ({ seq, at, data })));
  });
});
