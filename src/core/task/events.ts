// The task event log's vocabulary (ARCHITECTURE §2). Every event a client can read over SSE
// is one of these, with a per-task `seq` that is also the SSE `id:`. Exactly one terminal
// event (`end` or `error`) ends every task.

import type { ErrorCode } from '../errors.ts';

export const TASK_STATES = ['queued', 'running', 'completed', 'canceled', 'failed', 'expired', 'evicted', 'abandoned'] as const;
export type TaskState = (typeof TASK_STATES)[number];
/** How a live task ends. `abandoned` is never one: only the audit says it, for a task a crash left open. */
export type TerminalState = Exclude<TaskState, 'queued' | 'running' | 'abandoned'>;

export type Priority = 'interactive' | 'batch';
export type FinishReason = 'stop' | 'length' | 'canceled';

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
export interface MetricsData {
  tokens_out: number;
  ttft_ms: number;
  tokens_per_s: number;
}
export interface EndData {
  tokens_out: number;
  decode_time_ms: number;
  finish_reason: FinishReason;
}
export interface ErrorData {
  code: ErrorCode;
  message: string;
  retriable: boolean;
  retry_after_ms?: number;
  engine?: string;
}

export type TaskEvent =
  | { seq: number; event: 'started'; data: StartedData }
  | { seq: number; event: 'token'; data: TokenData }
  | { seq: number; event: 'metrics'; data: MetricsData }
  | { seq: number; event: 'end'; data: EndData }
  | { seq: number; event: 'error'; data: ErrorData };

export type TaskEventName = TaskEvent['event'];
export const isTerminalEvent = (e: TaskEvent): boolean => e.event === 'end' || e.event === 'error';
