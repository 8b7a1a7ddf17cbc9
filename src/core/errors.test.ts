import { describe, expect, it } from 'vitest';
import { ERROR_TABLE, errorEventData, httpStatusOf, isErrorCode, orchError } from './errors.ts';

describe('error taxonomy', () => {
  it('takes retriable from the table, never from the caller', () => {
    expect(orchError('ADMISSION_REJECT', 'full').retriable).toBe(true);
    expect(orchError('INVALID_PARAMS', 'bad').retriable).toBe(false);
    expect(httpStatusOf('DEADLINE_UNMET')).toBe(ERROR_TABLE.DEADLINE_UNMET.status);
  });

  it('renders the SSE error event with only the stream fields, dropping request-side detail', () => {
    const error = orchError('QUEUE_FULL_DROP_LRU', 'evicted', { pool_id: 'p', policy_label: 'drop-lru', retry_after_ms: 250, field: 'x' });
    expect(errorEventData(error)).toEqual({ code: 'QUEUE_FULL_DROP_LRU', message: 'evicted', retriable: true, retry_after_ms: 250 });
    expect(errorEventData(orchError('WORKER_RESET', 'reset', { engine: 'vllm' }))).toEqual({ code: 'WORKER_RESET', message: 'reset', retriable: true, engine: 'vllm' });
  });

  it('recognises only its own codes', () => {
    expect(isErrorCode('CONFLICT')).toBe(true);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode(42)).toBe(false);
  });
});
