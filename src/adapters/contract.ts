// The worker-adapter contract every engine implements (ARCHITECTURE §5). Core and pool see
// only this file: capability flags, canonical requests and events, typed engine errors.
// Engine names appear in src/adapters/registry.ts and inside each engine's own folder.

import type { PoolConfig, ReplicaConfig } from '../config/schema.ts';
import type { ChatCapabilities, ValidConversation } from '../core/chat/conversation.ts';
import type { ChatShape } from '../core/chat/handoff.ts';
import type { AnswerFinishReason } from '../core/chat/finish-reason.ts';
import type { ErrorCode } from '../core/errors.ts';
import type { ServicePriors } from '../core/admission/predict.ts';
import { EngineKind as ENGINE_KIND_VALUES } from '../generated/enums.ts';

/** Engine kinds come from the contract (`EngineKind` in contracts/openapi/data.yaml). */
export const ENGINE_KINDS = ENGINE_KIND_VALUES;
export type EngineKind = (typeof ENGINE_KINDS)[number];

/** Canonical generation request: what the gateway asks of any engine. */
export interface CanonicalRequest {
  /** Gateway task id; adapters may forward it as an engine request id, never as a header the engine interprets specially. */
  taskId: string;
  /** Engine-side model name (the pool's `engine_model`, not the client-facing alias). */
  model: string;
  prompt: string;
  maxTokens: number;
  seed?: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  /** Session affinity: a stable engine slot to reuse (llama.cpp `id_slot`); adapters without slots ignore it. */
  slotId?: number;
  /** Ask the engine to keep/reuse the prompt's KV cache (llama.cpp `cache_prompt`). */
  cachePrompt?: boolean;
  /** W3C trace context to propagate to the engine, if tracing is on. */
  traceparent?: string;
  /**
   * The chat workload (issue 11): when present the adapter speaks the engine's chat endpoint
   * and `prompt` is only the conversation's flat text (core/chat/prompt-text.ts) for accounting.
   * Only sent to adapters whose `capabilities.chat` is set.
   */
  chat?: ValidConversation;
}

/** A request of the chat workload; stream() types its events as ChatStreamEvent. */
export type ChatCanonicalRequest = CanonicalRequest & { chat: ValidConversation };

/**
 * Canonical stream events. An adapter's stream yields zero or more `token`s and then exactly
 * one `end`; any failure is thrown as an EngineError instead (never yielded).
 */
export type CanonicalEvent = CanonicalTokenEvent | CanonicalToolCallDelta | CanonicalEndEvent;

export interface CanonicalTokenEvent {
  type: 'token';
  text: string;
}

export interface CanonicalEndEvent {
  type: 'end';
  /** `tool_calls` and `content_filter` only end chat answers; completions end `stop` or `length`. */
  finishReason: AnswerFinishReason;
  /** Engine-reported counts when the wire carries them (the usage of the answer). */
  promptTokens?: number;
  completionTokens?: number;
  /** Engine-reported KV cache reuse for the prompt, in tokens (llama.cpp `tokens_cached`/`timings.cache_n`). */
  cachedTokens?: number;
  /** The engine slot that served the request (llama.cpp `id_slot`), for session affinity. */
  slotId?: number;
  /** What the provider says the request cost, in US dollars (OpenRouter `usage.cost`); absent when it says nothing. */
  costUsd?: number;
  /**
   * The request's stop string that ended the answer, only with `finishReason` `stop` and only
   * when the engine's wire names it (llama.cpp `stopping_word`, vLLM `stop_reason`, Anthropic
   * `stop_sequence`); never inferred from the text.
   */
  stopSequence?: string;
}

/**
 * One fragment of a tool call the model is writing (chat workload). Calls are numbered by
 * `index` in the order they begin; `id` and `name` come with a call's first fragment only.
 */
export interface CanonicalToolCallDelta {
  type: 'tool_call_delta';
  index: number;
  id?: string;
  name?: string;
  /** The next piece of the arguments' JSON text (may be empty). */
  arguments: string;
}

/** The end of a chat answer (the same event: tool calls and content filtering are its reasons). */
export type ChatEndEvent = CanonicalEndEvent;

/**
 * What a chat stream yields: tokens and tool-call fragments in the order the model wrote them,
 * then exactly one `end` (one event union for both workloads).
 */
export type ChatStreamEvent = CanonicalEvent;

/**
 * Receives the events decoded from one engine read, in order; the array is reused once it
 * returns (copy what you keep). Returning false stops the stream: the engine call is cut
 * unless its `end` already came.
 */
export type EventSink = (events: readonly CanonicalEvent[]) => boolean;

export interface EngineHealth {
  /** The process answers at all. */
  live: boolean;
  /** It can take generation work now (model loaded). */
  ready: boolean;
  detail?: string;
}

/**
 * A hosted provider's rate-limit budget as its last answer reported it (issue 13 item 5:
 * OpenAI-style `x-ratelimit-*`, Anthropic `anthropic-ratelimit-*`). Times are ms since the epoch.
 */
export interface ProviderRateLimit {
  /** When the headers were read. */
  observedAtMs: number;
  remainingRequests?: number;
  remainingTokens?: number;
  requestsResetAtMs?: number;
  tokensResetAtMs?: number;
  /** When every spent budget (remaining 0) is full again; absent when none is spent. */
  resetAtMs?: number;
}

export interface EngineProps {
  engineVersion: string;
  model: string;
  ctxMax: number;
  slotsTotal: number;
  slotsFree?: number;
  deterministic: boolean;
}

/** What an engine can do, as flags: core never branches on engine names. */
export interface AdapterCapabilities {
  /** Honours CanonicalRequest.slotId for KV-cache affinity. */
  slotAffinity: boolean;
  /** Same (prompt, seed) gives the same tokens on every replica of the same version. */
  deterministic: boolean;
  /** The engine reports its own slot count through props(). */
  reportsSlots: boolean;
  /**
   * The chat workload and what it can take (issue 11); absent = no chat endpoint, and a chat
   * request is refused before admission with a reason naming the pool.
   */
  chat?: ChatCapabilities;
  /**
   * What the chat target requires of a conversation's shape (alternation, roles, tool-call ids);
   * the dispatcher rewrites conversations into it before encoding (core/chat/handoff.ts).
   * Absent = no requirement (FREE_SHAPE).
   */
  chatShape?: ChatShape;
}

/** Codes an adapter may raise; all are members of the error taxonomy. */
export type EngineErrorCode = Extract<
  ErrorCode,
  'POOL_UNREADY' | 'REPLICA_EXHAUSTED' | 'WORKER_RESET' | 'DECODE_TIMEOUT' | 'ENGINE_ERROR' | 'INVALID_PARAMS'
>;

/**
 * A typed engine failure. `message` is written by the adapter for the client; the raw
 * upstream text goes in `upstreamDetail` for logs only and never reaches a client.
 */
export class EngineError extends Error {
  readonly code: EngineErrorCode;
  readonly retryAfterMs: number | undefined;
  readonly upstreamStatus: number | undefined;
  readonly upstreamDetail: string | undefined;
  constructor(
    code: EngineErrorCode,
    message: string,
    opts: { retryAfterMs?: number; upstreamStatus?: number; upstreamDetail?: string; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'EngineError';
    this.code = code;
    this.retryAfterMs = opts.retryAfterMs;
    this.upstreamStatus = opts.upstreamStatus;
    this.upstreamDetail = opts.upstreamDetail;
  }
}

export interface WorkerAdapter {
  readonly kind: EngineKind;
  readonly capabilities: AdapterCapabilities;
  /** Never throws for an unhealthy engine: connection refused → { live: false, ready: false }. */
  health(signal: AbortSignal): Promise<EngineHealth>;
  /** Throws EngineError when the engine cannot be asked. */
  props(signal: AbortSignal): Promise<EngineProps>;
  /**
   * Streams one generation. Aborting `signal` must close the upstream connection within
   * milliseconds and end the iteration (throwing the signal's reason or returning).
   */
  stream(req: CanonicalRequest, signal: AbortSignal): AsyncIterable<CanonicalEvent>;
  /**
   * The same stream by push, for the per-token path (issue 14): the events of each engine read
   * go to `sink` in one synchronous call, with no promise or generator hop per event. Resolves
   * once the stream ended or the sink stopped it; rejects as stream() throws. Absent: callers
   * iterate stream().
   */
  streamTo?(req: CanonicalRequest, signal: AbortSignal, sink: EventSink): Promise<void>;
  /**
   * The engine's own Prometheus text (its `/metrics`), read by the telemetry scraper off the
   * request path. Resolves undefined when the engine serves none (llama-server without
   * `--metrics` answers 501); throws on any other failure. Absent on engines without metrics.
   */
  metricsText?(signal: AbortSignal): Promise<string | undefined>;
  /**
   * Model ids the engine or provider can serve now (Ollama `/api/tags`), for the model catalog
   * (issue 13 item 8). Throws EngineError when it cannot be asked. Absent when it cannot list.
   */
  models?(signal: AbortSignal): Promise<string[]>;
  /**
   * Hosted providers: the rate-limit budget from the latest answer that reported one, so
   * admission can refuse with the provider's reset time instead of sending a request bound to
   * fail. Absent on engines; undefined until an answer carried rate-limit headers.
   */
  rateLimit?(): ProviderRateLimit | undefined;
  /** Releases pooled connections. */
  close(): Promise<void>;
}

/** Per-replica construction input handed to an engine's factory by the registry. */
export interface AdapterInit {
  /** Base URL of the replica, e.g. http://127.0.0.1:8080 (unused by the in-process mock). */
  baseUrl: string;
  /** Engine-side model name. */
  model: string;
  timeouts: AdapterTimeouts;
  /** Engine-specific options from the pool config (validated by the engine's own schema). */
  options: Record<string, unknown>;
}

export interface AdapterTimeouts {
  connectMs: number;
  /** Time allowed until response headers / first byte. */
  firstByteMs: number;
  /** Longest silence between two stream chunks (keep-alive comments count) → DECODE_TIMEOUT. */
  idleMs: number;
}

/**
 * What the pool manager and configuration checks may know about engines, as one object built
 * by src/adapters/registry.ts and handed in by the composition root (no engine names outside).
 */
export interface EngineCatalog {
  createAdapter(pool: PoolConfig, replica: ReplicaConfig): WorkerAdapter;
  /** Slot count assumed until the engine reports its own (or config overrides it). */
  defaultSlots(kind: EngineKind): number;
  /** Speed expectations for admission predictions before a pool has measured itself. */
  speedPriors(pool: PoolConfig): Partial<ServicePriors>;
  /** Problems with a pool's configuration that only the engine kind can judge (e.g. a missing url). */
  poolProblems(pool: PoolConfig): string[];
}
