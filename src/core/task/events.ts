// The task event log's vocabulary (ARCHITECTURE §2). Every event a client can read over SSE
// is one of these, with a per-task `seq` that is also the SSE `id:`. Exactly one terminal
// event (`end` or `error`) ends every task.

import type { ErrorData } from '../errors.ts';

export { TASK_STATES, type TaskState, type TerminalState } from './lifecycle.ts';
export type { ErrorData } from '../errors.ts';

export type Priority = 'interactive' | 'batch';
export type FinishReason = 'stop' | 'length' | 'canceled' | 'tool_calls' | 'content_filter';

export interface StartedData {
  pool_id: string;
  replica_id: string;
  engine: string;
  queue_wait_ms: number;
}
export interface TokenData {
  /** token text */
  t: string;
  /** 0-based token index */
  i: number;
}
/** One fragment of a tool call a chat answer is writing (one output token). */
export interface ToolCallData {
  index: number;
  id?: string;
  name?: string;
  arguments: string;
  /** 0-based output token index, shared with token events */
  i: number;
}
export interface MetricsData {
  tokens_out: number;
  ttft_ms: number;
  tokens_per_s: number;
}
export interface EndData {
  tokens_out: number;
  decode_time_ms: number;
  finish_reason: FinishReason;
  /** The request's stop sequence that ended the answer, when the engine said which (only with `stop`). */
  stop_sequence?: string;
}

export type TaskEvent =
  | { seq: number; event: 'started'; data: StartedData }
  | { seq: number; event: 'token'; data: TokenData }
  | { seq: number; event: 'tool_call'; data: ToolCallData }
  | { seq: number; event: 'metrics'; data: MetricsData }
  | { seq: number; event: 'end'; data: EndData }
  | { seq: number; event: 'error'; data: ErrorData };

export type TaskEventName = TaskEvent['event'];
export const isTerminalEvent = (e: TaskEvent): boolean => e.event === 'end' || e.event === 'error';

/** The data an event of kind `E` carries. */
export type EventDataOf<E extends TaskEventName> = Extract<TaskEvent, { event: E }>['data'];
