// What a front door needs of an admitted task to serve it: its id, owner, event log and the
// reader bookkeeping. A local `Task` is one; with the redis state backend a task another
// replica runs is served through `RemoteTask` (cluster/remote-task.ts), which follows the
// task's Redis stream, so the SSE writer and the dialect renderers never know which it is.

import type { ChatCapabilities } from '../core/chat/conversation.ts';
import type { Result } from '../core/errors.ts';
import type { EventLog, LogListener } from '../core/state-ports.ts';
import type { Task, TaskAccepted, TaskOwner, TaskStatus, TaskSubmission } from './task.ts';

export interface StreamedTask {
  readonly id: string;
  readonly tenant: string;
  /** Wall-clock ms of the admission. */
  readonly createdAt: number;
  readonly log: Pick<EventLog, 'lastSeq' | 'terminal'> & {
    /**
     * As EventLog.follow; `onGone` hears that the events can no longer be delivered (a remote
     * task's stream follower failed): the reader ends its response and the client resumes with
     * its last id. A local log never calls it.
     */
    follow(afterSeq: number, listener: LogListener, onGone?: () => void): () => void;
  };
  readonly finished: boolean;
  /** Input tokens (as reported at the end, else estimated) and output tokens so far. */
  readonly usage: { promptTokens: number; cachedTokens?: number; outputTokens: number };
  streamAttached(): void;
  streamDetached(): void;
}

/** An admitted task as a front door serves it: the local task, or (redis backend) one another replica runs. */
export type Served = { task: StreamedTask; answer: TaskAccepted; replay: boolean };

/**
 * What the task routes and the dialect front doors call. `TaskService` is one (memory
 * backend); with the redis backend the composition hands them the cluster's desk, whose
 * submit may answer with a task another replica runs.
 */
export interface TaskDesk {
  submit(req: TaskSubmission, correlationId: string, owner?: TaskOwner): Promise<Result<Served>>;
  /** A visible task held by this replica, or undefined. */
  get(id: string): Task | undefined;
  cancel(id: string, reason?: string): { task: Task; canceled: boolean } | undefined;
  chatCapabilities(model: string): Result<ChatCapabilities>;
  /** Tasks other replicas hold (redis backend only; absent: every task is local). */
  readonly remote?: RemoteTasks;
}

/** Tasks held by other replicas, found through the shared task registry. */
export interface RemoteTasks {
  /** The task wherever it is, for reading its stream; undefined when no replica knows it (STATE_UNAVAILABLE when Redis is gone). */
  locate(id: string): Promise<Result<RemoteTaskHandle | undefined>>;
  /** Cancels the task on the replica that owns it; resolves after that replica acked. Undefined when unknown. */
  cancel(id: string, reason: string): Promise<Result<RemoteCancel | undefined>>;
}

export interface RemoteCancel {
  task_id: string;
  state: TaskStatus['state'];
  canceled: boolean;
}

export interface RemoteTaskHandle extends StreamedTask {
  status(): Promise<Result<TaskStatus>>;
}
