// In-memory session metadata (never KV contents): wall-clock TTL refreshed on use, turn cap,
// token/time/cost budgets, replica affinity and KV warmth. Pure: time comes from the Clock and
// expiry is noticed lazily or by sweep(), which the shell runs on its own timer.

import { fail, ok, orchError, type Result } from '../errors.ts';
import type { Clock } from '../ports.ts';
import type { SessionStore } from '../state-ports.ts';
import { exhaustedBudget, newRecord, toView, validateCreate, type Affinity, type SessionCreate, type SessionRecord, type SessionStanding, type SessionView, type TurnUsage } from './session-record.ts';

export type { Affinity, BudgetName, KvWarmth, SessionBudgets, SessionCreate, SessionStanding, SessionView, TurnUsage } from './session-record.ts';

export interface SessionStoreOptions {
  /** Default TTL for sessions that do not ask for their own. */
  ttlMs: number;
  /** Default turn cap for sessions that do not ask for their own. */
  maxTurns: number;
  /** Live sessions held at most; also bounds the tombstones. */
  maxSessions: number;
}


type Lookup = { kind: 'live'; rec: SessionRecord } | { kind: 'expired' } | { kind: 'unknown' };

/** The embedded SessionStore: one process's sessions in insertion/LRU-ordered maps. */
export class MemorySessionStore implements SessionStore {
  readonly #opts: SessionStoreOptions;
  /** Turns admitted but not yet committed, per session id. */
  readonly #held = new Map<string, { turns: number; tokens: number }>();
  readonly #clock: Clock;
  /** Ordered by last use: every refresh moves a session to the end. */
  readonly #live = new Map<string, SessionRecord>();
  /** Expired ids → epoch ms when the tombstone lapses; insertion ordered, bounded. */
  readonly #tombstones = new Map<string, number>();
  /** Live session ids per owner (tenant session caps, ORCH-1213). */
  readonly #owned = new Map<string, Set<string>>();

  constructor(opts: SessionStoreOptions, clock: Clock) {
    this.#opts = { ...opts };
    this.#clock = clock;
  }

  /** Sessions held; an expired one counts until a lookup or sweep() notices it. */
  get size(): number {
    return this.#live.size;
  }

  /** CONFLICT while a live session has the id; an expired or deleted id may be created again. */
  create(req: SessionCreate): Result<SessionView> {
    const valid = validateCreate(req);
    if (!valid.ok) return fail(valid.error);
    const now = this.#clock.now();
    if (this.#lookup(req.session_id, now).kind === 'live') {
      return fail(orchError('CONFLICT', `session ${req.session_id} already exists`, { field: 'session_id' }));
    }
    const created = this.#insert(req, now);
    return created.ok ? ok(toView(created.value, now)) : fail(created.error);
  }

  view(id: string): Result<SessionView> {
    const now = this.#clock.now();
    const found = this.#lookup(id, now);
    if (found.kind === 'live') return ok(toView(found.rec, now));
    return fail(found.kind === 'expired' ? expiredError(id) : notFoundError(id));
  }

  standing(id: string): SessionStanding {
    const now = this.#clock.now();
    const found = this.#lookup(id, now);
    if (found.kind === 'expired') return { kind: 'expired' };
    const held = this.#held.get(id) ?? { turns: 0, tokens: 0 };
    if (found.kind === 'unknown') {
      if (held.turns >= this.#opts.maxTurns) return { kind: 'live', exhausted: { budget: 'turns', used: held.turns, limit: this.#opts.maxTurns }, tokens: { used: held.tokens } };
      if (held.turns > 0 || this.#hasRoom(now)) return { kind: 'new', room: true };
      const lru = this.#live.values().next().value;
      return { kind: 'new', room: false, limit: this.#opts.maxSessions, ...(lru ? { retryAfterMs: Math.max(1, lru.expiresAt - now) } : {}) };
    }
    const { rec } = found;
    const counted = { ...rec, turns: rec.turns + held.turns, used: { ...rec.used, tokens: rec.used.tokens + held.tokens } };
    const exhausted = exhaustedBudget(counted);
    const limit = rec.limits.tokens;
    return {
      kind: 'live',
      ...(rec.affinity ? { affinity: { ...rec.affinity } } : {}),
      ...(exhausted ? { exhausted } : {}),
      tokens: { ...(limit !== undefined ? { limit } : {}), used: counted.used.tokens },
    };
  }

  hold(id: string, maxTokens: number): void {
    const held = this.#held.get(id);
    if (held) {
      held.turns++;
      held.tokens += maxTokens;
    } else {
      this.#held.set(id, { turns: 1, tokens: maxTokens });
    }
  }

  release(id: string, maxTokens: number): void {
    const held = this.#held.get(id);
    if (!held) return;
    held.turns--;
    held.tokens -= maxTokens;
    if (held.turns <= 0) this.#held.delete(id);
  }

  confirmTurn(id: string, maxTokens: number, create: { owner?: string; ttl_ms?: number } = {}): Result<{ affinity?: Affinity }> {
    this.release(id, maxTokens);
    return this.beginTurn(id, create);
  }

  ownerOf(id: string): string | undefined {
    const found = this.#lookup(id, this.#clock.now());
    return found.kind === 'live' ? found.rec.owner : undefined;
  }

  ownedBy(owner: string): { count: number; nextExpiryMs?: number } {
    const now = this.#clock.now();
    let next: number | undefined;
    for (const id of [...(this.#owned.get(owner) ?? [])]) {
      const found = this.#lookup(id, now);
      if (found.kind === 'live') next = Math.min(next ?? Infinity, found.rec.expiresAt);
    }
    const count = this.#owned.get(owner)?.size ?? 0;
    return next === undefined ? { count } : { count, nextExpiryMs: next };
  }

  /**
   * Starts a turn: creates the session with defaults when the id is unknown, refuses an
   * expired id or a used-up limit, else counts the turn and refreshes the TTL. The returned
   * affinity is where the previous turn ran, for placement to prefer.
   */
  beginTurn(id: string, create: { owner?: string; ttl_ms?: number } = {}): Result<{ affinity?: Affinity }> {
    const now = this.#clock.now();
    const found = this.#lookup(id, now);
    if (found.kind === 'expired') return fail(expiredError(id));
    let rec: SessionRecord;
    if (found.kind === 'live') {
      rec = found.rec;
    } else {
      const created = this.#insert({ session_id: id, ...create }, now);
      if (!created.ok) return fail(created.error);
      rec = created.value;
    }
    const over = exhaustedBudget(rec);
    if (over) {
      const message = `session ${id} has used ${over.used} of its ${over.limit} ${over.budget}`;
      return fail(orchError('BUDGET_EXCEEDED', message, { budget: over.budget }));
    }
    rec.turns++;
    this.#refresh(rec, now);
    return ok(rec.affinity ? { affinity: { ...rec.affinity } } : {});
  }

  /**
   * Records what a finished turn used and where it ran. Budgets are checked before a turn,
   * so the turn that crosses a limit completes and the next is refused. A session that
   * expired while the turn ran stays expired: its usage is dropped.
   */
  endTurn(id: string, usage: TurnUsage): void {
    const now = this.#clock.now();
    const found = this.#lookup(id, now);
    if (found.kind !== 'live') return;
    const { rec } = found;
    rec.used.tokens += usage.tokens;
    rec.used.time_ms += usage.time_ms;
    rec.used.cost += usage.cost;
    rec.affinity = { pool_id: usage.pool_id, replica_id: usage.replica_id };
    if (usage.slot_id !== undefined) rec.affinity.slot_id = usage.slot_id;
    rec.warmth = (usage.cached_tokens ?? 0) > 0 ? 'hot' : 'warm';
    this.#refresh(rec, now);
  }

  /** Gives back the turn of a task refused or dropped before it ran. */
  cancelTurn(id: string): void {
    const rec = this.#live.get(id);
    if (rec && rec.turns > 0) rec.turns--;
  }

  /** True when a live session was deleted. Any tombstone goes too: the id starts afresh. */
  delete(id: string): boolean {
    this.#tombstones.delete(id);
    const rec = this.#live.get(id);
    if (rec === undefined) return false;
    this.#live.delete(id);
    this.#disown(rec);
    return this.#clock.now() < rec.expiresAt;
  }

  /** Moves expired sessions to tombstones and drops lapsed tombstones; returns sessions expired. */
  sweep(): number {
    const now = this.#clock.now();
    let expired = 0;
    for (const rec of this.#live.values()) {
      if (now >= rec.expiresAt) {
        this.#expire(rec);
        expired++;
      }
    }
    for (const [id, lapsesAt] of this.#tombstones) {
      if (now >= lapsesAt) this.#tombstones.delete(id);
    }
    return expired;
  }

  #lookup(id: string, now: number): Lookup {
    const rec = this.#live.get(id);
    if (rec !== undefined) {
      if (now < rec.expiresAt) return { kind: 'live', rec };
      this.#expire(rec);
      return { kind: 'expired' };
    }
    const lapsesAt = this.#tombstones.get(id);
    if (lapsesAt === undefined) return { kind: 'unknown' };
    if (now < lapsesAt) return { kind: 'expired' };
    this.#tombstones.delete(id);
    return { kind: 'unknown' };
  }

  #insert(req: SessionCreate, now: number): Result<SessionRecord> {
    if (!this.#hasRoom(now)) {
      const message = `session limit reached (${this.#opts.maxSessions} live sessions); retry later or delete unused sessions`;
      // The least recently used session frees its place at its expiry unless it is used again.
      const lru = this.#live.values().next().value;
      return fail(orchError('RATE_LIMITED', message, lru ? { retry_after_ms: Math.max(1, lru.expiresAt - now) } : {}));
    }
    this.#tombstones.delete(req.session_id);
    const rec = newRecord(req, this.#opts, now);
    this.#live.set(rec.id, rec);
    if (rec.owner !== undefined) {
      const ids = this.#owned.get(rec.owner) ?? new Set<string>();
      ids.add(rec.id);
      this.#owned.set(rec.owner, ids);
    }
    return ok(rec);
  }

  /**
   * Expires least-recently-used sessions from the front while they are past their TTL.
   * O(expired), never a full scan on the request path; with per-session TTLs a shorter-lived
   * session further back may wait for sweep().
   */
  #hasRoom(now: number): boolean {
    for (const rec of this.#live.values()) {
      if (this.#live.size < this.#opts.maxSessions) return true;
      if (now < rec.expiresAt) return false;
      this.#expire(rec);
    }
    return this.#live.size < this.#opts.maxSessions;
  }

  #refresh(rec: SessionRecord, now: number): void {
    rec.expiresAt = now + rec.ttlMs;
    this.#live.delete(rec.id);
    this.#live.set(rec.id, rec);
  }

  /** An expired id answers SESSION_EXPIRED for one more TTL, then it is forgotten. */
  #disown(rec: SessionRecord): void {
    if (rec.owner === undefined) return;
    const ids = this.#owned.get(rec.owner);
    ids?.delete(rec.id);
    if (ids?.size === 0) this.#owned.delete(rec.owner);
  }

  #expire(rec: SessionRecord): void {
    this.#live.delete(rec.id);
    this.#disown(rec);
    this.#tombstones.delete(rec.id);
    this.#tombstones.set(rec.id, rec.expiresAt + rec.ttlMs);
    for (const oldest of this.#tombstones.keys()) {
      if (this.#tombstones.size <= this.#opts.maxSessions) break;
      this.#tombstones.delete(oldest);
    }
  }
}

const expiredError = (id: string) => orchError('SESSION_EXPIRED', `session ${id} has expired`);
const notFoundError = (id: string) => orchError('NOT_FOUND', `session ${id} not found`);
