// Behaviour of test/support/contract.ts, the response checker integration tests rely on: it
// must pass what the contract allows and fail, readably, on what it does not.

import { describe, expect, it } from 'vitest';
import { expectResponseMatches, expectSseEventMatches } from '../test/support/contract.ts';

const accepted = {
  task_id: '0b6f1d9e-3c1a-4a5e-9d7e-2f4b8c6a1e01',
  queue_position: 0,
  predicted_start_ms: 0,
  backoff_ms: 0,
  streams: { sse: '/v1/tasks/0b6f1d9e-3c1a-4a5e-9d7e-2f4b8c6a1e01/stream', status: '/v1/tasks/0b6f1d9e-3c1a-4a5e-9d7e-2f4b8c6a1e01' },
};
const rejected = {
  error: { code: 'ADMISSION_REJECT', message: 'queue full', retriable: true, correlation_id: 'c1', pool_id: 'demo', retry_after_ms: 1200, policy_label: 'reject' },
};

describe('expectResponseMatches', () => {
  it('accepts a documented body, parsed or as raw JSON text', () => {
    expect(() => expectResponseMatches('createTask', 202, accepted)).not.toThrow();
    expect(() => expectResponseMatches('createTask', '202', JSON.stringify(accepted))).not.toThrow();
  });

  it('names the field and the rule a body breaks', () => {
    expect(() => expectResponseMatches('createTask', 202, { ...accepted, queue_position: -1 })).toThrow(/createTask 202 .*\/queue_position must be >= 0/s);
    expect(() => expectResponseMatches('createTask', 202, { ...accepted, extra: true })).toThrow(/must NOT have additional properties \(extra\)/);
    expect(() => expectResponseMatches('createTask', 429, { error: { ...rejected.error, code: 'NOPE' } })).toThrow(/\/error\/code must be equal to one of the allowed values \(allowed: INVALID_PARAMS, /);
  });

  it('refuses a status the operation does not document', () => {
    expect(() => expectResponseMatches('getTask', 429, rejected)).toThrow('getTask: status 429 is not documented (documented: 200, 401, 403, 404, 500)');
  });

  it('checks documented headers when they are given, numbers included', () => {
    const headers = { 'Retry-After': '2', 'X-Backoff-Ms': '1200', 'x-correlation-id': 'c1', 'content-type': 'application/json' };
    expect(() => expectResponseMatches('createTask', 429, rejected, { headers })).not.toThrow();
    expect(() => expectResponseMatches('createTask', 429, rejected, { headers: { ...headers, 'Retry-After': undefined } })).toThrow(/must have required property 'retry-after'/);
    expect(() => expectResponseMatches('createTask', 429, rejected, { headers: { ...headers, 'X-Backoff-Ms': 'soon' } })).toThrow(/x-backoff-ms must be integer/);
  });

  it('requires an empty body where none is documented', () => {
    expect(() => expectResponseMatches('deleteSession', 204, '')).not.toThrow();
    expect(() => expectResponseMatches('deleteSession', 204, { deleted: true })).toThrow(/documented without a body/);
  });

  it('picks the media type from the content type', () => {
    expect(() => expectResponseMatches('getMetrics', 200, '# HELP x\n', { contentType: 'text/plain; version=0.0.4; charset=utf-8' })).not.toThrow();
    expect(() => expectResponseMatches('createTask', 200, 'id: 1\n', { contentType: 'text/event-stream' })).not.toThrow();
    expect(() => expectResponseMatches('createTask', 202, accepted, { contentType: 'text/html' })).toThrow(/content type text\/html is not documented/);
  });
});

describe('expectSseEventMatches', () => {
  it('checks each payload against its event name', () => {
    expect(() => expectSseEventMatches('token', '{"t":"Hi","i":0}')).not.toThrow();
    expect(() => expectSseEventMatches('end', { tokens_out: 2, decode_time_ms: 10, finish_reason: 'canceled' })).not.toThrow();
    expect(() => expectSseEventMatches('end', { tokens_out: 2, decode_time_ms: 10, finish_reason: 'done' })).toThrow(/SSE end data/);
    expect(() => expectSseEventMatches('error', { code: 'WORKER_RESET', message: 'm', retriable: true, retry_after_ms: 500 })).not.toThrow();
    expect(() => expectSseEventMatches('token', { t: 'Hi' })).toThrow(/must have required property 'i'/);
  });

  it('refuses an event name the contract does not define', () => {
    expect(() => expectSseEventMatches('done', {})).toThrow(/SSE event name "done" is not in the contract/);
  });
});
