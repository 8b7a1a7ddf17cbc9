// The end-of-task figures, computed in one place from a task's monotonic timestamps: the
// `metrics` event, the terminal lifecycle fact, the pool's service statistics and the replica's
// measured speed all read these, so they can never disagree.

export interface TaskTimes {
  createdMono: number;
  startedMono?: number;
  firstTokenMono?: number;
  finishedMono: number;
  tokensOut: number;
}

export interface TaskFigures {
  /** Admission to the first placement (a requeue keeps it), or to the end for a task never placed. */
  queueWaitMs: number;
  /** Placement to the first token; 0 without tokens. */
  ttftMs: number;
  /** First token to the end; 0 without tokens. */
  decodeMs: number;
  /** Placement to the end; 0 for a task never placed. */
  serviceMs: number;
  e2eMs: number;
  /**
   * Decode speed: tokens after the first over the time since the first (the first token's time
   * belongs to TTFT). 0 with fewer than two tokens or no measurable time.
   */
  tokensPerS: number;
}

export function taskFigures(t: TaskTimes): TaskFigures {
  const started = t.startedMono ?? t.finishedMono;
  const decodeMs = t.firstTokenMono === undefined ? 0 : Math.max(0, t.finishedMono - t.firstTokenMono);
  return {
    queueWaitMs: Math.max(0, started - t.createdMono),
    ttftMs: t.firstTokenMono === undefined || t.startedMono === undefined ? 0 : Math.max(0, t.firstTokenMono - t.startedMono),
    decodeMs,
    serviceMs: t.startedMono === undefined ? 0 : Math.max(0, t.finishedMono - t.startedMono),
    e2eMs: Math.max(0, t.finishedMono - t.createdMono),
    tokensPerS: decodeMs > 0 && t.tokensOut > 1 ? ((t.tokensOut - 1) * 1000) / decodeMs : 0,
  };
}
