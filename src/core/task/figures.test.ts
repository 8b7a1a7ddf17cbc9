// The end-of-task figures from a task's monotonic timestamps: one table of task histories.
import { describe, expect, it } from 'vitest';
import { taskFigures, type TaskFigures, type TaskTimes } from './figures.ts';

describe('taskFigures', () => {
  it.each<[string, TaskTimes, TaskFigures]>([
    [
      'a task that ended in the queue, never placed',
      { createdMono: 100, finishedMono: 350, tokensOut: 0 },
      { queueWaitMs: 250, ttftMs: 0, decodeMs: 0, serviceMs: 0, e2eMs: 250, tokensPerS: 0 },
    ],
    [
      'a task placed that ended before its first token',
      { createdMono: 100, startedMono: 130, finishedMono: 600, tokensOut: 0 },
      { queueWaitMs: 30, ttftMs: 0, decodeMs: 0, serviceMs: 470, e2eMs: 500, tokensPerS: 0 },
    ],
    [
      'a task with one token (no speed: the first token belongs to TTFT)',
      { createdMono: 0, startedMono: 10, firstTokenMono: 60, finishedMono: 80, tokensOut: 1 },
      { queueWaitMs: 10, ttftMs: 50, decodeMs: 20, serviceMs: 70, e2eMs: 80, tokensPerS: 0 },
    ],
    [
      'a task with one token ending at the instant of that token',
      { createdMono: 0, startedMono: 10, firstTokenMono: 60, finishedMono: 60, tokensOut: 1 },
      { queueWaitMs: 10, ttftMs: 50, decodeMs: 0, serviceMs: 50, e2eMs: 60, tokensPerS: 0 },
    ],
    [
      'a task with many tokens (tokens after the first over the time after the first)',
      { createdMono: 1_000, startedMono: 1_200, firstTokenMono: 1_300, finishedMono: 3_300, tokensOut: 101 },
      { queueWaitMs: 200, ttftMs: 100, decodeMs: 2_000, serviceMs: 2_100, e2eMs: 2_300, tokensPerS: 50 },
    ],
    [
      'many tokens that all came in the same millisecond (no measurable time)',
      { createdMono: 0, startedMono: 5, firstTokenMono: 9, finishedMono: 9, tokensOut: 40 },
      { queueWaitMs: 5, ttftMs: 4, decodeMs: 0, serviceMs: 4, e2eMs: 9, tokensPerS: 0 },
    ],
    [
      // A requeued task keeps its first placement time (Task.place keeps startedMono with ??=),
      // so queue wait is admission → first placement, and the failed attempt counts as service.
      'a task requeued before its first token and served by its second placement',
      { createdMono: 0, startedMono: 40, firstTokenMono: 540, finishedMono: 1_540, tokensOut: 11 },
      { queueWaitMs: 40, ttftMs: 500, decodeMs: 1_000, serviceMs: 1_500, e2eMs: 1_540, tokensPerS: 10 },
    ],
  ])('figures %s', (_title, times, figures) => {
    expect(taskFigures(times)).toEqual(figures);
  });

  it('never reports a negative duration when timestamps arrive out of order', () => {
    const figures = taskFigures({ createdMono: 500, startedMono: 400, firstTokenMono: 300, finishedMono: 200, tokensOut: 3 });
    expect(figures).toEqual({ queueWaitMs: 0, ttftMs: 0, decodeMs: 0, serviceMs: 0, e2eMs: 0, tokensPerS: 0 });
  });

  it('counts e2e as queue wait plus service for a placed task', () => {
    const times: TaskTimes = { createdMono: 7, startedMono: 19, firstTokenMono: 23, finishedMono: 91, tokensOut: 5 };
    const f = taskFigures(times);
    expect(f.queueWaitMs + f.serviceMs).toBe(f.e2eMs);
    expect(f.ttftMs + f.decodeMs).toBe(f.serviceMs);
    expect(f.tokensPerS).toBeCloseTo((4 * 1000) / 68, 10);
  });
});
