// Writes src/audit/fixtures/chain-v1.json: an audit chain built from lifecycle facts the way the
// gateway records them, hashed by the code of its day. The committed file is the evidence that
// chains written before a change to canonical JSON still verify; regenerate only on purpose.
// Usage: node tools/audit-chain-fixture.ts (its test checks that today's code gives the same file).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chainRecords, GENESIS_HEAD } from '../src/audit/hash-chain.ts';
import { admissionRecord, controlRecord, placementRecord, rejectionRecord, terminalRecord, type AuditRecord } from '../src/audit/records.ts';

const ROOT = join(import.meta.dirname, '..');
const at = (ms: number): Date => new Date(Date.UTC(2026, 0, 2, 3, 4, 5, ms));
const task = { task_id: 'tâche-1 \u{1F600}', pool_id: 'pool-α', priority: 'interactive' as const, correlation_id: 'corr "1"\n', max_tokens: 64 };

function records(): AuditRecord[] {
  return [
    admissionRecord({ ...task, session_id: 'sess-ü', queue_position: 0, predicted_start_ms: 0.1, policy_label: 'reject', prompt_sha256: 'ab'.repeat(32) }, at(1)),
    rejectionRecord({ correlation_id: 'corr-2', code: 'ADMISSION_REJECT', pool_id: 'pool-α', priority: 'batch', policy_label: 'reject', message: 'full' }, at(2)),
    placementRecord({ ...task, replica_id: 'r\u00e9plica-0', engine: 'mock', queue_wait_ms: 12.5, decision: 'least loaded (1/4 busy) \u2028 tie: speed', attempt: 1 }, at(3)),
    terminalRecord({
      ...task, state: 'canceled', finish_reason: 'canceled', cancel_reason: 'client \u00ab annul\u00e9 \u00bb \u65e5\u672c tab\t nul\u0000 lone\uD800', replica_id: 'r\u00e9plica-0',
      engine: 'mock', tokens_out: 0, prompt_tokens: 2 ** 53 - 1, queue_wait_ms: -0, decode_time_ms: 1e-7, e2e_ms: 1e21,
    }, at(4)),
    terminalRecord({ ...task, task_id: 't-2', state: 'failed', error_code: 'WORKER_RESET', tokens_out: 3, queue_wait_ms: 0.30000000000000004, decode_time_ms: 123456789.125, e2e_ms: 5e-324 }, at(5)),
    controlRecord({
      action: 'drain', actor: 'ops:1a2b', target: 'pool-α', outcome: 'accepted', correlation_id: 'corr-3',
      detail: { deadline_ms: 30_000, nested: { z: [1, -0, 0.1, 1e21, 1e-7, -1.5e300, null, true, 'x'], a: { '\u00e9': 1, e: 2, E: 3, _: 4, '\u{1F600}': 5, '\uFFFD': 6 } }, when: at(6), skipped: undefined },
    }, at(6)),
    controlRecord({ action: 'session_delete', actor: 'ops:1a2b', target: 'sess-ü', outcome: 'done' }, at(7)),
    controlRecord({ action: 'hold_create', actor: 'ops:1a2b', target: 'hold-1', outcome: 'done', detail: { reason: 'litigation \u2014 \u00a7 4.2', from: null, list: [] } }, at(8)),
  ];
}

/** The fixture file's text, built with today's record builders and hash chain. */
export function renderChainFixture(): string {
  const first = chainRecords(GENESIS_HEAD, records());
  // A purge row that anchors a chain starting after the rows it deleted (seq 1..4), as sql-store writes it.
  const anchor = first.rows[3];
  if (anchor === undefined) throw new Error('fixture needs at least four rows');
  const purge: AuditRecord = {
    at: at(9), kind: 'control', task_id: null, session_id: null, pool_id: null, actor: 'ops:1a2b', correlation_id: null,
    data: { action: 'retention_purge', target: 'audit_log', outcome: 'done', detail: { older_than: at(5).toISOString(), deleted_rows: 4 }, anchor_seq: anchor.seq, anchor_hash: anchor.hash },
  };
  const second = chainRecords(first.head, [purge, admissionRecord({ ...task, task_id: 't-3', queue_position: 7, predicted_start_ms: 1500, policy_label: 'drop-lru', evicted_task_id: 't-2' }, at(10))]);
  // The fixture predates chains (migrations/0004): its rows are the default chain's and carry no chain field.
  const rows = [...first.rows, ...second.rows].map(({ content, chain: _chain, ...row }) => ({ ...row, at: row.at.toISOString(), content }));
  const fixture = { made_by: 'tools/audit-chain-fixture.ts with the hand-written canonical JSON (before RFC 8785 via `canonicalize`)', purge_anchor_seq: anchor.seq, rows };
  return `${JSON.stringify(fixture, null, 2)}\n`;
}

export const FIXTURE_PATH = join(ROOT, 'src/audit/fixtures/chain-v1.json');

if (import.meta.main) writeFileSync(FIXTURE_PATH, renderChainFixture());
