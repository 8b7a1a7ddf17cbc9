// Lifecycle facts the task engine publishes to its observers (audit, metrics, logs, traces).
// Observers are called synchronously and must not throw or block: they record and return.
// Nothing here is per token; per-token work stays in the event log and the SSE writers.

import type { ErrorCode } from './errors.ts';
import type { FinishReason, Priority, TerminalState } from './task/events.ts';

export interface TaskFacts {
  task_id: string;
  pool_id: string;
  priority: Priority;
  session_id?: string;
  correlation_id: string;
  max_tokens: number;
  /** sha256 of the prompt, only when `audit.hash_prompts` is on. */
  prompt_sha256?: string;
  /** The tenant that owns the task and the key that submitted it (never the key itself), ORCH-1216. */
  tenant?: string;
  key_id?: string;
}

export interface AdmittedFact extends TaskFacts {
  queue_position: number;
  predicted_start_ms: number;
  /** Set when admitting this task evicted another under `drop-lru`. */
  evicted_task_id?: string;
  policy_label: string;
  /** The model as requested; the audit answers GET /v1/tasks/{id} with it after a restart. */
  model?: string;
  /** Admitted into this fallback pool because the requested one had no capacity (issue 13 item 6). */
  fallback_from_pool_id?: string;
  fallback_code?: ErrorCode;
}

export interface RejectedFact {
  correlation_id: string;
  code: ErrorCode;
  pool_id?: string;
  task_id?: string;
  session_id?: string;
  priority?: Priority;
  policy_label?: string;
  message: string;
  /** The quota limit that refused (RATE_LIMITED from a tenant or key quota). */
  limit?: string;
  tenant?: string;
  key_id?: string;
  /**
   * Only on a row the audit's rejection coalescer writes (audit/rejection-coalescer.ts): the
   * refusals, identical to this one but for their correlation ids, merged into one row.
   */
  repeats?: { correlation_ids: string[]; first_at_ms: number };
}

export interface PlacedFact extends TaskFacts {
  replica_id: string;
  engine: string;
  queue_wait_ms: number;
  /** One-line summary of the placement decision log. */
  decision: string;
  attempt: number;
}

export interface FirstTokenFact extends TaskFacts {
  replica_id: string;
  engine: string;
  ttft_ms: number;
}

export interface TerminalFact extends TaskFacts {
  state: TerminalState;
  finish_reason?: FinishReason;
  /** The request's stop string that ended the answer, when the engine named it. */
  stop_sequence?: string;
  error_code?: ErrorCode;
  /** Why a task was canceled: client, deadline, drain, unclaimed, shutdown. */
  cancel_reason?: string;
  replica_id?: string;
  engine?: string;
  tokens_out: number;
  prompt_tokens?: number;
  /** The pool's model, set with the cost (the cost metric's label). */
  model?: string;
  /** What the task cost in USD; absent when it never ran or nothing priced it. */
  cost_usd?: number;
  /** Set for a task that ran: `unpriced` when neither the provider nor the price table gave a cost. */
  cost_source?: 'reported' | 'price_table' | 'unpriced';
  queue_wait_ms: number;
  decode_time_ms: number;
  e2e_ms: number;
}

export type ControlAction =
  | 'drain'
  | 'reload'
  | 'config_reload'
  | 'session_delete'
  | 'hold_create'
  | 'hold_delete'
  | 'retention_purge'
  | 'tenant_create'
  | 'tenant_update'
  | 'key_create'
  | 'key_update'
  | 'key_revoke';

export interface ControlFact {
  action: ControlAction;
  actor: string;
  /** The actor's tenant, when a principal acted. */
  tenant?: string;
  target: string;
  outcome: 'accepted' | 'refused' | 'done';
  correlation_id?: string;
  detail?: Record<string, unknown>;
}

export interface LifecycleObserver {
  admitted?(fact: AdmittedFact): void;
  rejected?(fact: RejectedFact): void;
  placed?(fact: PlacedFact): void;
  firstToken?(fact: FirstTokenFact): void;
  finished?(fact: TerminalFact): void;
  control?(fact: ControlFact): void;
  streamOpened?(fact: { task_id: string; resumed: boolean }): void;
  streamClosed?(fact: { task_id: string }): void;
}

/**
 * The admission commit point (ARCHITECTURE §7): a task becomes visible and dispatchable only
 * after `commitAdmission` resolves, and the client's 202 is sent after that. With
 * `fail_closed`, a store that is not `accepting()` makes admission answer 503 AUDIT_UNAVAILABLE.
 */
export interface AdmissionRecorder {
  accepting(): boolean;
  commitAdmission(fact: AdmittedFact): Promise<void>;
}
