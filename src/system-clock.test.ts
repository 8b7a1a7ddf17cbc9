import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { COARSE_MIN_MS, COARSE_SLOT_MS, systemClock } from './system-clock.ts';

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

describe('systemClock.setCoarseTimer', () => {
  it('fires never before its time and at most 2 slots after; a refresh moves it, a cancel stops it', async () => {
    const ms = COARSE_MIN_MS;
    const start = performance.now();
    let firedAt: number | undefined;
    const timer = systemClock.setCoarseTimer?.(ms, () => (firedAt = performance.now()));
    await sleep(300);
    const refreshedAt = performance.now();
    timer?.refresh();
    await sleep(ms - 100);
    expect(firedAt).toBeUndefined();
    await sleep(2 * COARSE_SLOT_MS + 400);
    expect(firedAt).toBeDefined();
    expect((firedAt ?? 0) - refreshedAt).toBeGreaterThanOrEqual(ms);
    expect((firedAt ?? 0) - refreshedAt).toBeLessThan(ms + 2 * COARSE_SLOT_MS + 300);
    expect((firedAt ?? 0) - start).toBeGreaterThanOrEqual(ms + 300);
    let fired = 0;
    const cancelled = systemClock.setCoarseTimer?.(ms, () => fired++);
    cancelled?.refresh();
    cancelled?.cancel();
    await sleep(ms + 2 * COARSE_SLOT_MS + 100);
    expect(fired).toBe(0);
  }, 15_000);
});
