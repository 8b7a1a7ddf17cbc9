// Sessions shared by every gateway replica (issue 15), with MemorySessionStore's semantics
// (src/core/session/session-store.ts): wall-clock TTL refreshed on use, an expired id answering
// SESSION_EXPIRED for one more TTL, turn cap and budgets counting turns held by admissions not yet
// committed, KV affinity (pool, replica, slot) and warmth, the session cap cluster-wide. Each
// method is one atomic script (session-lua.ts); time is Redis server time. The admit script
// checks and holds a turn in the admission's own step (AdmitRequest.session).

import type { Redis } from 'ioredis';
import { fail, ok, orchError, type Result } from '../../core/errors.ts';
import { toView, validateCreate, type Affinity, type KvWarmth, type SessionBudgets, type SessionCreate, type SessionRecord, type SessionStanding, type SessionView, type TurnUsage } from '../../core/session/session-record.ts';
import { sessionCapRefusal, type SessionCap } from '../../core/tenancy/quota.ts';
import { unavailable } from '../state-errors.ts';
import type { StateKeys } from './keys.ts';
import { defineScript, type Script, type ScriptArg } from './script.ts';
import { SESSION_OP } from './session-lua.ts';

export interface RedisSessionOptions {
  redis: Redis;
  keys: StateKeys;
  /** Default TTL and turn cap (sessions.*), and the cluster-wide cap on live sessions. */
  ttlMs: number;
  maxTurns: number;
  maxSessions: number;
  /** How long a hold on a session not created yet lasts if its admission never settles (default 10 min). */
  holdBackstopMs?: number;
  /**
   * The gateway replica this store runs on (state.replica_id): its holds are tagged with it, so
   * a survivor gives them back if it dies (giveBackHolds). Must equal the admissions'
   * `admittedBy`: the admit script tags its hold so, and release/confirmTurn take back the hold
   * of this tag. Without it holds are untagged, as before.
   */
  replicaId?: string;
}

/** What the session scripts need from one store's options (the admit script takes the same). */
export interface SessionDefaults {
  ttlMs: number;
  maxTurns: number;
  maxSessions: number;
  holdBackstopMs: number;
}

export class RedisSessionStore {
  readonly #keys: StateKeys;
  readonly #op: Script;
  readonly defaults: SessionDefaults;
  readonly #holder: string;

  constructor(opts: RedisSessionOptions) {
    this.#keys = opts.keys;
    this.#holder = opts.replicaId ?? '';
    this.defaults = { ttlMs: opts.ttlMs, maxTurns: opts.maxTurns, maxSessions: opts.maxSessions, holdBackstopMs: opts.holdBackstopMs ?? 600_000 };
    this.#op = defineScript(opts.redis, 'orchqueueSession', 2, SESSION_OP);
  }

  /**
   * CONFLICT while a live session has the id; an expired or deleted id may be created again.
   * `quota`: the owner's session caps (ORCH-1213), checked in the same step against its sessions
   * (live, or being created by admissions) before anything else; `backoffMs` is the retry hint
   * when it has none to wait for.
   */
  async create(req: SessionCreate, quota?: { caps: readonly SessionCap[]; backoffMs: number }): Promise<Result<SessionView>> {
    const valid = validateCreate(req);
    if (!valid.ok) return fail(valid.error);
    const b = req.budgets ?? {};
    const caps = req.owner === undefined || req.owner === '' ? [] : (quota?.caps ?? []);
    const reply = (await this.#call(req.session_id, [
      'create', req.owner ?? '', req.ttl_ms ?? this.defaults.ttlMs, req.max_turns ?? this.defaults.maxTurns,
      b.tokens ?? '', b.time_ms ?? '', b.cost ?? '', this.defaults.maxSessions, ...caps.map((c) => c.max),
    ])) as [string, ...unknown[]];
    if (reply[0] === 'owner_cap') {
      const cap = caps[Number(reply[1]) - 1] as SessionCap;
      const reset = Number(reply[2]);
      return sessionCapRefusal(cap, reset >= 0 ? reset : (quota?.backoffMs ?? 1_000));
    }
    if (reply[0] === 'conflict') return fail(orchError('CONFLICT', `session ${req.session_id} already exists`, { field: 'session_id' }));
    if (reply[0] === 'no_room') return fail(noRoom(this.defaults.maxSessions, Number(reply[1])));
    return ok(viewOf(req.session_id, reply));
  }

  async view(id: string): Promise<Result<SessionView>> {
    const reply = (await this.#call(id, ['view'])) as [string, ...unknown[]];
    if (reply[0] === 'live') return ok(viewOf(id, reply));
    return fail(reply[0] === 'expired' ? orchError('SESSION_EXPIRED', `session ${id} has expired`) : orchError('NOT_FOUND', `session ${id} not found`));
  }

  /** Where a new turn of `id` stands, counting held turns (read-only; the admit script checks and holds in one step). */
  async standing(id: string): Promise<SessionStanding> {
    return JSON.parse(String(await this.#call(id, ['standing', this.defaults.maxTurns, this.defaults.maxSessions]))) as SessionStanding;
  }

  /** Counts a turn admitted but not yet committed (the admit script does this itself when it admits). */
  async hold(id: string, maxTokens: number): Promise<void> {
    await this.#call(id, ['hold', maxTokens, 1, this.defaults.holdBackstopMs, this.#holder]);
  }

  /**
   * Gives a hold back (the admission was refused or rolled back); nothing when a takeover gave
   * this replica's holds back already. `taskId`: the admission's tracked hold (trackHold), given
   * back only if its task's eviction or withdrawal has not done so.
   */
  async release(id: string, maxTokens: number, taskId?: string): Promise<void> {
    await this.#call(id, ['hold', maxTokens, -1, this.defaults.holdBackstopMs, this.#holder, taskId ?? '']);
  }

  /**
   * A lost gateway replica's holds go back (the takeover's step, lost-replica.ts): every turn it
   * held on any session and had not confirmed or released stops counting. Returns the turns
   * given back; a second call finds none.
   */
  async giveBackHolds(lostReplica: string): Promise<number> {
    return Number(await this.#run('session give_back', () => this.#op([this.#keys.heldSessions(lostReplica), this.#keys.sessions], ['give_back', lostReplica])));
  }

  /**
   * Turns a hold into a counted turn after the commit (creates the session when new); the
   * affinity is where the previous turn ran. `taskId`: the admission's tracked hold
   * (trackHold); when its task was evicted or withdrawn before this commit the hold went back
   * then, no turn is counted and the answer is `removed: true`.
   */
  async confirmTurn(id: string, maxTokens: number, create: { owner?: string; ttl_ms?: number } = {}, taskId?: string): Promise<Result<{ affinity?: Affinity; removed?: true }>> {
    const reply = (await this.#call(id, [
      'confirm', maxTokens, this.defaults.holdBackstopMs, create.owner ?? '', create.ttl_ms ?? this.defaults.ttlMs, this.defaults.maxTurns, this.defaults.maxSessions,
      this.#holder, taskId ?? '',
    ])) as string[];
    switch (reply[0]) {
      case 'ok':
        return ok(reply[1] === undefined ? {} : { affinity: JSON.parse(reply[1]) as Affinity });
      case 'removed':
        return ok({ removed: true });
      case 'expired':
        return fail(orchError('SESSION_EXPIRED', `session ${id} has expired`));
      case 'no_room':
        return fail(noRoom(this.defaults.maxSessions, Number(reply[1])));
      default:
        return fail(orchError('BUDGET_EXCEEDED', `session ${id} has used ${reply[2]} of its ${reply[3]} ${reply[1]}`, { budget: String(reply[1]) }));
    }
  }

  async ownerOf(id: string): Promise<string | undefined> {
    const view = (await this.#call(id, ['view'])) as [string, number, string[]?];
    return view[0] === 'live' ? record(id, view[2] ?? []).owner : undefined;
  }

  /** Sessions of one owner (live, and those admissions are creating), and when the soonest of them expires (tenant session caps). */
  async ownedBy(owner: string): Promise<{ count: number; nextExpiryMs?: number }> {
    const set = this.#keys.ownedSessions(owner);
    const [count, next] = (await this.#run('session owned_by', () => this.#op([set, this.#keys.sessions], ['owned_by']))) as [number, string];
    return next === '' ? { count } : { count, nextExpiryMs: Number(next) };
  }

  /** What a finished turn used and where it ran (its KV affinity); dropped when the session expired meanwhile. */
  async endTurn(id: string, usage: TurnUsage): Promise<void> {
    await this.#call(id, ['end_turn', usage.tokens, usage.time_ms, usage.cost, usage.pool_id, usage.replica_id, usage.slot_id ?? '', usage.cached_tokens ?? 0]);
  }

  /** Gives back the turn of a task that ended before it ran. */
  async cancelTurn(id: string): Promise<void> {
    await this.#call(id, ['cancel_turn']);
  }

  /** True when a live session was deleted; a tombstone goes too (the id starts afresh). */
  async delete(id: string): Promise<boolean> {
    return Number(await this.#call(id, ['delete'])) === 1;
  }

  #call(id: string, args: ScriptArg[]): Promise<unknown> {
    return this.#run(`session ${String(args[0])}`, () => this.#op([this.#keys.session(id), this.#keys.sessions], args));
  }

  async #run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw unavailable(operation, error);
    }
  }
}

function noRoom(maxSessions: number, retryAfterMs: number) {
  const message = `session limit reached (${maxSessions} live sessions); retry later or delete unused sessions`;
  return orchError('RATE_LIMITED', message, { retry_after_ms: retryAfterMs });
}

/** A session hash (HGETALL's flat list) as core's SessionRecord, so the view is core's own projection. */
function record(id: string, flat: readonly string[]): SessionRecord {
  const h = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) h.set(flat[i] as string, flat[i + 1] as string);
  const n = (field: string) => Number(h.get(field) ?? 0);
  const limits: SessionBudgets = {};
  for (const name of ['tokens', 'time_ms', 'cost'] as const) if (h.has(`l_${name}`)) limits[name] = n(`l_${name}`);
  const rec: SessionRecord = {
    id, owner: h.get('owner'), createdAt: n('created'), ttlMs: n('ttl'), maxTurns: n('max_turns'), limits,
    expiresAt: n('expires'), turns: n('turns'), used: { tokens: n('u_tokens'), time_ms: n('u_time_ms'), cost: n('u_cost') },
    warmth: (h.get('warmth') ?? 'cold') as KvWarmth,
  };
  const pool = h.get('a_pool');
  if (pool !== undefined) rec.affinity = { pool_id: pool, replica_id: h.get('a_replica') ?? '', ...(h.has('a_slot') ? { slot_id: n('a_slot') } : {}) };
  return rec;
}

function viewOf(id: string, reply: readonly unknown[]): SessionView {
  return toView(record(id, reply[2] as string[]), Number(reply[1]));
}
