// Which engine replicas a queued task should run on, best first, for a claim that picks the
// engine after it has picked the task (state.backend redis): decide's tie-break order
// (the client's pin and prefer, then session affinity), plus the replicas it ranks last (avoid),
// and, without allow_fallback, what decide's filters make hard (the pin alone, never an avoided one).

import type { PlacementJob } from './decide.ts';

export interface ClaimPreference {
  /** Engine replicas to take when one has a free slot, in this order. */
  prefer: string[];
  /** Engine replicas to take only when no other candidate has a free slot. */
  avoid: string[];
  /** A pin without allow_fallback: the only replica the task may run on; it stays queued while that one has no free slot. */
  only?: string;
  /** An avoid list without allow_fallback: those replicas never take the task; it stays queued instead. */
  avoidStrictly?: true;
}

/** Undefined when the job states no preference (the claim then takes the first free candidate). */
export function claimPreference(job: PlacementJob): ClaimPreference | undefined {
  const avoid = [...(job.avoid ?? [])];
  const wanted = [job.pin, ...(job.prefer ?? []), job.affinityReplicaId].filter((id): id is string => id !== undefined);
  const prefer = [...new Set(wanted)].filter((id) => id === job.pin || !avoid.includes(id));
  if (prefer.length === 0 && avoid.length === 0) return undefined;
  return {
    prefer,
    avoid,
    ...(job.pin !== undefined && !job.allowFallback ? { only: job.pin } : {}),
    ...(avoid.length > 0 && !job.allowFallback ? { avoidStrictly: true as const } : {}),
  };
}
