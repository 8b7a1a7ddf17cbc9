import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { TimerWheel, type WheelEntry } from './timer-wheel.ts';

/** An entry that records when it fired. */
function entry(dueInMs: number, fired: number[], wheel: TimerWheel): WheelEntry {
  const e: WheelEntry = {
    wheelDue: performance.now() + dueInMs,
    wheelSlot: 0,
    wheelPrev: undefined,
    wheelNext: undefined,
    wheelExpire: () => void fired.push(performance.now() - e.wheelDue),
  };
  wheel.add(e);
  return e;
}

describe('TimerWheel', () => {
  it('fires every entry at or after its due time, within two slot widths', async () => {
    const wheel = new TimerWheel(20);
    const fired: number[] = [];
    for (const ms of [5, 30, 30, 47, 90]) entry(ms, fired, wheel);
    await sleep(250);
    expect(fired).toHaveLength(5);
    for (const late of fired) {
      expect(late).toBeGreaterThanOrEqual(0);
      // Two widths, plus room for a busy test machine's event loop.
      expect(late).toBeLessThan(40 + 100);
    }
  });

  it('a removed entry never fires; the others in its slot still do', async () => {
    const wheel = new TimerWheel(20);
    const fired: number[] = [];
    const a = entry(30, fired, wheel);
    entry(30, fired, wheel);
    const c = entry(30, fired, wheel);
    wheel.remove(a);
    wheel.remove(c);
    await sleep(150);
    expect(fired).toHaveLength(1);
  });
});
