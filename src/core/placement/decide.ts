// Placement as a pure, deterministic function (ARCHITECTURE §6): the same snapshot and job
// always give the same choice, with a decision log that says why. Filters first (eligibility,
// client overrides), then capacity, then tie-breaks: client wishes (prefer in order; pin and
// avoid when they only rank), session affinity, least loaded, measured speed, replica id.

export type ReplicaState = 'starting' | 'ready' | 'draining' | 'unready' | 'failed';
export type BreakerState = 'closed' | 'open' | 'half_open';

export interface ReplicaView {
  id: string;
  state: ReplicaState;
  breaker: BreakerState;
  slotsTotal: number;
  slotsBusy: number;
  ctxMax: number;
  /** false when the replica's engine version differs from the pool's pin (or its peers'). */
  versionOk: boolean;
  /** The engine answered "overloaded": kept out until its retry-after has passed. */
  exhausted?: boolean;
  accelerator?: 'nvidia' | 'cpu';
  /** Measured decode speed; undefined until observed. */
  tokensPerS?: number;
}

export interface PlacementJob {
  promptTokens: number;
  maxTokens: number;
  affinityReplicaId?: string;
  pin?: string;
  prefer?: readonly string[];
  avoid?: readonly string[];
  allowFallback: boolean;
  accelerator?: 'nvidia' | 'cpu';
  /** Replicas already tried for this task (re-placement after a failure). */
  exclude?: readonly string[];
}

export type Decision =
  | { kind: 'assigned'; replicaId: string; log: string[] }
  | { kind: 'no_capacity'; reason: 'busy' | 'none_eligible'; log: string[] };

function ineligibleBecause(r: ReplicaView, job: PlacementJob): string | undefined {
  if (r.state !== 'ready') return `state ${r.state}`;
  if (r.breaker === 'open') return 'breaker open';
  if (!r.versionOk) return "engine version differs from the pool's expected version";
  if (r.exhausted) return 'engine overloaded, backing off';
  if (job.promptTokens + job.maxTokens > r.ctxMax) return `ctx ${r.ctxMax} too small`;
  if (job.accelerator && r.accelerator !== job.accelerator) return `accelerator ${r.accelerator ?? 'unknown'}`;
  if (job.exclude?.includes(r.id)) return 'already tried for this task';
  return undefined;
}

/** 0 for the replica the client asked for; larger the less it is wanted. */
function wanted(r: ReplicaView, job: PlacementJob): number {
  const preferred = job.prefer?.length ?? 0;
  if (job.pin !== undefined && r.id === job.pin) return 0;
  if (job.avoid?.includes(r.id)) return preferred + 2;
  const at = job.prefer?.indexOf(r.id) ?? -1;
  return at >= 0 ? at + 1 : preferred + 1;
}

function rank(a: ReplicaView, b: ReplicaView, job: PlacementJob): number {
  const affinity = (r: ReplicaView) => (r.id === job.affinityReplicaId ? 0 : 1);
  return (
    wanted(a, job) - wanted(b, job) ||
    affinity(a) - affinity(b) ||
    a.slotsBusy / a.slotsTotal - b.slotsBusy / b.slotsTotal ||
    (b.tokensPerS ?? 0) - (a.tokensPerS ?? 0) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

/**
 * Without `allow_fallback`, `pin` restricts to one replica and `avoid` excludes: there is never
 * a silent fallback. With it, both only rank (the pinned replica first, avoided ones last).
 */
function applyOverrides(eligible: ReplicaView[], job: PlacementJob, log: string[]): ReplicaView[] {
  if (job.allowFallback) {
    if (job.pin !== undefined && !eligible.some((r) => r.id === job.pin)) log.push(`pin ${job.pin} not eligible, falling back (allow_fallback)`);
    return eligible;
  }
  let kept = eligible;
  if (job.pin !== undefined) {
    kept = kept.filter((r) => r.id === job.pin);
    log.push(`pin ${job.pin}${kept.length > 0 ? '' : ' not eligible, no fallback allowed'}`);
  }
  if (job.avoid !== undefined && job.avoid.length > 0) {
    const before = kept.length;
    kept = kept.filter((r) => !job.avoid?.includes(r.id));
    if (kept.length < before) log.push(`avoid ${job.avoid.join(',')}`);
  }
  return kept;
}

export function decide(replicas: readonly ReplicaView[], job: PlacementJob): Decision {
  const log: string[] = [];
  const eligible: ReplicaView[] = [];
  for (const r of replicas) {
    const why = ineligibleBecause(r, job);
    if (why) log.push(`${r.id}: skip (${why})`);
    else eligible.push(r);
  }
  const kept = applyOverrides(eligible, job, log);
  if (kept.length === 0) return { kind: 'no_capacity', reason: 'none_eligible', log };
  const free = kept.filter((r) => r.slotsBusy < r.slotsTotal);
  if (free.length === 0) {
    log.push('all eligible replicas busy');
    return { kind: 'no_capacity', reason: 'busy', log };
  }
  free.sort((a, b) => rank(a, b, job));
  const chosen = free[0] as ReplicaView;
  log.push(`chose ${chosen.id} (${chosen.slotsBusy}/${chosen.slotsTotal} busy${chosen.id === job.affinityReplicaId ? ', session affinity' : ''})`);
  return { kind: 'assigned', replicaId: chosen.id, log };
}

/** Could this job ever be placed on this pool (ignoring current load)? Used by admission. */
export function everPlaceable(replicas: readonly ReplicaView[], job: PlacementJob): boolean {
  // What `decide` would answer with every replica idle, without its copies and log strings.
  return replicas.some((r) => r.slotsTotal > 0 && ineligibleBecause(r, job) === undefined && keptByOverrides(r, job));
}

/** `applyOverrides` for one replica: does it survive pin and avoid? */
function keptByOverrides(r: ReplicaView, job: PlacementJob): boolean {
  if (job.allowFallback) return true;
  if (job.pin !== undefined && r.id !== job.pin) return false;
  return !job.avoid?.includes(r.id);
}

/**
 * Every replica `decide` could choose now, best first. A shared slot count (state.backend redis)
 * takes the first of these whose engine has a slot free cluster-wide, atomically.
 */
export function choices(replicas: readonly ReplicaView[], job: PlacementJob): string[] {
  const eligible = replicas.filter((r) => ineligibleBecause(r, job) === undefined);
  const free = applyOverrides(eligible, job, []).filter((r) => r.slotsBusy < r.slotsTotal);
  return free.sort((a, b) => rank(a, b, job)).map((r) => r.id);
}
