// How a task's end is derived, as pure helpers for Task.end: the closing events' data, the usage
// the engine reported, the stop string it may name, what the run cost, the engine call's abort reason.

import type { PoolConfig } from '../config/schema.ts';
import type { EndData, FinishReason, MetricsData } from '../core/task/events.ts';
import type { TaskFigures } from '../core/task/figures.ts';
import type { TerminalState } from '../core/task/lifecycle.ts';
import { taskCost, type TaskCost } from '../core/pricing/cost.ts';
import type { Ending, TaskPrice, TaskUsage } from './task-types.ts';

type Completed = Extract<Ending, { state: 'completed' }>;

/** Abort reasons handed to the engine call when a task ends before its stream does: one per state, never built per task. */
export const ABORT_REASONS: Readonly<Record<Exclude<TerminalState, 'completed'>, Error>> = {
  canceled: new Error('task canceled'),
  failed: new Error('task failed'),
  expired: new Error('task expired'),
  evicted: new Error('task evicted'),
};

/** The `metrics` event a task that streamed tokens closes with. */
export function metricsData(tokensOut: number, figures: TaskFigures): MetricsData {
  return {
    tokens_out: tokensOut,
    ttft_ms: Math.round(figures.ttftMs),
    tokens_per_s: Math.round(figures.tokensPerS * 10) / 10,
  };
}

/** The terminal `end` event: `stop_sequence` only when one is kept. */
export function endData(tokensOut: number, figures: TaskFigures, finishReason: FinishReason, stopSequence: string | undefined): EndData {
  const decodeMs = Math.round(figures.decodeMs);
  return stopSequence === undefined
    ? { tokens_out: tokensOut, decode_time_ms: decodeMs, finish_reason: finishReason }
    : { tokens_out: tokensOut, decode_time_ms: decodeMs, finish_reason: finishReason, stop_sequence: stopSequence };
}

/** The usage the engine reported at the end replaces what was estimated. */
export function takeReportedUsage(usage: TaskUsage, ending: Completed): void {
  if (ending.promptTokens !== undefined) usage.promptTokens = ending.promptTokens;
  if (ending.cachedTokens !== undefined) usage.cachedTokens = ending.cachedTokens;
  if (ending.costUsd !== undefined) usage.costUsd = ending.costUsd;
}

/**
 * The engine's matched stop string, kept only on a `stop` end and only when it is one the
 * request asked for: llama.cpp also stops on reverse prompts configured at the server, which
 * the client never sent and must not be told it did.
 */
export function requestedStop(ending: Completed, requested: readonly string[] | undefined): string | undefined {
  const matched = ending.stopSequence;
  if (matched === undefined || ending.finishReason !== 'stop') return undefined;
  return requested?.includes(matched) === true ? matched : undefined;
}

/** The cost of what ran: the usage as the engine reported it at the end, else as estimated and counted. */
export function ranCost(
  usage: TaskUsage,
  outputTokens: number,
  priced: { price: TaskPrice | undefined; pool: PoolConfig },
): TaskCost {
  const { promptTokens, cachedTokens, costUsd } = usage;
  const { price, pool } = priced;
  return taskCost({
    usage: {
      inputTokens: promptTokens,
      outputTokens,
      ...(cachedTokens !== undefined ? { cachedInputTokens: cachedTokens } : {}),
      ...(costUsd !== undefined ? { reportedUsd: costUsd } : {}),
    },
    price: price?.price,
    model: price?.model ?? pool.engine_model ?? pool.model,
    fallbackPer1kTokens: pool.cost_per_1k_tokens,
  });
}
