// The shapes a task is submitted, answered and ended with: the wire types the routes and the
// service pass around, apart from the Task class that holds them (re-exported by task.ts).

import type { OrchError } from '../core/errors.ts';
import type { FinishReason } from '../core/task/events.ts';
import type { TaskFigures } from '../core/task/figures.ts';
import type { TerminalState } from '../core/task/lifecycle.ts';
import type { ValidConversation } from '../core/chat/conversation.ts';
import type { Price } from '../core/pricing/cost.ts';
import type { components } from '../generated/api-types.ts';

/** A request that passed schema validation: the wire shape of POST /v1/tasks. */
export type TaskRequest = components['schemas']['TaskRequest'];
/**
 * What a front door submits: the task request, plus the normalized conversation when it came
 * through a chat dialect (its `prompt` is then the conversation's flat text, for accounting).
 */
export type TaskSubmission = TaskRequest & { chat?: ValidConversation };
/**
 * What a task keeps of its request for its whole life: everything but the prompt and the
 * conversation, which are held only while an engine call may still be built from them.
 */
export type TaskSpec = Omit<TaskSubmission, 'prompt' | 'chat'>;
export type TaskAccepted = components['schemas']['TaskAccepted'];
export type TaskStatus = components['schemas']['TaskStatus'];

/** How a task ends. */
export type Ending =
  | {
    state: 'completed';
    finishReason: Exclude<FinishReason, 'canceled'>;
    promptTokens?: number;
    cachedTokens?: number;
    slotId?: number;
    costUsd?: number;
    /** The stop string the engine says matched (CanonicalEndEvent.stopSequence). */
    stopSequence?: string;
  }
  | { state: 'canceled'; reason: string }
  | { state: Exclude<TerminalState, 'completed'>; error: OrchError; reason?: string };

/** What ending a task produced, for the service to settle sessions and tell observers. */
export interface Ended {
  state: TerminalState;
  /** The task was waiting in the queue (never running) when it ended. */
  wasQueued: boolean;
  figures: TaskFigures;
}

/** The tenant a task belongs to and the key id that submitted it (never the key). */
export interface TaskOwner {
  tenant: string;
  keyId: string;
}

/** The price found at admission for the pool's model (core/pricing findPrice). */
export interface TaskPrice {
  model: string;
  price: Price;
}

/** Input tokens as estimated at admission, replaced by what the engine reports at the end. */
export interface TaskUsage {
  promptTokens: number;
  cachedTokens?: number;
  costUsd?: number;
}
