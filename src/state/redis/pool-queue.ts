// One pool's queue, engine slots and quota reservations shared by every gateway replica
// (issue 15), as four atomic scripts (admission-scripts.ts). A task's life costs three round
// trips: admit (check-and-reserve + offer), claim (dispatch by exactly one replica, one engine
// slot counted cluster-wide) and release (slot back + quota settled); withdraw replaces release
// for a task that leaves the queue before it runs.

import type { Redis } from 'ioredis';
import type { ClaimPreference } from '../../core/placement/claim-preference.ts';
import type { Priority } from '../../core/task/events.ts';
import type { QuotaLimits } from '../../core/tenancy/limits.ts';
import { unavailable } from '../state-errors.ts';
import { ADMIT, ADMIT_HEADER, ANNOUNCE_QUEUED, POOL_KEYS, RELEASE, WITHDRAW } from './admission-scripts.ts';
import { CLAIM } from './claim-lua.ts';
import { admitResultOf, parseClaim, type AdmitResult, type ClaimResult } from './admit-reply.ts';
import { SETTLE_ASIDE } from './set-aside-lua.ts';
import type { PoolKeys, StateKeys } from './keys.ts';
import { defineScript, pipelineScript, type Script, type ScriptArg } from './script.ts';
import type { SessionDefaults } from './session-store.ts';

export type { AdmitResult, ClaimedTask, ClaimResult } from './admit-reply.ts';

export interface PoolPolicy {
  maxQueued: number;
  policy: 'reject' | 'drop-lru';
  interactiveWeight: number;
  batchWeight: number;
}

/** One quota subject of an admission: its limits and, with a budget, the period holding now. */
export interface AdmitSubject {
  subject: string;
  limits: QuotaLimits;
  period?: { startMs: number; endMs: number };
}

/** The client's task_id as an idempotency key (IdempotencyStore semantics, checked and held by admit). */
export interface AdmitIdempotency {
  /** The record's key (the caller scopes it, e.g. by tenant). */
  key: string;
  /** The request body's fingerprint (src/core/admission/idempotency.ts). */
  digest: string;
  /** How long the answer stays replayable. */
  ttlMs: number;
}

export interface AdmitRequest {
  taskId: string;
  priority: Priority;
  tenant?: string;
  /** The tenant's fairness weight within its class (integer >= 1; default 1), as FairQueue's weightOf. */
  tenantWeight?: number;
  idempotency?: AdmitIdempotency;
  /**
   * The request's session: checked and a turn held in the admission's step, tagged by
   * `admittedBy` (confirm or release it after with a RedisSessionStore whose `replicaId` is the
   * same replica, so the tagged hold goes with it). `trackHold`: the hold is also recorded under
   * the task id, so the eviction or withdrawal of the task before its commit gives it back in
   * that script; then confirm and release it with the task id (RedisSessionStore's `taskId`),
   * which find it gone. `owner`: whom the session belongs to when this turn creates it (the
   * tenant); a new session then counts against the subjects' `max_sessions` from this admission
   * on, checked in the same step (sessions of that owner, live or being created).
   */
  session?: { id: string; defaults: SessionDefaults; trackHold?: boolean; owner?: string };
  /** The gateway replica that admitted the task (it holds the client's request). */
  admittedBy: string;
  maxTokens: number;
  budgetTokens: number;
  budgetCost: number;
  subjects: readonly AdmitSubject[];
  /** The engine replicas the task should run on (claimPreference): whichever replica claims it honours them. */
  preference?: ClaimPreference;
}

/** What settling a set-aside drop-lru victim did (RedisPoolQueue.settleAside). */
export type AsideOutcome = 'restored' | 'evicted' | 'gone';

/** What a task really used, settled against its reservation. */
export interface Actual {
  tokens: number;
  budgetTokens: number;
  budgetCost: number;
}

const UNLIMITED = -1;
const ADMIT_NAME = 'orchqueueAdmit';
const CLAIM_NAME = 'orchqueueClaim';
const ANNOUNCE_NAME = 'orchqueueAnnounceQueued';
/** server.retention_ms's default. */
const DEFAULT_RETENTION_MS = 300_000;

export interface PoolQueueOptions {
  redis: Redis;
  keys: StateKeys;
  poolId: string;
  /** How long an ended task's registry record stays readable (server.retention_ms; default 5 min). */
  retentionMs?: number;
  /** The registry record's TTL while its task lives: a task nobody ends still disappears (default 24 h). */
  backstopMs?: number;
}

export class RedisPoolQueue {
  readonly #redis: Redis;
  readonly #poolKeys: PoolKeys;
  readonly #keys: StateKeys;
  readonly #base: string[];
  readonly #admit: Script;
  readonly #claim: Script;
  readonly #release: Script;
  readonly #withdraw: Script;
  readonly #settleAside: Script;
  readonly #poolId: string;
  readonly #retentionMs: number;
  readonly #backstopMs: number;
  /** The registry key around a task id, for the claim script (it learns the id inside). */
  readonly #ownerKeyParts: [string, string];

  constructor(opts: PoolQueueOptions) {
    this.#redis = opts.redis;
    this.#keys = opts.keys;
    this.#poolId = opts.poolId;
    this.#retentionMs = Math.max(1, opts.retentionMs ?? DEFAULT_RETENTION_MS);
    this.#backstopMs = opts.backstopMs ?? 24 * 3_600_000;
    const [head = '', tail = ''] = opts.keys.owner('\n').split('\n');
    this.#ownerKeyParts = [head, tail];
    this.#poolKeys = opts.keys.pool(opts.poolId);
    this.#base = POOL_KEYS.map((name) => this.#poolKeys[name]);
    this.#admit = defineScript(opts.redis, ADMIT_NAME, undefined, ADMIT);
    this.#claim = defineScript(opts.redis, CLAIM_NAME, POOL_KEYS.length, CLAIM);
    defineScript(opts.redis, ANNOUNCE_NAME, 2, ANNOUNCE_QUEUED);
    this.#release = defineScript(opts.redis, 'orchqueueRelease', POOL_KEYS.length + 1, RELEASE);
    this.#withdraw = defineScript(opts.redis, 'orchqueueWithdraw', POOL_KEYS.length + 1, WITHDRAW);
    this.#settleAside = defineScript(opts.redis, 'orchqueueSettleAside', POOL_KEYS.length + 1, SETTLE_ASIDE);
  }

  /** The channel a replica subscribes to so it claims when a task is queued or a slot frees. */
  get wakeChannel(): string {
    return this.#poolKeys.wake;
  }

  /** An engine replica's slots (from its probe); 0 takes it out of placement. */
  async setCapacity(engineReplica: string, slots: number): Promise<void> {
    await this.#run('capacity', () => this.#redis.hset(this.#poolKeys.capacity, engineReplica, slots));
  }

  /** A tenant's weight within its class after a reload (admissions also write the weight they were given). */
  async setTenantWeight(tenant: string, weight: number): Promise<void> {
    // As FairQueue: weights are validated integers >= 1, else a wiring bug.
    if (!Number.isInteger(weight) || weight < 1) throw new RangeError(`tenant weight must be an integer >= 1, got ${weight}`);
    await this.#run('tenant weight', () => this.#redis.hset(`${this.#poolKeys.turns}:weights`, tenant, weight));
  }

  /**
   * Idempotency check + quota check-and-reserve on every subject + the offer: one round trip.
   * `alongside` is written in the same round trip, before the script runs (the task's spec,
   * which the replica that claims it reads).
   */
  async admit(req: AdmitRequest, policy: PoolPolicy, alongside?: { key: string; value: string; ttlMs: number }): Promise<AdmitResult> {
    return (await this.admitAndClaim(req, policy, alongside)).admit;
  }

  /**
   * `admit`, and in the same round trip a claim by `claim.claimer` right after it: Redis runs one
   * client's pipeline in order, so the admitting replica gets the first chance at the work it
   * just queued (its first token stays local) before other replicas' wake-ups arrive. The claim
   * may take another task (the queue's head), or none.
   */
  async admitAndClaim(
    req: AdmitRequest,
    policy: PoolPolicy,
    alongside?: { key: string; value: string; ttlMs: number },
    claim?: { claimer: string; candidates: readonly string[] },
  ): Promise<{ admit: AdmitResult; claim?: ClaimResult }> {
    const idem = req.idempotency;
    const claimArgs = claim === undefined || claim.candidates.length === 0 ? undefined : this.#claimArgs(claim.claimer, claim.candidates, policy);
    const args: ScriptArg[] = [
      req.taskId, req.priority, req.tenant ?? '', req.admittedBy,
      policy.maxQueued, policy.policy, policy.interactiveWeight, policy.batchWeight,
      req.maxTokens, req.budgetTokens, req.budgetCost, req.subjects.length,
      // With a claim following, the wake-up goes after it (ANNOUNCE_QUEUED), for what it left.
      req.tenantWeight ?? 1, claimArgs === undefined ? this.#poolKeys.wake : '', idem?.digest ?? '', idem?.ttlMs ?? 0, this.#backstopMs,
      req.session ? '1' : '', req.session?.defaults.maxTurns ?? 0, req.session?.defaults.maxSessions ?? 0, req.session?.defaults.holdBackstopMs ?? 0,
      ...this.#ownerKeyParts, this.#retentionMs,
    ];
    if (args.length !== ADMIT_HEADER) throw new Error('admit: header out of step with the script');
    for (const { subject, limits: l, period } of req.subjects) {
      const budget = period !== undefined ? l.budget : undefined;
      args.push(
        subject, period?.startMs ?? '', period?.endMs ?? 0,
        l.requests_per_min ?? UNLIMITED, l.tokens_per_min ?? UNLIMITED, l.max_concurrent_tasks ?? UNLIMITED, l.max_queued_tasks ?? UNLIMITED,
        budget?.tokens ?? UNLIMITED, budget?.cost ?? UNLIMITED,
      );
    }
    const sessionOwner = req.session?.owner ?? '';
    // The claim preference goes last: the script reads it as ARGV[#ARGV].
    args.push(this.#poolId, req.session?.trackHold === true ? '1' : '', sessionOwner, ...req.subjects.map((s) => s.limits.max_sessions ?? UNLIMITED), req.preference ? preferenceJson(req.preference) : '');
    const keys = [...this.#base, ...req.subjects.map((s) => this.#keys.quota(s.subject)), this.#keys.owner(req.taskId)];
    if (idem !== undefined) keys.push(this.#keys.idempotency(idem.key), this.#keys.unansweredTaskIds(req.admittedBy));
    if (req.session !== undefined) keys.push(this.#keys.session(req.session.id), this.#keys.sessions);
    if (req.session !== undefined && sessionOwner !== '') keys.push(this.#keys.ownedSessions(sessionOwner));
    const [admitted, claimed] = alongside === undefined && claimArgs === undefined
      ? [await this.#run('admit', () => this.#admit(keys, args)), undefined]
      : await this.#run('admit', () => this.#admitPipelined(keys, args, alongside, claimArgs));
    const reply = admitted as Array<string | number>;
    const claimResult = claimed === undefined ? undefined : parseClaim(claimed as string[]);
    return { admit: admitResultOf(req, reply), ...(claimResult ? { claim: claimResult } : {}) };
  }

  async #admitPipelined(keys: string[], args: ScriptArg[], alongside: { key: string; value: string; ttlMs: number } | undefined, claimArgs: ScriptArg[] | undefined): Promise<[unknown, unknown]> {
    const pipeline = this.#redis.pipeline();
    if (alongside !== undefined) pipeline.set(alongside.key, alongside.value, 'PX', alongside.ttlMs);
    pipelineScript(pipeline, ADMIT_NAME, keys, args, false);
    if (claimArgs !== undefined) {
      pipelineScript(pipeline, CLAIM_NAME, this.#base, claimArgs, true);
      pipelineScript(pipeline, ANNOUNCE_NAME, [this.#poolKeys.interactive, this.#poolKeys.batch], [this.#poolKeys.wake], true);
    }
    const replies = (await pipeline.exec()) ?? [];
    for (const [error] of replies) if (error) throw error;
    const at = alongside === undefined ? 0 : 1;
    return [replies[at]?.[1], claimArgs === undefined ? undefined : replies[at + 1]?.[1]];
  }

  #claimArgs(claimer: string, candidates: readonly string[], policy: Pick<PoolPolicy, 'interactiveWeight' | 'batchWeight'>): ScriptArg[] {
    return [claimer, policy.interactiveWeight, policy.batchWeight, ...this.#ownerKeyParts, ...candidates];
  }

  /**
   * Takes the next task by the fair order (class, then tenant) that may run on a candidate with
   * a free slot, onto the engine replica it prefers when that one is free, else the first free
   * candidate it does not avoid; a task held to busy replicas (hard pin or avoid) stays queued
   * (claim-lua.ts).
   */
  async claim(claimer: string, candidates: readonly string[], policy: Pick<PoolPolicy, 'interactiveWeight' | 'batchWeight'>): Promise<ClaimResult> {
    return parseClaim((await this.#run('claim', () => this.#claim(this.#base, this.#claimArgs(claimer, candidates, policy)))) as string[]);
  }

  /**
   * The task ended: its engine slot is free again and its quota settled to what it used
   * (`'reserved'`: what use is unknown, a lost replica's task, is charged as reserved). Its
   * registry record names `endedBy` and lives on for the retention window. False when it was not running.
   */
  async release(taskId: string, actual: Actual | 'reserved', endedBy: string): Promise<boolean> {
    const used = actual === 'reserved' ? ['', '', ''] : [actual.tokens, actual.budgetTokens, actual.budgetCost];
    const args = [taskId, ...used, this.#poolKeys.wake, endedBy, this.#retentionMs];
    return Number(await this.#run('release', () => this.#release([...this.#base, this.#keys.owner(taskId)], args))) === 1;
  }

  /** A queued task leaves before it runs: all it reserved is given back. False when it was not queued. */
  async withdraw(taskId: string, endedBy: string): Promise<boolean> {
    return Number(await this.#run('withdraw', () => this.#withdraw([...this.#base, this.#keys.owner(taskId)], [taskId, endedBy, this.#retentionMs]))) === 1;
  }

  /**
   * Settles a drop-lru victim an admission set aside (`queued` with `evicted`): `restore` puts it
   * back at the head of its tenant's lane with all it held (the newcomer was refused at its
   * commit); `settle` evicts it (reservation and session hold given back, registry record ended by
   * `settledBy`) unless the queue has room again, then it is put back. `gone`: it was settled
   * before or withdrawn meanwhile (canceled, deadline, drain), which ended it.
   */
  async settleAside(taskId: string, mode: 'restore' | 'settle', maxQueued: number, settledBy: string): Promise<AsideOutcome> {
    const args = [taskId, mode, maxQueued, settledBy, this.#retentionMs, this.#poolKeys.wake];
    return String(await this.#run('settle aside', () => this.#settleAside([...this.#base, this.#keys.owner(taskId)], args))) as AsideOutcome;
  }

  /** Drop-lru victims whose admission on gateway replica `admitter` set them aside and never settled them. */
  async asideBy(admitter: string): Promise<string[]> {
    const all = await this.#run('aside', () => this.#redis.hgetall(this.#poolKeys.aside));
    return Object.entries(all).filter(([, json]) => (JSON.parse(json) as { by: string }).by === admitter).map(([taskId]) => taskId);
  }

  /** Tasks running on claims of gateway replica `claimer` (a survivor ends them after a takeover). */
  async runningBy(claimer: string): Promise<Array<{ taskId: string; engineReplica: string }>> {
    const all = await this.#run('running', () => this.#redis.hgetall(this.#poolKeys.running));
    const out: Array<{ taskId: string; engineReplica: string }> = [];
    for (const [taskId, json] of Object.entries(all)) {
      const entry = JSON.parse(json) as { gw: string; e: string };
      if (entry.gw === claimer) out.push({ taskId, engineReplica: entry.e });
    }
    return out;
  }

  /** Queued tasks (set-aside drop-lru victims too) that gateway replica `admitter` admitted (a survivor adopts them after a takeover). */
  async queuedBy(admitter: string): Promise<string[]> {
    const [queued, aside] = await this.#run('queued', () => Promise.all([this.#redis.hgetall(this.#poolKeys.entries), this.#redis.hgetall(this.#poolKeys.aside)]));
    const entries = [...Object.entries(queued), ...Object.entries(aside).map(([taskId, json]): [string, string] => [taskId, (JSON.parse(json) as { e: string }).e])];
    return entries.filter(([, json]) => (JSON.parse(json) as { by: string }).by === admitter).map(([taskId]) => taskId);
  }

  /** Queued tasks per class and engine slots in use, cluster-wide. */
  async figures(): Promise<{ interactive: number; batch: number; busy: Record<string, number> }> {
    const { interactive, batch, busy } = this.#poolKeys;
    const [i, b, used] = await this.#run('figures', () => Promise.all([this.#redis.zcard(interactive), this.#redis.zcard(batch), this.#redis.hgetall(busy)]));
    return { interactive: i, batch: b, busy: Object.fromEntries(Object.entries(used).map(([k, v]) => [k, Number(v)])) };
  }

  async #run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw unavailable(operation, error);
    }
  }
}

/** The queue entry's `pl` as the claim script reads it (claim-lua.ts). */
function preferenceJson(pl: ClaimPreference): string {
  return JSON.stringify({ p: pl.prefer, a: pl.avoid, ...(pl.only !== undefined ? { o: pl.only } : {}), ...(pl.avoidStrictly ? { x: 1 } : {}) });
}

