// Smooth weighted round robin (the nginx upstream algorithm) between the two priority classes.
// Pure arithmetic on a small state object; the queue decides which classes are non-empty.

import type { Priority } from '../task/events.ts';

/** Current (running) weights per class; the only state the algorithm keeps. */
export interface Turns {
  interactive: number;
  batch: number;
}

export interface ClassWeights {
  interactiveWeight: number;
  batchWeight: number;
}

/**
 * Picks the class whose turn it is and updates `current` in place. Only non-empty classes
 * take part, so an empty class neither gains credit nor blocks the other. With weights 3:1
 * and both classes busy the picks cycle I, I, B, I: every 4 picks, 3 interactive, 1 batch,
 * and batch waits at most ceil(3/1) interactive picks. Ties go to interactive.
 */
export function nextTurn(current: Turns, weights: ClassWeights, hasInteractive: boolean, hasBatch: boolean): Priority | undefined {
  const cls = peekTurn(current, weights, hasInteractive, hasBatch);
  if (cls === undefined || !hasInteractive || !hasBatch) return cls;
  current.interactive += weights.interactiveWeight;
  current.batch += weights.batchWeight;
  current[cls] -= weights.interactiveWeight + weights.batchWeight;
  return cls;
}

/** The class nextTurn would pick, without changing any state (allocation-free). */
export function peekTurn(current: Readonly<Turns>, weights: ClassWeights, hasInteractive: boolean, hasBatch: boolean): Priority | undefined {
  if (!hasInteractive && !hasBatch) return undefined;
  if (!hasBatch) return 'interactive';
  if (!hasInteractive) return 'batch';
  return current.interactive + weights.interactiveWeight >= current.batch + weights.batchWeight ? 'interactive' : 'batch';
}
