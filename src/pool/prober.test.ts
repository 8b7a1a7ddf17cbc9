import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { EngineHealth, WorkerAdapter } from '../adapters/contract.ts';
import { createMockAdapter } from '../adapters/mock/adapter.ts';
import type { Clock } from '../core/ports.ts';
import { systemClock } from '../system-clock.ts';
import { testConfig } from '../../test/support/gateway.ts';
import { dateTimerClock } from '../../test/support/fake-clock.ts';
import { startProber } from './prober.ts';
import { Replica } from './replica.ts';

/** A mock engine whose health answers are scripted, one per probe. */
function scripted(answers: Array<EngineHealth | Error>): WorkerAdapter {
  const base = createMockAdapter({ baseUrl: '', model: 'demo', timeouts: { connectMs: 1, firstByteMs: 1, idleMs: 1 }, options: {}, slots: 1, mock: {} });
  let i = 0;
  return {
    ...base,
    async health() {
      const next = answers[Math.min(i++, answers.length - 1)] as EngineHealth | Error;
      if (next instanceof Error) throw next;
      return next;
    },
  };
}

function replicaWith(adapter: WorkerAdapter, clock: Clock = systemClock) {
  const pool = testConfig().pools[0];
  if (!pool) throw new Error('test config has a pool');
  return new Replica({ pool, config: { id: 'r0' }, adapter, clock, defaultSlots: 1 });
}

/** Date.now is faked with the timers, so replica, breaker and prober share the fake time. */
const fakeClock = { now: () => Date.now(), monotonic: () => Date.now() };

const ok: EngineHealth = { live: true, ready: true };
const timeout = new Error('probe timed out');

describe('prober', () => {
  // ORCH-0501
  it('keeps a ready replica ready through fewer failed probes in a row than the tolerance', async () => {
    const replica = replicaWith(scripted([ok, timeout, timeout, ok, timeout, timeout, timeout]));
    const prober = startProber(replica, { intervalMs: 60_000, maxBackoffMs: 60_000, timeoutMs: 1_000, logger: pino({ level: 'silent' }), onChange: () => {}, clock: dateTimerClock(() => 0), failuresToLeaveReady: 3 });
    try {
      const states = [];
      for (let i = 0; i < 7; i++) states.push(await prober.probeNow());
      expect(states).toEqual(['ready', 'ready', 'ready', 'ready', 'ready', 'ready', 'failed']);
      expect(replica.lastError).toBe('probe timed out');
    } finally {
      prober.stop();
    }
  });

  it('believes an engine that says it is loading at once', async () => {
    const replica = replicaWith(scripted([ok, { live: true, ready: false, detail: 'loading' }]));
    const prober = startProber(replica, { intervalMs: 60_000, maxBackoffMs: 60_000, timeoutMs: 1_000, logger: pino({ level: 'silent' }), onChange: () => {}, clock: dateTimerClock(() => 0), failuresToLeaveReady: 3 });
    try {
      expect([await prober.probeNow(), await prober.probeNow()]).toEqual(['ready', 'unready']);
    } finally {
      prober.stop();
    }
  });

  it('never marks a replica that was never ready as failed: it is still starting', async () => {
    const replica = replicaWith(scripted([timeout]));
    const prober = startProber(replica, { intervalMs: 60_000, maxBackoffMs: 60_000, timeoutMs: 1_000, logger: pino({ level: 'silent' }), onChange: () => {}, clock: dateTimerClock(() => 0), failuresToLeaveReady: 3 });
    try {
      expect(await prober.probeNow()).toBe('starting');
    } finally {
      prober.stop();
    }
  });

  describe('probe pacing', () => {
    afterEach(() => {
      vi.useRealTimers();
    });

    /** The delays the prober schedules while its replica keeps failing, one per probe. */
    async function delaysWhileFailing(random: () => number, probes: number): Promise<number[]> {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
      const delays: number[] = [];
      const schedule = vi.spyOn(globalThis, 'setTimeout');
      const replica = replicaWith(scripted([timeout]));
      const prober = startProber(replica, { intervalMs: 100, maxBackoffMs: 1_000, timeoutMs: 1_000, logger: pino({ level: 'silent' }), onChange: () => {}, clock: dateTimerClock(() => 0), random });
      try {
        while (delays.length < probes) {
          await vi.waitFor(() => expect(schedule.mock.calls.length).toBeGreaterThan(delays.length));
          const delay = schedule.mock.calls[delays.length]?.[1] ?? Number.NaN;
          delays.push(delay);
          await vi.advanceTimersByTimeAsync(delay);
        }
        return delays;
      } finally {
        prober.stop();
      }
    }

    // ORCH-0501
    it('backs off exponentially with full jitter up to max_backoff_ms while the engine fails', async () => {
      // Ceilings after 1..6 failures: 200, 400, 800, 1000, 1000, 1000; a draw of 0.5 takes half.
      expect(await delaysWhileFailing(() => 0.5, 6)).toEqual([100, 200, 400, 500, 500, 500]);
    });

    it('never probes sooner than 10 ms after a failure, whatever the draw', async () => {
      expect(await delaysWhileFailing(() => 0, 3)).toEqual([10, 10, 10]);
    });

    // Issue 10 finding 8: confirmations used to back off with jitter (≈9 s at a 2 s interval).
    it('takes a dead idle engine out of ready within two probe intervals, even with the longest jitter', async () => {
      vi.useFakeTimers();
      const replica = replicaWith(scripted([ok, timeout]), fakeClock);
      const prober = startProber(replica, { intervalMs: 1_000, maxBackoffMs: 30_000, timeoutMs: 100, logger: pino({ level: 'silent' }), onChange: () => {}, clock: dateTimerClock(), failuresToLeaveReady: 3, random: () => 0.999 });
      try {
        await vi.advanceTimersByTimeAsync(0);
        expect(replica.state).toBe('ready');
        // The engine died just after that probe: the next one misses, two quick ones confirm.
        await vi.advanceTimersByTimeAsync(1_999);
        expect(replica.state).toBe('failed');
      } finally {
        prober.stop();
      }
    });

    it('probes as soon as an open breaker allows its trial, and a reachable engine closes it', async () => {
      vi.useFakeTimers();
      const replica = replicaWith(scripted([ok]), fakeClock);
      const changes: string[] = [];
      const prober = startProber(replica, { intervalMs: 60_000, maxBackoffMs: 60_000, timeoutMs: 100, logger: pino({ level: 'silent' }), onChange: (r) => changes.push(r.breaker.state(Date.now())), clock: dateTimerClock() });
      try {
        await vi.advanceTimersByTimeAsync(0);
        // Tasks open the breaker between probes; the next probe is re-timed to its half-open moment.
        for (let i = 0; i < 3; i++) replica.breaker.failure(Date.now());
        expect(replica.breaker.state(Date.now())).toBe('open');
        expect(replica.ready).toBe(false);
        await vi.advanceTimersByTimeAsync(replica.breaker.waitMs + 1);
        expect(replica.breaker.state(Date.now())).toBe('closed');
        expect(replica.ready).toBe(true);
        expect(changes).toContain('closed');
      } finally {
        prober.stop();
      }
    });
  });
});
