import { describe, expect, it } from 'vitest';
import type { AuditRow } from './records.ts';
import { statusFromRows } from './task-history.ts';

let seq = 0;
const row = (kind: AuditRow['kind'], data: AuditRow['data']): AuditRow => ({
  chain: 'main', seq: ++seq, prev_hash: '', hash: '', at: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)), kind,
  task_id: 't1', session_id: null, pool_id: 'p', actor: null, correlation_id: 'c', data,
});
const admission = row('admission', { priority: 'interactive', model: 'sonnet' });
const terminal = (data: AuditRow['data']) => row('terminal', { state: 'completed', finish_reason: 'stop', tokens_out: 4, replica_id: 'r', engine: 'mock', ...data });

describe('statusFromRows: the task cost recorded on the terminal row', () => {
  it('answers cost_usd and cost_source as the live status did', () => {
    expect(statusFromRows([admission, terminal({ cost_usd: 0.0105, cost_source: 'price_table' })])).toMatchObject({ cost_usd: 0.0105, cost_source: 'price_table' });
    expect(statusFromRows([admission, terminal({ cost_usd: 0.02, cost_source: 'reported' })])).toMatchObject({ cost_usd: 0.02, cost_source: 'reported' });
  });

  it('answers no cost for an unpriced task, a row without cost, or a malformed cost', () => {
    const cases: AuditRow['data'][] = [{ cost_source: 'unpriced' }, {}, { cost_usd: -1, cost_source: 'reported' }, { cost_usd: '0.1', cost_source: 'reported' }, { cost_usd: 0.1, cost_source: 'guessed' }];
    for (const data of cases) {
      const status = statusFromRows([admission, terminal(data)]);
      expect(status?.state).toBe('completed');
      expect(status?.cost_usd).toBeUndefined();
      expect(status?.cost_source).toBeUndefined();
    }
  });
});

describe('statusFromRows: how the task ended', () => {
  it('answers every finish reason a terminal row can carry, chat answers included', () => {
    for (const reason of ['stop', 'length', 'tool_calls', 'content_filter'] as const) {
      expect(statusFromRows([admission, terminal({ finish_reason: reason })])?.finish_reason).toBe(reason);
    }
  });

  it('answers the stop sequence the terminal row recorded, only for a stop', () => {
    expect(statusFromRows([admission, terminal({ finish_reason: 'stop', stop_sequence: 'END' })])).toMatchObject({ finish_reason: 'stop', stop_sequence: 'END' });
    expect(statusFromRows([admission, terminal({ finish_reason: 'length', stop_sequence: 'END' })])?.stop_sequence).toBeUndefined();
  });

  it('answers no finish reason for a value the contract does not name', () => {
    expect(statusFromRows([admission, terminal({ finish_reason: 'exploded' })])?.finish_reason).toBeUndefined();
  });
});
