import { describe, expect, it } from 'vitest';
import type { Clock } from '../ports.ts';
import { MemorySessionStore as SessionStore, type SessionCreate, type TurnUsage } from './session-store.ts';

const T0 = Date.parse('2025-01-01T00:00:00.000Z');

function fakeClock(start = T0): Clock & { advance(ms: number): void } {
  let wall = start;
  let mono = 0;
  return {
    now: () => wall,
    monotonic: () => mono,
    advance(ms: number) { wall += ms; mono += ms; },
  };
}

function setup(opts: Partial<{ ttlMs: number; maxTurns: number; maxSessions: number }> = {}) {
  const clock = fakeClock();
  const store = new SessionStore({ ttlMs: 1_000, maxTurns: 3, maxSessions: 100, ...opts }, clock);
  return { clock, store };
}

const usage = (u: Partial<TurnUsage> = {}): TurnUsage => ({ tokens: 10, time_ms: 100, cost: 0.5, pool_id: 'demo', replica_id: 'r1', ...u });
const codeOf = (r: { ok: boolean; error?: { code: string } }) => (r.ok ? 'ok' : r.error?.code);

describe('SessionStore lifetime', () => {
  it('creates a session with defaults and shows it', () => {
    const { store } = setup();
    const created = store.create({ session_id: 's1' });
    expect(created).toEqual({
      ok: true,
      value: {
        session_id: 's1', ttl_ms_remaining: 1_000, turns: 0, max_turns: 3, kv_warmth: 'cold',
        budgets: { tokens: { used: 0 }, time_ms: { used: 0 }, cost: { used: 0 } },
        created_at: '2025-01-01T00:00:00.000Z', expires_at: '2025-01-01T00:00:01.000Z',
      },
    });
    expect(store.view('s1')).toEqual(created);
    expect(store.size).toBe(1);
  });

  // ORCH-0301
  it('answers CONFLICT when a live session already has the id', () => {
    const { store } = setup();
    store.create({ session_id: 's1' });
    const again = store.create({ session_id: 's1', max_turns: 9 });
    expect(again.ok ? undefined : again.error).toMatchObject({ code: 'CONFLICT', field: 'session_id' });
    expect(store.view('s1').ok && store.view('s1')).toMatchObject({ value: { max_turns: 3 } });
  });

  it('answers NOT_FOUND for an id it never saw', () => {
    const { store } = setup();
    expect(codeOf(store.view('nope'))).toBe('NOT_FOUND');
  });

  // ORCH-0302
  it('expires a session one TTL after its last use, by wall clock', () => {
    const { clock, store } = setup();
    store.create({ session_id: 's1' });
    clock.advance(999);
    expect(store.view('s1')).toMatchObject({ ok: true, value: { ttl_ms_remaining: 1 } });
    clock.advance(1);
    expect(store.view('s1')).toMatchObject({ ok: false, error: { code: 'SESSION_EXPIRED', retriable: false } });
    expect(store.size).toBe(0);
  });

  // ORCH-0302
  it('refreshes the TTL when a turn begins and when it ends, but not when viewed', () => {
    const { clock, store } = setup();
    store.create({ session_id: 's1' });
    clock.advance(800);
    store.view('s1');
    store.beginTurn('s1');
    clock.advance(800);
    expect(store.view('s1')).toMatchObject({ value: { ttl_ms_remaining: 200 } });
    store.endTurn('s1', usage());
    clock.advance(800);
    expect(store.view('s1')).toMatchObject({ value: { ttl_ms_remaining: 200, expires_at: '2025-01-01T00:00:02.600Z' } });
  });

  it('keeps a tombstone for one more TTL (SESSION_EXPIRED), then forgets the id (NOT_FOUND)', () => {
    const { clock, store } = setup();
    store.create({ session_id: 's1' });
    clock.advance(1_000);
    expect(codeOf(store.view('s1'))).toBe('SESSION_EXPIRED');
    expect(codeOf(store.beginTurn('s1'))).toBe('SESSION_EXPIRED');
    clock.advance(999);
    expect(codeOf(store.view('s1'))).toBe('SESSION_EXPIRED');
    clock.advance(1);
    expect(codeOf(store.view('s1'))).toBe('NOT_FOUND');
    expect(codeOf(store.beginTurn('s1'))).toBe('ok');
  });

  it('sweeps expired sessions into tombstones and later drops the tombstones', () => {
    const { clock, store } = setup();
    store.create({ session_id: 'a' });
    store.create({ session_id: 'b', ttl_ms: 5_000 });
    clock.advance(1_000);
    expect(store.sweep()).toBe(1);
    expect(store.size).toBe(1);
    expect(codeOf(store.view('a'))).toBe('SESSION_EXPIRED');
    clock.advance(1_000);
    expect(store.sweep()).toBe(0);
    expect(codeOf(store.view('a'))).toBe('NOT_FOUND');
    expect(codeOf(store.view('b'))).toBe('ok');
  });

  it('bounds the tombstones to maxSessions, forgetting the oldest first', () => {
    const { clock, store } = setup({ maxSessions: 2 });
    for (const id of ['a', 'b']) store.create({ session_id: id, ttl_ms: 10_000 });
    clock.advance(10_000);
    expect(store.sweep()).toBe(2);
    store.create({ session_id: 'c' });
    clock.advance(1_000);
    expect(store.sweep()).toBe(1);
    expect(codeOf(store.view('a'))).toBe('NOT_FOUND');
    expect(codeOf(store.view('b'))).toBe('SESSION_EXPIRED');
    expect(codeOf(store.view('c'))).toBe('SESSION_EXPIRED');
  });

  it('lets an expired id be created again explicitly', () => {
    const { clock, store } = setup();
    store.create({ session_id: 's1' });
    clock.advance(1_000);
    expect(codeOf(store.create({ session_id: 's1' }))).toBe('ok');
    expect(store.view('s1')).toMatchObject({ value: { turns: 0, ttl_ms_remaining: 1_000 } });
  });

  it('deletes a live session so the id starts afresh, and reports unknown ids', () => {
    const { store } = setup();
    store.create({ session_id: 's1' });
    store.beginTurn('s1');
    expect(store.delete('s1')).toBe(true);
    expect(store.delete('s1')).toBe(false);
    expect(codeOf(store.view('s1'))).toBe('NOT_FOUND');
    expect(store.beginTurn('s1')).toEqual({ ok: true, value: {} });
    expect(store.view('s1')).toMatchObject({ value: { turns: 1 } });
  });

  it('reports false when deleting an expired session and clears its tombstone', () => {
    const { clock, store } = setup();
    store.create({ session_id: 's1' });
    clock.advance(1_000);
    expect(store.delete('s1')).toBe(false);
    expect(codeOf(store.view('s1'))).toBe('NOT_FOUND');
  });
});

describe('SessionStore turns and budgets', () => {
  // ORCH-0301
  it('creates a session implicitly on the first turn of an unknown id', () => {
    const { store } = setup();
    expect(store.beginTurn('fresh')).toEqual({ ok: true, value: {} });
    expect(store.view('fresh')).toMatchObject({ ok: true, value: { turns: 1, max_turns: 3, ttl_ms_remaining: 1_000 } });
  });

  // ORCH-0303
  it('refuses the turn after the cap with BUDGET_EXCEEDED naming turns', () => {
    const { store } = setup();
    for (let i = 0; i < 3; i++) expect(codeOf(store.beginTurn('s1'))).toBe('ok');
    const refused = store.beginTurn('s1');
    expect(refused.ok ? undefined : refused.error).toMatchObject({ code: 'BUDGET_EXCEEDED', budget: 'turns', retriable: false });
    expect(store.view('s1')).toMatchObject({ value: { turns: 3 } });
  });

  it('gives a turn back when it was cancelled before running', () => {
    const { store } = setup({ maxTurns: 1 });
    store.beginTurn('s1');
    store.cancelTurn('s1');
    store.cancelTurn('s1');
    expect(store.view('s1')).toMatchObject({ value: { turns: 0 } });
    expect(codeOf(store.beginTurn('s1'))).toBe('ok');
    store.cancelTurn('unknown');
  });

  it.each<[string, SessionCreate['budgets'], Partial<TurnUsage>]>([
    ['tokens', { tokens: 100 }, { tokens: 100 }],
    ['time_ms', { time_ms: 500 }, { time_ms: 600 }],
    ['cost', { cost: 1 }, { cost: 1 }],
  ])('refuses the next turn once the %s budget is used up', (budget, budgets, used) => {
    const { store } = setup({ maxTurns: 100 });
    store.create({ session_id: 's1', budgets });
    expect(codeOf(store.beginTurn('s1'))).toBe('ok');
    store.endTurn('s1', usage({ tokens: 0, time_ms: 0, cost: 0, ...used }));
    const refused = store.beginTurn('s1');
    expect(refused.ok ? undefined : refused.error).toMatchObject({ code: 'BUDGET_EXCEEDED', budget });
  });

  // ORCH-0304
  it('allows turns while each budget still has room and shows limits and usage', () => {
    const { store } = setup();
    store.create({ session_id: 's1', budgets: { tokens: 100, cost: 2 } });
    store.beginTurn('s1');
    store.endTurn('s1', usage({ tokens: 99, time_ms: 40, cost: 1.5 }));
    expect(codeOf(store.beginTurn('s1'))).toBe('ok');
    expect(store.view('s1')).toMatchObject({
      value: { budgets: { tokens: { limit: 100, used: 99 }, time_ms: { used: 40 }, cost: { limit: 2, used: 1.5 } } },
    });
  });

  it('drops the usage of a turn that outlived its session', () => {
    const { clock, store } = setup();
    store.beginTurn('s1');
    clock.advance(1_000);
    store.endTurn('s1', usage());
    expect(codeOf(store.view('s1'))).toBe('SESSION_EXPIRED');
  });

  // ORCH-0307
  it('moves KV warmth cold → warm → hot and returns the last affinity', () => {
    const { store } = setup({ maxTurns: 10 });
    expect(store.beginTurn('s1')).toEqual({ ok: true, value: {} });
    expect(store.view('s1')).toMatchObject({ value: { kv_warmth: 'cold' } });
    store.endTurn('s1', usage({ replica_id: 'r1' }));
    expect(store.view('s1')).toMatchObject({ value: { kv_warmth: 'warm', pool_id: 'demo', replica_id: 'r1' } });
    expect(store.beginTurn('s1')).toEqual({ ok: true, value: { affinity: { pool_id: 'demo', replica_id: 'r1' } } });
    store.endTurn('s1', usage({ replica_id: 'r2', slot_id: 3, cached_tokens: 12 }));
    expect(store.view('s1')).toMatchObject({ value: { kv_warmth: 'hot', replica_id: 'r2' } });
    expect(store.beginTurn('s1')).toEqual({ ok: true, value: { affinity: { pool_id: 'demo', replica_id: 'r2', slot_id: 3 } } });
    store.endTurn('s1', usage({ cached_tokens: 0 }));
    expect(store.view('s1')).toMatchObject({ value: { kv_warmth: 'warm' } });
  });
});

describe('SessionStore limits and validation', () => {
  // ORCH-0904
  it('refuses a session beyond maxSessions with RATE_LIMITED and a retry hint', () => {
    const { clock, store } = setup({ maxSessions: 2 });
    store.create({ session_id: 'a' });
    clock.advance(300);
    store.create({ session_id: 'b' });
    const refused = store.create({ session_id: 'c' });
    expect(refused.ok ? undefined : refused.error).toMatchObject({ code: 'RATE_LIMITED', retriable: true, retry_after_ms: 700 });
    expect(codeOf(store.beginTurn('d'))).toBe('RATE_LIMITED');
    expect(store.size).toBe(2);
  });

  it('makes room by expiring the least recently used session once it is past its TTL', () => {
    const { clock, store } = setup({ maxSessions: 2 });
    store.create({ session_id: 'a' });
    store.create({ session_id: 'b' });
    clock.advance(500);
    store.beginTurn('a');
    clock.advance(500);
    expect(codeOf(store.create({ session_id: 'c' }))).toBe('ok');
    expect(codeOf(store.view('b'))).toBe('SESSION_EXPIRED');
    expect(codeOf(store.view('a'))).toBe('ok');
  });

  it.each<[string, SessionCreate]>([
    ['session_id', { session_id: '' }],
    ['ttl_ms', { session_id: 's', ttl_ms: 0 }],
    ['ttl_ms', { session_id: 's', ttl_ms: 1.5 }],
    ['max_turns', { session_id: 's', max_turns: -1 }],
    ['budgets.tokens', { session_id: 's', budgets: { tokens: 0 } }],
    ['budgets.cost', { session_id: 's', budgets: { cost: Number.NaN } }],
  ])('rejects an invalid create naming %s', (field, req) => {
    const { store } = setup();
    const r = store.create(req);
    expect(r.ok ? undefined : r.error).toMatchObject({ code: 'INVALID_PARAMS', field });
    expect(store.size).toBe(0);
  });

  it('honours a per-session TTL and turn cap', () => {
    const { clock, store } = setup();
    store.create({ session_id: 's1', ttl_ms: 5_000, max_turns: 1 });
    clock.advance(4_000);
    expect(codeOf(store.beginTurn('s1'))).toBe('ok');
    expect(codeOf(store.beginTurn('s1'))).toBe('BUDGET_EXCEEDED');
    clock.advance(4_999);
    expect(codeOf(store.view('s1'))).toBe('ok');
  });
});
