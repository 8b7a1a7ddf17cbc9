// Admission as a whole, on plain data: every refusal `admit` can return, the documented order
// between the steps (a request failing two steps gets the earlier one's error), and the plan
// it hands the shell on success.
import { describe, expect, it } from 'vitest';
import { orchError, type OrchError } from '../errors.ts';
import type { ReplicaView } from '../placement/decide.ts';
import type { SessionStanding } from '../session/session-store.ts';
import { windowStart, type QuotaLimits } from '../tenancy/limits.ts';
import type { QuotaSubject, QuotaUsage } from '../tenancy/quota.ts';
import { admit, type AdmissionRequest, type AdmissionSnapshot, type PoolSnapshot } from './admit.ts';

const replica = (id: string, over: Partial<ReplicaView> = {}): ReplicaView => ({
  id,
  state: 'ready',
  breaker: 'closed',
  slotsTotal: 2,
  slotsBusy: 0,
  ctxMax: 1000,
  versionOk: true,
  accelerator: 'cpu',
  ...over,
});

const POOL: PoolSnapshot = {
  id: 'p1',
  engine: 'mock',
  model: 'demo',
  aliases: ['demo-alias'],
  draining: false,
  ctxMax: 1000,
  deterministic: true,
  replicas: [replica('r0'), replica('r1')],
  healthIntervalMs: 2_500,
  queue: { size: 0, interactive: 0, batch: 0, maxQueued: 4, policy: 'reject' },
  // Finish for the base request: 0 + 50 + (16 - 1) * 1000 / 100 = 200 ms.
  forecast: { startMs: 0, backoffMs: 750, tokensPerS: 100, ttftMs: 50 },
  fallbacks: [],
  fallbackOnNoCapacity: false,
};

/** Five characters: an estimated 2 prompt tokens. */
const REQUEST: AdmissionRequest = { model: 'demo', prompt: 'hello', max_tokens: 16 };

interface Scenario {
  snap: Omit<AdmissionSnapshot, 'pools'>;
  pool: PoolSnapshot;
  req: AdmissionRequest;
}
type Tweak = (s: Scenario) => Scenario;

const base = (): Scenario => ({
  snap: { idempotency: { kind: 'new' }, taskIdInUse: false, auditAccepting: true, limits: { maxTokensLimit: 512, maxPromptChars: 3_000 } },
  pool: POOL,
  req: REQUEST,
});

const run = (...tweaks: Tweak[]) => {
  const s = tweaks.reduce((acc, t) => t(acc), base());
  return admit({ ...s.snap, pools: [s.pool] }, s.req);
};

const refusal = (...tweaks: Tweak[]): OrchError => {
  const result = run(...tweaks);
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result.value)}`);
  return result.error;
};

const plan = (...tweaks: Tweak[]) => {
  const result = run(...tweaks);
  if (!result.ok) throw new Error(`expected an admission, got ${result.error.code}: ${result.error.message}`);
  if (result.value.kind !== 'admit') throw new Error('expected an admission, got a replay');
  return result.value.plan;
};

const req = (over: Partial<AdmissionRequest>): Tweak => (s) => ({ ...s, req: { ...s.req, ...over } });
const pool = (over: Partial<PoolSnapshot>): Tweak => (s) => ({ ...s, pool: { ...s.pool, ...over } });
const snap = (over: Partial<Scenario['snap']>): Tweak => (s) => ({ ...s, snap: { ...s.snap, ...over } });
const queue = (over: Partial<PoolSnapshot['queue']>): Tweak => (s) => ({ ...s, pool: { ...s.pool, queue: { ...s.pool.queue, ...over } } });
const forecast = (over: Partial<PoolSnapshot['forecast']>): Tweak => (s) => ({ ...s, pool: { ...s.pool, forecast: { ...s.pool.forecast, ...over } } });
const placement = (over: NonNullable<AdmissionRequest['placement']>): Tweak => (s) => ({ ...s, req: { ...s.req, placement: { ...s.req.placement, ...over } } });
const session = (standing: SessionStanding, id = 'chat'): Tweak => (s) => ({ ...s, req: { ...s.req, session_id: id }, snap: { ...s.snap, session: standing } });
const replicas = (...views: ReplicaView[]): Tweak => pool({ replicas: views });

const live = (over: Partial<Extract<SessionStanding, { kind: 'live' }>> = {}): SessionStanding => ({ kind: 'live', tokens: { used: 0 }, ...over });
const UNREADY = orchError('REPLICA_EXHAUSTED', 'every replica of pool p1 is overloaded', { pool_id: 'p1', retry_after_ms: 1_234 });

/** The steps in the documented order (docs/architecture.md "Admission, in order"). */
const STEPS = ['idempotency', 'audit', 'pool', 'capability', 'placement', 'session', 'deadline', 'queue'] as const;
type Step = (typeof STEPS)[number];

interface Refusal {
  title: string;
  step: Step;
  tweaks: Tweak[];
  error: Partial<OrchError>;
}

const REFUSALS: Refusal[] = [
  // Idempotency
  { title: 'a task_id reused with another body', step: 'idempotency', tweaks: [req({ task_id: 't1' }), snap({ idempotency: { kind: 'conflict' } })], error: { code: 'CONFLICT', field: 'task_id' } },
  { title: 'a task_id still held by a task whose key is forgotten', step: 'idempotency', tweaks: [req({ task_id: 't1' }), snap({ taskIdInUse: true })], error: { code: 'CONFLICT', field: 'task_id' } },
  // Audit gate
  { title: 'an audit store that cannot record admissions', step: 'audit', tweaks: [snap({ auditAccepting: false })], error: { code: 'AUDIT_UNAVAILABLE', retry_after_ms: 1_000 } },
  // Model → pool
  { title: 'an unknown model', step: 'pool', tweaks: [req({ model: 'nope' })], error: { code: 'INVALID_PARAMS', field: 'model' } },
  { title: 'a model served only by another engine', step: 'pool', tweaks: [req({ engine: 'vllm' })], error: { code: 'INVALID_PARAMS', field: 'engine' } },
  { title: 'a draining pool', step: 'pool', tweaks: [pool({ draining: true })], error: { code: 'DRAINING', pool_id: 'p1', retry_after_ms: 5_000 } },
  { title: "an unready pool (the pool's own error)", step: 'pool', tweaks: [pool({ unready: UNREADY })], error: UNREADY },
  {
    title: "a provider pool whose every replica has spent its provider's rate-limit budget",
    step: 'pool',
    tweaks: [pool({ rateLimitedForMs: 6_500, unready: UNREADY })],
    error: { code: 'RATE_LIMITED', pool_id: 'p1', retry_after_ms: 6_500, policy_label: 'provider_rate_limit' },
  },
  // Capability
  { title: 'max_tokens over the server limit', step: 'capability', tweaks: [req({ max_tokens: 513 })], error: { code: 'INVALID_PARAMS', field: 'max_tokens', pool_id: 'p1' } },
  { title: 'max_tokens over the context', step: 'capability', tweaks: [pool({ ctxMax: 300 }), req({ max_tokens: 301 })], error: { code: 'INVALID_PARAMS', field: 'max_tokens', pool_id: 'p1' } },
  { title: 'a prompt over the character limit', step: 'capability', tweaks: [req({ prompt: 'x'.repeat(3_001) })], error: { code: 'INVALID_PARAMS', field: 'prompt', pool_id: 'p1' } },
  { title: 'prompt plus max_tokens over the context', step: 'capability', tweaks: [req({ prompt: 'x'.repeat(2_000), max_tokens: 501 })], error: { code: 'INVALID_PARAMS', field: 'prompt', pool_id: 'p1' } },
  { title: 'a seed on a non-deterministic pool', step: 'capability', tweaks: [pool({ deterministic: false }), req({ seed: 7 })], error: { code: 'INVALID_PARAMS', field: 'seed', pool_id: 'p1' } },
  // Placement
  { title: 'an unknown replica in pin', step: 'placement', tweaks: [placement({ pin: 'ghost' })], error: { code: 'INVALID_PARAMS', field: 'placement.pin', pool_id: 'p1' } },
  { title: 'an unknown replica in prefer', step: 'placement', tweaks: [placement({ prefer: ['r0', 'ghost'] })], error: { code: 'INVALID_PARAMS', field: 'placement.prefer', pool_id: 'p1' } },
  { title: 'an unknown replica in avoid', step: 'placement', tweaks: [placement({ avoid: ['ghost'] })], error: { code: 'INVALID_PARAMS', field: 'placement.avoid', pool_id: 'p1' } },
  { title: 'constraints no ready replica satisfies', step: 'placement', tweaks: [placement({ accelerator: 'nvidia' })], error: { code: 'POOL_UNREADY', pool_id: 'p1', retry_after_ms: 2_500 } },
  { title: 'avoiding every replica without allow_fallback', step: 'placement', tweaks: [placement({ avoid: ['r0', 'r1'] })], error: { code: 'POOL_UNREADY', pool_id: 'p1', retry_after_ms: 2_500 } },
  // No placement at all (the usual request) still needs a replica that could ever take it.
  { title: 'no constraints and every replica unable to serve', step: 'placement', tweaks: [replicas(replica('r0', { breaker: 'open' }), replica('r1', { breaker: 'open' }))], error: { code: 'POOL_UNREADY', pool_id: 'p1', retry_after_ms: 2_500 } },
  { title: 'a pin on a replica that cannot serve', step: 'placement', tweaks: [replicas(replica('r0'), replica('r1', { breaker: 'open' })), placement({ pin: 'r1' })], error: { code: 'REPLICA_EXHAUSTED', pool_id: 'p1', retry_after_ms: 2_500 } },
  // Session
  { title: 'an expired session', step: 'session', tweaks: [session({ kind: 'expired' })], error: { code: 'SESSION_EXPIRED' } },
  { title: 'a new session while the session cap is reached', step: 'session', tweaks: [session({ kind: 'new', room: false, limit: 10, retryAfterMs: 4_321 })], error: { code: 'RATE_LIMITED', retry_after_ms: 4_321 } },
  { title: "max_tokens over the session's remaining token budget", step: 'session', tweaks: [session(live({ tokens: { limit: 100, used: 90 } }))], error: { code: 'BUDGET_EXCEEDED', budget: 'tokens', field: 'max_tokens' } },
  { title: 'a session that used all its turns', step: 'session', tweaks: [session(live({ exhausted: { budget: 'turns', used: 1, limit: 1 } }))], error: { code: 'BUDGET_EXCEEDED', budget: 'turns' } },
  { title: 'a session that used its cost budget', step: 'session', tweaks: [session(live({ exhausted: { budget: 'cost', used: 2, limit: 1.5 } }))], error: { code: 'BUDGET_EXCEEDED', budget: 'cost' } },
  // Deadline
  { title: 'a deadline before the predicted finish', step: 'deadline', tweaks: [req({ deadline_ms: 199 })], error: { code: 'DEADLINE_UNMET', field: 'deadline_ms', pool_id: 'p1' } },
  { title: 'a deadline on a pool with no speed to predict from', step: 'deadline', tweaks: [forecast({ tokensPerS: 0 }), req({ deadline_ms: 600_000 })], error: { code: 'DEADLINE_UNMET', field: 'deadline_ms', pool_id: 'p1' } },
  // Queue
  { title: 'a queue full beyond the slots free now (entries awaiting their commit take those)', step: 'queue', tweaks: [queue({ size: 6, interactive: 6, freeSlots: 2 })], error: { code: 'ADMISSION_REJECT', pool_id: 'p1', policy_label: 'reject' } },
  { title: 'a full queue under reject', step: 'queue', tweaks: [queue({ size: 4, interactive: 4 })], error: { code: 'ADMISSION_REJECT', pool_id: 'p1', retry_after_ms: 750, policy_label: 'reject' } },
  { title: 'a queue over its capacity after a shrinking reload', step: 'queue', tweaks: [queue({ size: 6, interactive: 3, batch: 3 })], error: { code: 'ADMISSION_REJECT', retry_after_ms: 750, policy_label: 'reject' } },
  { title: 'a batch newcomer to a drop-lru queue full of interactive work', step: 'queue', tweaks: [queue({ size: 4, interactive: 4, policy: 'drop-lru' }), req({ priority: 'batch' })], error: { code: 'ADMISSION_REJECT', pool_id: 'p1', retry_after_ms: 750, policy_label: 'drop-lru' } },
  { title: 'a drop-lru queue of capacity 0', step: 'queue', tweaks: [queue({ maxQueued: 0, policy: 'drop-lru' })], error: { code: 'ADMISSION_REJECT', policy_label: 'drop-lru' } },
];

/** One refusal per step, touching fields no earlier step reads, for the order tests. */
const FIRST_OF: Record<Step, Refusal> = Object.fromEntries(STEPS.map((step) => [step, REFUSALS.find((r) => r.step === step) as Refusal])) as Record<Step, Refusal>;

// ORCH-0103 ORCH-0104 ORCH-0105 ORCH-0107 ORCH-0108 ORCH-0109 ORCH-0113 ORCH-0302 ORCH-0303 ORCH-0304
describe('admit refuses', () => {
  it.each(REFUSALS.map((r) => [r.title, r] as const))('%s', (_title, r) => {
    expect(refusal(...r.tweaks)).toMatchObject(r.error);
  });

  it('refuses every step with a request that passes all the others (base admits)', () => {
    expect(run().ok).toBe(true);
    expect(new Set(REFUSALS.map((r) => r.step))).toEqual(new Set(STEPS));
  });

  it("returns an unready pool's error as it is", () => {
    expect(refusal(pool({ unready: UNREADY }))).toBe(UNREADY);
  });

  it('says why a deadline cannot be met, with or without a prediction', () => {
    expect(refusal(req({ deadline_ms: 199 })).message).toMatch(/predicted start in 0 ms, finish in 200 ms/);
    expect(refusal(forecast({ tokensPerS: 0 }), req({ deadline_ms: 600_000 })).message).toMatch(/no capacity to predict a finish/);
    expect(refusal(forecast({ startMs: Number.POSITIVE_INFINITY }), req({ deadline_ms: 600_000 })).message).toMatch(/no capacity/);
  });

  it('says a held task_id without a remembered answer is in use, not used with a different body', () => {
    expect(refusal(req({ task_id: 't1' }), snap({ taskIdInUse: true })).message).toMatch(/is in use by a task whose first answer is not known yet/);
    expect(refusal(req({ task_id: 't1' }), snap({ idempotency: { kind: 'conflict' } })).message).toMatch(/different body/);
  });

  it('leaves retry_after_ms out of a session-cap refusal when no session will free a place', () => {
    expect(refusal(session({ kind: 'new', room: false, limit: 3 }))).not.toHaveProperty('retry_after_ms');
  });
});

// ORCH-0116 ORCH-0115
describe('admit takes the steps in the documented order', () => {
  // Every refusal combined with a representative refusal of each later step: the earlier wins.
  const later = REFUSALS.flatMap((r) =>
    STEPS.slice(STEPS.indexOf(r.step) + 1).map((step) => [r.title, step, r, FIRST_OF[step]] as const),
  );
  it.each(later)('%s comes before the %s step', (_title, _step, first, second) => {
    expect(refusal(...second.tweaks, ...first.tweaks)).toMatchObject(first.error);
    expect(refusal(...first.tweaks, ...second.tweaks)).toMatchObject(first.error);
  });

  // And each refusal against a representative of every earlier step.
  const earlier = REFUSALS.flatMap((r) =>
    STEPS.slice(0, STEPS.indexOf(r.step)).map((step) => [step, r.title, FIRST_OF[step], r] as const),
  );
  it.each(earlier)('the %s step comes before %s', (_step, _title, first, second) => {
    expect(refusal(...second.tweaks, ...first.tweaks)).toMatchObject(first.error);
  });

  it('gives the first step its error when every step fails at once', () => {
    const all = STEPS.flatMap((step) => FIRST_OF[step].tweaks);
    expect(refusal(...all)).toMatchObject({ code: 'CONFLICT' });
  });

  it('refuses a draining pool as DRAINING even when it is also unready', () => {
    expect(refusal(pool({ draining: true, unready: UNREADY }))).toMatchObject({ code: 'DRAINING' });
  });

  it('names an unknown replica before judging whether the task can be placed', () => {
    expect(refusal(placement({ accelerator: 'nvidia', avoid: ['ghost'] }))).toMatchObject({ code: 'INVALID_PARAMS', field: 'placement.avoid' });
    expect(refusal(placement({ pin: 'ghost', prefer: ['phantom'] }))).toMatchObject({ field: 'placement.pin' });
  });

  it("checks the session's token budget before its other used-up budgets", () => {
    const both = live({ tokens: { limit: 100, used: 90 }, exhausted: { budget: 'turns', used: 8, limit: 8 } });
    expect(refusal(session(both))).toMatchObject({ code: 'BUDGET_EXCEEDED', budget: 'tokens' });
  });

  it('replays a remembered answer before the audit gate and although its task is still held', () => {
    const answer = { task_id: 't1', queue_position: 0 };
    const result = run(req({ task_id: 't1' }), snap({ idempotency: { kind: 'replay', answer }, taskIdInUse: true, auditAccepting: false }), pool({ draining: true }));
    expect(result).toEqual({ ok: true, value: { kind: 'replay', answer } });
  });
});

describe('admit plans', () => {
  it('plans a plain request: pool, placement job, prompt estimate and predicted start', () => {
    expect(plan(forecast({ startMs: 1_234 }))).toEqual({
      poolId: 'p1',
      job: { promptTokens: 2, maxTokens: 16, affinityReplicaId: undefined, pin: undefined, prefer: undefined, avoid: undefined, allowFallback: false, accelerator: undefined },
      promptTokens: 2,
      predictedStartMs: 1_234,
      evicts: false,
    });
  });

  it('admits into a queue whose places are taken by entries that free slots will take at once', () => {
    const result = run(queue({ size: 4, interactive: 4, freeSlots: 1 }));
    expect(result.ok).toBe(true);
  });

  it('carries the client placement into the job', () => {
    const p = plan(placement({ pin: 'r1', prefer: ['r1', 'r0'], avoid: ['r0'], allow_fallback: true, accelerator: 'cpu' }));
    expect(p.job).toMatchObject({ pin: 'r1', prefer: ['r1', 'r0'], avoid: ['r0'], allowFallback: true, accelerator: 'cpu' });
  });

  it('falls back from an unusable pin when allow_fallback is set', () => {
    const p = plan(replicas(replica('r0'), replica('r1', { state: 'unready' })), placement({ pin: 'r1', allow_fallback: true }));
    expect(p.poolId).toBe('p1');
  });

  it('predicts an unbounded start as it is (the shell renders it) when no deadline asks', () => {
    expect(plan(forecast({ startMs: Number.POSITIVE_INFINITY })).predictedStartMs).toBe(Number.POSITIVE_INFINITY);
  });

  it('admits a deadline exactly at the predicted finish', () => {
    expect(run(req({ deadline_ms: 200 })).ok).toBe(true);
  });

  it('admits max_tokens that exactly use up the session token budget', () => {
    expect(run(session(live({ tokens: { limit: 100, used: 84 } }))).ok).toBe(true);
  });

  it('holds a session turn for the request, with its max_tokens', () => {
    expect(plan(session({ kind: 'new', room: true }, 'chat-9'))).toMatchObject({ session: { id: 'chat-9', maxTokens: 16 } });
    expect(plan(session(live(), 'chat-9')).session).toEqual({ id: 'chat-9', maxTokens: 16 });
    expect(plan()).not.toHaveProperty('session');
  });

  it("takes session affinity (replica and slot) from the same pool into the plan and the job", () => {
    const p = plan(session(live({ affinity: { pool_id: 'p1', replica_id: 'r1', slot_id: 3 } })));
    expect(p.affinity).toEqual({ replica_id: 'r1', slot_id: 3 });
    expect(p.job.affinityReplicaId).toBe('r1');
    expect(plan(session(live({ affinity: { pool_id: 'p1', replica_id: 'r0' } }))).affinity).toEqual({ replica_id: 'r0' });
  });

  it('ignores affinity learned on another pool', () => {
    const p = plan(session(live({ affinity: { pool_id: 'other', replica_id: 'r1', slot_id: 3 } })));
    expect(p).not.toHaveProperty('affinity');
    expect(p.job.affinityReplicaId).toBeUndefined();
  });

  it.each<[string, Tweak[], boolean]>([
    ['an interactive newcomer to a full drop-lru queue with batch work', [queue({ size: 4, interactive: 3, batch: 1, policy: 'drop-lru' })], true],
    ['a batch newcomer to a full drop-lru queue with batch work', [queue({ size: 4, interactive: 3, batch: 1, policy: 'drop-lru' }), req({ priority: 'batch' })], true],
    ['an interactive newcomer to a drop-lru queue full of interactive work', [queue({ size: 4, interactive: 4, policy: 'drop-lru' })], true],
    ['a newcomer to a drop-lru queue with room', [queue({ size: 3, interactive: 3, policy: 'drop-lru' })], false],
    ['a newcomer to a reject queue with one place left', [queue({ size: 3, interactive: 3 })], false],
  ])('plans %s with evicts=%s', (_title, tweaks, evicts) => {
    expect(plan(...tweaks).evicts).toBe(evicts);
  });

  it('resolves an alias, and the engine among pools serving the same model', () => {
    expect(plan(req({ model: 'demo-alias' })).poolId).toBe('p1');
    const other: PoolSnapshot = { ...POOL, id: 'p2', engine: 'vllm', aliases: [] };
    const s = base();
    const chosen = admit({ ...s.snap, pools: [other, POOL] }, { ...REQUEST, engine: 'mock' });
    expect(chosen.ok && chosen.value.kind === 'admit' && chosen.value.plan.poolId).toBe('p1');
    const first = admit({ ...s.snap, pools: [other, POOL] }, REQUEST);
    expect(first.ok && first.value.kind === 'admit' && first.value.plan.poolId).toBe('p2');
  });

  it('changes nothing it reads', () => {
    const s = base();
    const snapshot: AdmissionSnapshot = { ...s.snap, pools: [POOL], session: live({ tokens: { limit: 100, used: 0 } }) };
    const frozen = structuredClone(snapshot);
    admit(snapshot, { ...REQUEST, session_id: 'chat', placement: { prefer: ['r1'] } });
    expect(snapshot).toEqual(frozen);
  });
});

// Issue 13 item 6: `fallback_on_no_capacity` admits into the first fallback with room.
describe('admit falls back at admission only for want of capacity', () => {
  const BACKUP: PoolSnapshot = { ...POOL, id: 'p2', model: 'other', aliases: [], engine: 'openai', deterministic: false };
  const THIRD: PoolSnapshot = { ...BACKUP, id: 'p3' };
  const primary = (over: Partial<PoolSnapshot>): PoolSnapshot => ({ ...POOL, fallbacks: ['p2', 'p3'], fallbackOnNoCapacity: true, ...over });
  const decide = (pools: PoolSnapshot[], over: Partial<AdmissionRequest> = {}) => admit({ ...base().snap, pools }, { ...REQUEST, ...over });
  const planOf = (result: ReturnType<typeof decide>) => (result.ok && result.value.kind === 'admit' ? result.value.plan : undefined);
  const rateLimited = { rateLimitedForMs: 3_000 };
  const fullQueue = { queue: { ...POOL.queue, size: 4, interactive: 4 } };

  it.each([
    ['a spent provider budget', rateLimited, 'RATE_LIMITED'],
    ['no ready replica', { unready: orchError('POOL_UNREADY', 'none', { pool_id: 'p1' }) }, 'POOL_UNREADY'],
    ['every replica overloaded', { unready: UNREADY }, 'REPLICA_EXHAUSTED'],
    ['a full queue', fullQueue, 'ADMISSION_REJECT'],
  ] as const)('admits into the first fallback after %s, naming the pool and the refusal', (_title, over, code) => {
    expect(planOf(decide([primary(over), BACKUP, THIRD]))).toMatchObject({ poolId: 'p2', fallbackFrom: { poolId: 'p1', code } });
  });

  it('skips a fallback without room, a draining one and a missing one, in order', () => {
    const plan = planOf(decide([primary({ ...rateLimited, fallbacks: ['ghost', 'p2', 'p3'] }), { ...BACKUP, ...fullQueue }, THIRD]));
    expect(plan).toMatchObject({ poolId: 'p3', fallbackFrom: { poolId: 'p1' } });
    expect(planOf(decide([primary(rateLimited), { ...BACKUP, draining: true }, THIRD]))?.poolId).toBe('p3');
  });

  it("answers the requested pool's refusal when no fallback has room", () => {
    const result = decide([primary(rateLimited), { ...BACKUP, ...rateLimited }, { ...THIRD, unready: UNREADY }]);
    expect(result.ok ? undefined : result.error).toMatchObject({ code: 'RATE_LIMITED', pool_id: 'p1' });
  });

  it('does not fall back without fallback_on_no_capacity, for a refusal that is not capacity, or with replica names', () => {
    expect(decide([primary({ ...rateLimited, fallbackOnNoCapacity: false }), BACKUP]).ok).toBe(false);
    expect(decide([primary({ ...rateLimited, draining: true }), BACKUP])).toMatchObject({ ok: false, error: { code: 'DRAINING' } });
    expect(decide([primary({}), BACKUP], { max_tokens: 600 })).toMatchObject({ ok: false, error: { code: 'INVALID_PARAMS', pool_id: 'p1' } });
    expect(decide([primary(rateLimited), BACKUP], { placement: { prefer: ['r0'] } })).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
    expect(planOf(decide([primary({}), BACKUP]))).not.toHaveProperty('fallbackFrom');
  });

  it("still runs every later step on the fallback (a seed on a non-deterministic fallback is refused, the primary's refusal answered)", () => {
    expect(decide([primary(rateLimited), BACKUP], { seed: 1 })).toMatchObject({ ok: false, error: { code: 'RATE_LIMITED' } });
  });
});

// ORCH-1210 ORCH-1211: step 7, between the deadline-free steps and the queue
describe('admit and tenant quotas', () => {
  const T0 = Date.UTC(2026, 0, 15, 10, 30, 12);
  const usage = (requests: number): QuotaUsage => ({ window: { startMs: windowStart(T0), requests, tokens: 0 }, inFlight: 0, queued: 0, sessions: { count: 0 } });
  /** A subject whose usage must not be read. */
  const unread = (subject: string, limits: QuotaLimits): QuotaSubject => ({
    subject,
    limits,
    get usage(): QuotaUsage {
      throw new Error(`usage of ${subject} read`);
    },
  });
  const quota = (...subjects: QuotaSubject[]): Tweak => snap({ quota: { now: T0, subjects } });
  const fullQueue = queue({ size: 4, interactive: 4 });

  it('reserves on every subject when admitting, from the window the usage was read in', () => {
    expect(plan(quota({ subject: 'tenant:a', limits: { requests_per_min: 5 }, usage: usage(4) }, { subject: 'key:k', limits: {}, usage: usage(0) })).quota).toEqual({
      subjects: [{ subject: 'tenant:a' }, { subject: 'key:k' }],
      windowStartMs: windowStart(T0),
      tokens: 16,
      budgetTokens: 18,
      budgetCost: 0,
    });
  });

  it('refuses a crossed limit before a full queue', () => {
    expect(refusal(fullQueue, quota({ subject: 'tenant:a', limits: { requests_per_min: 4 }, usage: usage(4) }))).toMatchObject({ code: 'RATE_LIMITED', limit: 'requests_per_min' });
  });

  it('reads no usage of a tenant without limits when a full queue refuses it (issue 14: the 429 path)', () => {
    expect(refusal(fullQueue, quota(unread('tenant:a', {})))).toMatchObject({ code: 'ADMISSION_REJECT', pool_id: 'p1' });
  });
});
