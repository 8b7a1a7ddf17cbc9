// A caller's quota standing read from Redis (state.backend redis): the per-subject counters the
// admit, claim and release scripts keep, and its tenant's sessions, in one read-only script at
// Redis server time, as core's QuotaStanding. It reserves nothing: the scripts check atomically.

import type { Redis } from 'ioredis';
import { periodBounds, windowStart, type QuotaLimits } from '../../core/tenancy/limits.ts';
import type { Principal } from '../../core/tenancy/principal.ts';
import type { QuotaStanding, QuotaUsage } from '../../core/tenancy/quota.ts';
import { unavailable } from '../state-errors.ts';
import type { StateKeys } from './keys.ts';
import { defineScript, type Script } from './script.ts';

/**
 * KEYS: the subjects' quota hashes, then the owner's session set. Returns {now, HGETALL per
 * subject..., {sessions, soonest expiry or ''}}; a session counts while its score (its expiry,
 * or an admission's hold backstop while it is being created) is after now.
 */
const STANDING = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = { now }
for i = 1, #KEYS - 1 do out[#out + 1] = redis.call('HGETALL', KEYS[i]) end
local owned = KEYS[#KEYS]
local first = redis.call('ZRANGEBYSCORE', owned, '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
out[#out + 1] = { redis.call('ZCOUNT', owned, '(' .. now, '+inf'), first[2] or '' }
return out
`;

type Owner = Pick<Principal, 'tenant' | 'keyId'>;

export interface RedisQuotaStandingOptions {
  redis: Redis;
  keys: StateKeys;
  /** The caller's subjects with their limits, in the quota's order (TenantDirectory.subjectsOf). */
  subjectsOf(owner: Owner): readonly { subject: string; limits: QuotaLimits }[];
}

export class RedisQuotaStanding {
  readonly #keys: StateKeys;
  readonly #read: Script;
  readonly #subjectsOf: RedisQuotaStandingOptions['subjectsOf'];

  constructor(opts: RedisQuotaStandingOptions) {
    this.#keys = opts.keys;
    this.#subjectsOf = opts.subjectsOf;
    this.#read = defineScript(opts.redis, 'orchqueueQuotaStanding', undefined, STANDING);
  }

  /**
   * Every subject's standing now, cluster-wide. Sessions are counted per tenant (a key's own
   * cap counts its tenant's sessions, as QuotaGate does), including those admissions are creating.
   */
  async standing(owner: Owner): Promise<QuotaStanding> {
    const subjects = this.#subjectsOf(owner);
    const keys = [...subjects.map((s) => this.#keys.quota(s.subject)), this.#keys.ownedSessions(owner.tenant)];
    let reply: unknown[];
    try {
      reply = (await this.#read(keys, [])) as unknown[];
    } catch (error) {
      throw unavailable('quota standing', error);
    }
    const now = Number(reply[0]);
    const [count, next] = reply[subjects.length + 1] as [number, string];
    const sessions = next === '' ? { count: Number(count) } : { count: Number(count), nextExpiryMs: Number(next) };
    return {
      now,
      subjects: subjects.map(({ subject, limits }, i) => ({ subject, limits, usage: usageOf(reply[i + 1] as string[], now, limits, sessions) })),
    };
  }
}

/** A subject's hash (HGETALL's flat list; fields as in admission-scripts.ts) as core's QuotaUsage. */
function usageOf(flat: readonly string[], now: number, limits: QuotaLimits, sessions: QuotaUsage['sessions']): QuotaUsage {
  const h = new Map<string, string>();
  for (let i = 0; i + 1 < flat.length; i += 2) h.set(flat[i] as string, flat[i + 1] as string);
  const n = (field: string) => Number(h.get(field) ?? 0);
  const startMs = windowStart(now);
  // The scripts restart the window lazily: counts of an older window are no longer current.
  const current = n('ws') === startMs;
  const usage: QuotaUsage = {
    window: { startMs, requests: current ? n('wr') : 0, tokens: current ? n('wt') : 0 },
    inFlight: n('inflight'),
    queued: n('queued'),
    sessions: { ...sessions },
  };
  if (limits.budget === undefined) return usage;
  const bounds = periodBounds(limits.budget.period, now);
  return { ...usage, period: { ...bounds, tokens: n(`pt:${bounds.startMs}`), cost: n(`pc:${bounds.startMs}`) } };
}
