// Closed-loop load: N workers each run one stream after another. A warm-up phase is not
// counted; figures cover a fixed measurement window; after it no new stream starts and the
// ones in flight get a bounded grace period before they are aborted. Everything stops by itself.

import { setTimeout as sleep } from 'node:timers/promises';
import type { StreamOutcome, TokenHook } from './stream-client.ts';
import type { CpuMeter } from './processes.ts';
import { SampleSet, type Summary } from './stats.ts';

export interface LoadPlan {
  concurrency: number;
  warmupMs: number;
  measureMs: number;
  /** Hard cap on streams started, whatever the clock says. */
  maxStreams: number;
  /** After the window, in-flight streams get this long before they are aborted. */
  graceMs: number;
}

export interface CpuProbe {
  meter: CpuMeter;
  pids: Record<string, number | 'self'>;
}

export interface WindowResult {
  measureS: number;
  /** Streams that ended inside the window with every token they asked for. */
  streamsFull: number;
  /** Streams that ended inside the window any other way (by reason). */
  streamsOther: Record<string, number>;
  /** Tokens that arrived inside the window. */
  tokens: number;
  streamsPerS: number;
  tokensPerS: number;
  /** TTFT of streams that started inside the window (ms). */
  ttftMs: Summary;
  /** Gaps between consecutive tokens of one stream, both inside the window (ms). */
  gapMs: Summary;
  /** CPU ms each probed process used during the window. */
  cpuMs: Record<string, number>;
  /** Streams still running when the window closed that had to be aborted after the grace period. */
  abortedAfterGrace: number;
}

/** Runs one stream; must honour the signal and call onToken for every token. */
export type StreamRunner = (signal: AbortSignal, onToken: TokenHook) => Promise<StreamOutcome>;
/** Classifies an outcome: undefined = full stream, else a short reason. */
export type Judge = (outcome: StreamOutcome) => string | undefined;

export async function runClosedLoop(plan: LoadPlan, run: StreamRunner, judge: Judge, cpu?: CpuProbe): Promise<WindowResult> {
  const abort = new AbortController();
  const begin = performance.now();
  const t0 = begin + plan.warmupMs;
  const t1 = t0 + plan.measureMs;
  const ttft = new SampleSet(200_000);
  const gaps = new SampleSet(500_000);
  const other: Record<string, number> = {};
  let started = 0;
  let full = 0;
  let tokens = 0;
  let stopping = false;
  let inFlight = 0;
  let cpuStart: Record<string, number> = {};
  let cpuEnd: Record<string, number> = {};

  const startTimer = setTimeout(() => {
    if (cpu) cpuStart = cpu.meter.snapshot(cpu.pids);
  }, plan.warmupMs);
  const endTimer = setTimeout(() => {
    if (cpu) cpuEnd = cpu.meter.snapshot(cpu.pids);
    stopping = true;
  }, plan.warmupMs + plan.measureMs);
  let abortedAfterGrace = 0;
  const graceTimer = setTimeout(() => {
    abortedAfterGrace = inFlight;
    abort.abort(new Error('bench grace period over'));
  }, plan.warmupMs + plan.measureMs + plan.graceMs);

  // Workers start spread over the first half of the warm-up so stream ends do not arrive in lockstep waves.
  const staggerMs = plan.warmupMs / 2 / Math.max(1, plan.concurrency);
  const worker = async (_: unknown, index: number): Promise<void> => {
    if (index > 0 && staggerMs > 0) await sleep(index * staggerMs);
    while (!stopping && started < plan.maxStreams) {
      started++;
      inFlight++;
      const startedAt = performance.now();
      let last = -1;
      const onToken: TokenHook = (now) => {
        if (now >= t0 && now < t1) {
          tokens++;
          if (last >= t0) gaps.add(now - last);
        }
        last = now;
      };
      const outcome = await run(abort.signal, onToken);
      inFlight--;
      const endedAt = performance.now();
      if (endedAt < t0 || endedAt >= t1) continue;
      if (startedAt >= t0 && Number.isFinite(outcome.ttftMs)) ttft.add(outcome.ttftMs);
      const reason = judge(outcome);
      if (reason === undefined) full++;
      else other[reason] = (other[reason] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: plan.concurrency }, worker));
  clearTimeout(startTimer);
  clearTimeout(endTimer);
  clearTimeout(graceTimer);
  // The stream cap ended the run early: the window is what actually elapsed.
  const cappedEarly = !stopping;
  if (cappedEarly && cpu) cpuEnd = cpu.meter.snapshot(cpu.pids);
  const measureS = cappedEarly ? Math.max(0.001, performance.now() - t0) / 1000 : plan.measureMs / 1000;
  const cpuMs: Record<string, number> = {};
  for (const key of Object.keys(cpuEnd)) cpuMs[key] = (cpuEnd[key] ?? 0) - (cpuStart[key] ?? 0);
  return {
    measureS,
    streamsFull: full,
    streamsOther: other,
    tokens,
    streamsPerS: full / measureS,
    tokensPerS: tokens / measureS,
    ttftMs: ttft.summary(),
    gapMs: gaps.summary(),
    cpuMs,
    abortedAfterGrace,
  };
}
