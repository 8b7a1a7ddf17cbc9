// Serves one task's event log in a client dialect (OpenAI, Anthropic): task events become the
// dialect-free chat output (core/chat/output-event.ts), which a dialect's frame writer renders.
// These clients cannot resume, so a client that goes away before the terminal event cancels
// the task (ORCH-1104), which aborts the engine call.

import type { ServerResponse } from 'node:http';
import { ChatAnswerBuilder, type AnswerOutcome } from '../../core/chat/answer.ts';
import type { ChatOutputEvent } from '../../core/chat/output-event.ts';
import { orchError } from '../../core/errors.ts';
import type { LifecycleObserver } from '../../core/observer.ts';
import type { TaskEvent } from '../../core/task/events.ts';
import type { StreamedTask } from '../../orchestration/streamed-task.ts';
import { streamTaskLog } from '../sse-writer.ts';

/** A dialect's streaming renderer. */
export interface FrameWriter {
  /** Frames sent before any event (OpenAI's role chunk, Anthropic's message_start). */
  start(): string;
  write(event: ChatOutputEvent): string;
  /** Sent while the task is idle (queued, or the engine is thinking). */
  heartbeat(): string;
}

/** The chat output item for a task event; undefined for events a dialect does not show. */
export function outputOf(event: TaskEvent, task: StreamedTask): ChatOutputEvent | undefined {
  switch (event.event) {
    case 'token':
      return { kind: 'text', text: event.data.t };
    case 'tool_call': {
      const d = event.data;
      return { kind: 'tool_call_delta', index: d.index, ...(d.id !== undefined ? { id: d.id } : {}), ...(d.name !== undefined ? { name: d.name } : {}), arguments: d.arguments };
    }
    case 'end': {
      const usage = task.usage;
      return {
        kind: 'end',
        finish: event.data.finish_reason,
        usage: { inputTokens: usage.promptTokens, outputTokens: event.data.tokens_out, ...(usage.cachedTokens !== undefined ? { cachedInputTokens: usage.cachedTokens } : {}) },
        ...(event.data.stop_sequence !== undefined ? { stopSequence: event.data.stop_sequence } : {}),
      };
    }
    case 'error': {
      const e = event.data;
      return { kind: 'error', error: orchError(e.code, e.message, { ...(e.retry_after_ms !== undefined ? { retry_after_ms: e.retry_after_ms } : {}), ...(e.engine !== undefined ? { engine: e.engine } : {}) }) };
    }
    default:
      return undefined;
  }
}

export interface DialectStreamOptions {
  heartbeatMs: number;
  correlationId: string;
  observer: LifecycleObserver;
  /** Cancels the task: the client went away before its end. */
  cancel: () => void;
}

/** Streams the task as the dialect's SSE frames, through the same loop as /v1/tasks streams. */
export function streamInDialect(res: ServerResponse, task: StreamedTask, writer: FrameWriter, opts: DialectStreamOptions): void {
  streamTaskLog(res, task, 0, opts, {
    preamble: writer.start(),
    heartbeat: () => writer.heartbeat(),
    render: (_frame, event) => {
      const item = outputOf(event, task);
      return item === undefined ? '' : writer.write(item);
    },
    onClientGone: opts.cancel,
  });
}

/**
 * The task's whole answer once it ends (non-streaming calls). If the client goes away first
 * (`res` closes unfinished), the task is canceled and the promise resolves `canceled`.
 */
export function answerOf(task: StreamedTask, res: ServerResponse, cancel: () => void): Promise<AnswerOutcome> {
  return new Promise((resolve) => {
    const builder = new ChatAnswerBuilder();
    const onClose = () => {
      if (!res.writableFinished && !task.finished) cancel();
    };
    const settle = () => {
      const outcome = builder.result();
      if (outcome === undefined) return false;
      res.off('close', onClose);
      resolve(outcome);
      return true;
    };
    res.on('close', onClose);
    // A finished log replays synchronously and registers nothing; a live one is followed to
    // its terminal event, after which the log drops its listeners itself.
    task.log.follow(0, (_frame, event) => {
      const item = outputOf(event, task);
      if (item === undefined || builder.result() !== undefined) return;
      builder.push(item);
      settle();
    });
  });
}
