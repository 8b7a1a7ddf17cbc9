// The queue position clients see (`queue_position`), bounded: exact up to EXACT_POSITION_CAP
// (a replay of both round robins, at most that many picks), beyond it an estimate from the lane
// sizes and weights that is never below the cap. FairQueue and the Redis admit script
// (src/state/redis/tenant-lanes-lua.ts, queue_position) compute the same numbers.

import type { Priority } from '../task/events.ts';

/**
 * Positions below this are exact; at or beyond it they are estimates. 256 picks bound the
 * replay at about the cost of a 256-task queue (docs/architecture.md, "Scale-out on Redis"),
 * and a task with 256 ahead waits many task durations, over which every arrival of another
 * tenant or of interactive work moves it anyway: exactness there would be false precision.
 */
export const EXACT_POSITION_CAP = 256;

/** What the estimate reads: sizes and weights only, never the running weights. */
export interface PositionEstimateInput {
  /** The task's class. */
  priority: Priority;
  /** The task's 1-based place in its own tenant's lane (k - 1 of its own tasks go first). */
  placeInLane: number;
  /** Its tenant's weight within the class. */
  tenantWeight: number;
  /** The class's other lanes: tasks queued and the tenant's weight. */
  otherLanes: Iterable<{ size: number; weight: number }>;
  /** Tasks queued in the other class. */
  otherClassSize: number;
  interactiveWeight: number;
  batchWeight: number;
}

/**
 * The fluid model of smooth weighted round robin: while both are served, a lane of weight w
 * hands out w/w_t tasks per task of the target's lane, so by the target's turn (its k-th task,
 * counted as k - 1/2 to centre the rounding) another lane has handed out min(its size,
 * (k - 1/2) × w / w_t); the other class likewise by the class weights. Integer arithmetic on
 * doubles with one division, so JavaScript and Lua give the same result. Never below the cap.
 */
export function estimatePosition(input: PositionEstimateInput): number {
  const { placeInLane: k, tenantWeight: wt } = input;
  let inClass = k - 1;
  for (const lane of input.otherLanes) inClass += Math.min(lane.size, Math.floor(((2 * k - 1) * lane.weight) / (2 * wt)));
  const [own, other] = input.priority === 'interactive' ? [input.interactiveWeight, input.batchWeight] : [input.batchWeight, input.interactiveWeight];
  const otherAhead = Math.min(input.otherClassSize, Math.floor(((2 * inClass + 1) * other) / (2 * own)));
  return Math.max(EXACT_POSITION_CAP, inClass + otherAhead);
}
