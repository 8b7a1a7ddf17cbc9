import { describe, expect, it } from 'vitest';
import { holdScopeOf } from './hold-request.ts';

describe('holdScopeOf', () => {
  it('accepts a task, a session, or a complete time range', () => {
    expect(holdScopeOf({ task_id: 't', reason: 'r' })).toEqual({ ok: true, value: { task_id: 't' } });
    expect(holdScopeOf({ session_id: 's', reason: 'r' })).toEqual({ ok: true, value: { session_id: 's' } });
    expect(holdScopeOf({ from: '2030-01-01T00:00:00Z', to: '2030-01-02T00:00:00Z', reason: 'r' })).toEqual({
      ok: true, value: { from_at: new Date('2030-01-01T00:00:00Z'), to_at: new Date('2030-01-02T00:00:00Z') },
    });
  });

  it('names the second scope when two are given', () => {
    expect(holdScopeOf({ task_id: 't', session_id: 's', reason: 'r' })).toMatchObject({ ok: false, error: { code: 'INVALID_PARAMS', field: 'session_id' } });
    expect(holdScopeOf({ task_id: 't', to: '2030-01-01T00:00:00Z', reason: 'r' })).toMatchObject({ ok: false, error: { field: 'from' } });
  });

  it('refuses a request without a scope', () => {
    expect(holdScopeOf({ reason: 'r' })).toMatchObject({ ok: false, error: { code: 'INVALID_PARAMS', field: 'task_id' } });
  });

  it('refuses half a range and an empty or inverted one', () => {
    expect(holdScopeOf({ from: '2030-01-01T00:00:00Z', reason: 'r' })).toMatchObject({ ok: false, error: { field: 'to' } });
    expect(holdScopeOf({ to: '2030-01-01T00:00:00Z', reason: 'r' })).toMatchObject({ ok: false, error: { field: 'from' } });
    expect(holdScopeOf({ from: '2030-01-02T00:00:00Z', to: '2030-01-01T00:00:00Z', reason: 'r' })).toMatchObject({ ok: false, error: { field: 'to' } });
    expect(holdScopeOf({ from: '2030-01-01T00:00:00Z', to: '2030-01-01T00:00:00Z', reason: 'r' })).toMatchObject({ ok: false, error: { field: 'to' } });
  });
});
