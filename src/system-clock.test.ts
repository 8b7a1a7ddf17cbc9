import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { systemClock } from './system-clock.ts';

describe('systemClock.setTimer', () => {
  it('a refresh moves the deadline: the timer fires ms after the last refresh, never before', async () => {
    const start = performance.now();
    let firedAt: number | undefined;
    const timer = systemClock.setTimer(60, () => (firedAt = performance.now()));
    await sleep(40);
    const refreshedAt = performance.now();
    timer.refresh();
    await sleep(45);
    expect(firedAt).toBeUndefined();
    await sleep(200);
    expect(firedAt).toBeDefined();
    expect((firedAt ?? 0) - refreshedAt).toBeGreaterThanOrEqual(59);
    expect((firedAt ?? 0) - start).toBeGreaterThanOrEqual(99);
  });

  it('a refresh after the timer fired arms it again; a cancel after a refresh stops it', async () => {
    let fired = 0;
    const timer = systemClock.setTimer(20, () => fired++);
    await sleep(60);
    expect(fired).toBe(1);
    timer.refresh();
    await sleep(60);
    expect(fired).toBe(2);
    timer.refresh();
    timer.cancel();
    await sleep(60);
    expect(fired).toBe(2);
  });
});
