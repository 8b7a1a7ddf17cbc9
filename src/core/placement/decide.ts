// Placement as a pure, deterministic function (ARCHITECTURE §6): the same snapshot and job
// always give the same choice, with a decision log that says why. Filters first (eligibility),
// then capacity, then tie-breaks: session affinity, client preference, least loaded, measured
// speed, replica id.

export type ReplicaState = 'starting' | 'ready' | 'draining' | 'unready' | 'failed';
export type BreakerState = 'closed' | 'open' | 'half_open';

export interface ReplicaView {
  id: string;
  state: ReplicaState;
  breaker: BreakerState;
  slotsTotal: number;
  slotsBusy: number;
  ctxMax: number;
  /** false when the replica's engine version differs from the pool's pin. */
  versionOk: boolean;
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
  if (!r.versionOk) return 'engine version differs from the pool pin';
  if (job.promptTokens + job.maxTokens > r.ctxMax) return `ctx ${r.ctxMax} too small`;
  if (job.accelerator && r.accelerator !== job.accelerator) return `accelerator ${r.accelerator ?? 'unknown'}`;
  if (job.exclude?.includes(r.id)) return 'already tried for this task';
  return undefined;
}

function rank(a: ReplicaView, b: ReplicaView, job: PlacementJob): number {
  const affinity = (r: ReplicaView) => (r.id === job.affinityReplicaId ? 0 : 1);
  const preferred = (r: ReplicaView) => (job.prefer?.includes(r.id) ? 0 : 1);
  return (
    affinity(a) - affinity(b) ||
    preferred(a) - preferred(b) ||
    a.slotsBusy / a.slotsTotal - b.slotsBusy / b.slotsTotal ||
    (b.tokensPerS ?? 0) - (a.tokensPerS ?? 0) ||
    (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  );
}

export function decide(replicas: readonly ReplicaView[], job: PlacementJob): Decision {
  const log: string[] = [];
  let eligible: ReplicaView[] = [];
  for (const r of replicas) {
    const why = ineligibleBecause(r, job);
    if (why) log.push(`${r.id}: skip (${why})`);
    else eligible.push(r);
  }
  if (job.pin !== undefined) {
    const pinned = eligible.filter((r) => r.id === job.pin);
    if (pinned.length > 0 || !job.allowFallback) {
      log.push(`pin ${job.pin}${pinned.length ? '' : ' not eligible, no fallback allowed'}`);
      eligible = pinned;
    } else {
      log.push(`pin ${job.pin} not eligible, falling back (allow_fallback)`);
    }
  }
  if (job.avoid && job.avoid.length > 0) {
    const kept = eligible.filter((r) => !job.avoid?.includes(r.id));
    if (kept.length > 0 || !job.allowFallback) eligible = kept;
    else log.push('every eligible replica is avoided, falling back (allow_fallback)');
  }
  if (eligible.length === 0) return { kind: 'no_capacity', reason: 'none_eligible', log };
  const free = eligible.filter((r) => r.slotsBusy < r.slotsTotal);
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
  const idle = replicas.map((r) => ({ ...r, slotsBusy: 0 }));
  return decide(idle, job).kind === 'assigned';
}
