// The port for engine slots counted outside this process (state.backend redis): the dispatcher
// pins a task holding one and moves it only through that count (cluster/claimed-slots.ts implements it).

import type { Pool } from '../pool/pool.ts';
import type { Replica } from '../pool/replica.ts';
import type { Task } from './task.ts';

/**
 * The engine replicas a moving task may take now, best first (read again at each try); undefined
 * once none of them could ever serve it (the move stops waiting).
 */
export type MoveCandidates = () => readonly string[] | undefined;

/**
 * Slots counted outside this process: a task holding one runs only on the engine replica its
 * slot is counted on, and moves (re-placement, fallback hop) only onto a slot taken there first.
 */
export interface SharedSlots {
  /** The engine replica `task`'s shared slot is counted on; undefined for a task without one. */
  engineOf(task: Task): string | undefined;
  /**
   * Gives back `task`'s slot on `failed` and takes one on the first candidate (an engine replica
   * of `to`) free everywhere, in one atomic step; with none free, keeps its slot and waits for
   * one, as a re-placed task waits in the retry list. The replica taken, or undefined: the
   * candidates cannot serve, the task ended, or the shared state failed (the slot stays where it was).
   */
  move(task: Task, failed: Replica, to: Pool<Task>, candidates: MoveCandidates): Promise<string | undefined>;
}
