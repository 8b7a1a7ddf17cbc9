// Health prober for one replica: health → props → state, on a timer with capped exponential
// backoff and full jitter while the engine is failing. A missed probe of a ready replica is
// confirmed within one interval, so a dead engine leaves `ready` within two probe intervals
// (plus probe timeouts); a probe that reaches the engine is a half-open breaker's trial
// (breaker.ts), run as soon as the breaker allows it. It is the only writer of a replica's
// state and discovered facts (version, ctx, slots); it calls `onChange` when capacity may
// have appeared so the dispatcher can pump (event-driven, never polled by requests). Whether
// the discovered version is acceptable is the pool's judgement (pool.ts), made at read time.

import type { Logger } from 'pino';
import { fullJitterMs } from '../core/backoff.ts';
import type { Timer, TimerClock } from '../core/ports.ts';
import type { ReplicaState } from '../core/placement/decide.ts';
import type { Replica } from './replica.ts';

export interface ProberOptions {
  intervalMs: number;
  maxBackoffMs: number;
  timeoutMs: number;
  logger: Logger;
  onChange: (replica: Replica) => void;
  /** Schedules the probes; its monotonic ms order first version reports and time the breaker. */
  clock: TimerClock;
  /**
   * Consecutive failed probes (timeouts, refused connections) before a ready replica leaves
   * `ready`. One slow probe on a busy machine says little while the replica streams fine; an
   * engine that answers "not ready" (loading) is believed at once. Default 1.
   */
  failuresToLeaveReady?: number;
  random?: () => number;
}

export interface Prober {
  probeNow(): Promise<ReplicaState>;
  stop(): void;
}

export function startProber(replica: Replica, opts: ProberOptions): Prober {
  const random = opts.random ?? Math.random;
  let failures = 0;
  /** Consecutive probes that could not reach a ready replica (see failuresToLeaveReady). */
  let misses = 0;
  const tolerance = Math.max(1, opts.failuresToLeaveReady ?? 1);
  let everReady = false;
  let timer: Timer | undefined;
  let stopped = false;
  let inFlight: Promise<ReplicaState> | undefined;

  async function probeOnce(): Promise<ReplicaState> {
    const before = replica.state;
    const versionBefore = replica.engineVersion;
    const breakerBefore = replica.breaker.state(opts.clock.monotonic());
    const signal = AbortSignal.timeout(opts.timeoutMs);
    try {
      const health = await replica.adapter.health(signal);
      if (!health.live) {
        unreachable(health.detail ?? 'engine not reachable');
      } else if (!health.ready) {
        setState('unready', health.detail ?? 'engine loading');
      } else {
        const props = await replica.adapter.props(signal);
        if (replica.engineVersion !== props.engineVersion) replica.versionSeq = opts.clock.monotonic();
        replica.engineVersion = props.engineVersion;
        replica.ctxMax = props.ctxMax;
        // The engine's own count (llama.cpp, TGI) or its adapter options (vLLM max_num_seqs,
        // Triton slots): either beats the registry default; the replica's `slots` beats both.
        if (replica.config.slots === undefined && props.slotsTotal > 0) {
          replica.slotsTotal = props.slotsTotal;
        }
        everReady = true;
        misses = 0;
        replica.breaker.probeSucceeded(opts.clock.monotonic());
        // A version mismatch is judged live against the pool (pin or peers), not frozen here.
        setState('ready', undefined);
      }
    } catch (err) {
      unreachable(err instanceof Error ? err.message : 'probe failed');
    }
    failures = replica.state === 'ready' && misses === 0 ? 0 : failures + 1;
    const breakerClosed = breakerBefore !== 'closed' && replica.breaker.state(opts.clock.monotonic()) === 'closed';
    if (replica.state !== before || replica.engineVersion !== versionBefore || breakerClosed) {
      const mismatch = replica.versionMismatch();
      opts.logger.info({ replica_id: replica.id, from: before, to: replica.state, last_error: mismatch ?? replica.lastError }, 'replica state');
      opts.onChange(replica);
    }
    return replica.state;
  }

  /** A probe that got no usable answer: tolerated a few times in a row while ready. */
  function unreachable(detail: string): void {
    misses++;
    if (replica.state === 'ready' && misses < tolerance) {
      opts.logger.warn({ replica_id: replica.id, misses, detail }, 'health probe failed; replica kept ready until it fails again');
      return;
    }
    setState(everReady ? 'failed' : 'starting', detail);
  }

  function setState(state: ReplicaState, error: string | undefined): void {
    replica.state = state;
    replica.lastError = error;
  }

  function nextDelayMs(): number {
    // A ready replica that missed a probe is checked again soon, without backoff: the
    // `tolerance` probes that take it out of `ready` all fit in one interval after the first miss.
    if (replica.state === 'ready' && misses > 0) return Math.max(10, Math.floor(opts.intervalMs / tolerance));
    if (failures === 0) {
      // An open breaker is tried (half-open) by the first probe after its wait, not up to an interval later.
      const openMs = replica.breakerOpenForMs;
      return openMs > 0 ? Math.min(opts.intervalMs, openMs + 1) : opts.intervalMs;
    }
    // After n failures in a row: full jitter under min(max_backoff_ms, interval_ms·2^n), at least 10 ms.
    return Math.max(10, fullJitterMs(failures, { baseMs: opts.intervalMs, capMs: opts.maxBackoffMs }, random));
  }

  function schedule(): void {
    if (stopped) return;
    timer = opts.clock.setTimer(nextDelayMs(), () => {
      timer = undefined;
      void probeNow().finally(schedule);
    });
  }

  // A breaker opened by task failures re-times the next probe to its half-open moment; a probe
  // in flight schedules the next one itself when it ends.
  replica.breaker.onOpen = () => {
    if (timer === undefined || stopped) return;
    timer.cancel();
    schedule();
  };

  function probeNow(): Promise<ReplicaState> {
    inFlight ??= probeOnce().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  void probeNow().finally(schedule);
  return {
    probeNow,
    stop() {
      stopped = true;
      replica.breaker.onOpen = undefined;
      timer?.cancel();
    },
  };
}
