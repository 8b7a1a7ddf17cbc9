// The input of every dialect's frame writer and body builder (issue 11): a chat answer as a
// small, dialect-free sequence. The route adapts task-log events to it: a `token` event is
// `text`, an engine tool-call delta is `tool_call_delta`, the terminal `end` / `error` are
// `end` / `error`. Exactly one terminal item ends a sequence.

import { orchError, type OrchError } from '../errors.ts';
import type { ChatFinishReason } from './finish-reason.ts';
import type { Usage } from './usage.ts';

export type ChatOutputEvent =
  | { kind: 'text'; text: string }
  /**
   * One fragment of tool call number `index` (0-based, in the order the model began them).
   * `id` and `name` arrive with the call's first fragment and never change afterwards.
   */
  | { kind: 'tool_call_delta'; index: number; id?: string; name?: string; arguments: string }
  /** `stopSequence`: the request's stop string that ended a `stop` answer, when the engine named it. */
  | { kind: 'end'; finish: ChatFinishReason; usage: Usage; stopSequence?: string }
  | { kind: 'error'; error: OrchError };

/**
 * How a dialect renders `end{canceled}`: a canceled task has no answer, and neither dialect has
 * a finish reason for it, so its answer (or stream) ends with this error.
 */
export const CANCELED_OUTPUT_ERROR: OrchError = orchError('TASK_CANCELED', 'the task was canceled before it finished');
