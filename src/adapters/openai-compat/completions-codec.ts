// OpenAI-style `/v1/completions` streaming codec, shared by every engine that speaks it
// (vLLM today). Encode is canonical → body; decode turns SSE messages into canonical events:
// text chunks, a finish chunk, an optional usage chunk with `choices: []`, then `data: [DONE]`.
// Both error envelopes are accepted; unknown keys are ignored. A completion ends `stop` or
// `length` only: `tool_calls`, `function_call` and `content_filter` read as `stop`. With
// `readsStopReason` (vLLM) a string `stop_reason` beside `finish_reason: "stop"` is the matched
// stop string; an integer there is a stop token id, not a string the client sent.

import type { CanonicalEvent, CanonicalRequest } from '../contract.ts';
import type { SseMessage } from '../../transport/sse-parser.ts';
import type { SseDecoder } from '../../transport/sse-stream.ts';
import type { InBandError } from '../../transport/upstream-failure.ts';
import { isRecord, numberField, parseJson, recordField, stringField, type JsonRecord } from '../../transport/json-fields.ts';
import { unwrapErrorBody } from './error-body.ts';

export interface CompletionsBody {
  model: string;
  prompt: string;
  max_tokens: number;
  stream: true;
  stream_options: { include_usage: true };
  seed?: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
}

/** Only what the engine needs; optional sampling fields are omitted when the request leaves them unset. */
export function encodeCompletions(req: CanonicalRequest): CompletionsBody {
  const body: CompletionsBody = {
    model: req.model,
    prompt: req.prompt,
    max_tokens: req.maxTokens,
    stream: true,
    stream_options: { include_usage: true },
  };
  if (req.seed !== undefined) body.seed = req.seed;
  if (req.temperature !== undefined) body.temperature = req.temperature;
  if (req.topP !== undefined) body.top_p = req.topP;
  if (req.stop !== undefined && req.stop.length > 0) body.stop = req.stop;
  return body;
}

type EndEvent = Extract<CanonicalEvent, { type: 'end' }>;

interface Usage {
  promptTokens?: number;
  completionTokens?: number;
  cachedTokens?: number;
}

function readUsage(chunk: JsonRecord): Usage | undefined {
  const usage = recordField(chunk, 'usage');
  if (usage === undefined) return undefined;
  const out: Usage = {};
  const prompt = numberField(usage, 'prompt_tokens');
  const completion = numberField(usage, 'completion_tokens');
  const details = recordField(usage, 'prompt_tokens_details');
  const cached = details === undefined ? undefined : numberField(details, 'cached_tokens');
  if (prompt !== undefined) out.promptTokens = prompt;
  if (completion !== undefined) out.completionTokens = completion;
  if (cached !== undefined) out.cachedTokens = cached;
  return out;
}

/** The choice we asked for (n = 1): index 0, or the first one when indices are missing. */
function firstChoice(chunk: JsonRecord): JsonRecord | undefined {
  const choices = chunk['choices'];
  if (!Array.isArray(choices)) return undefined;
  for (const c of choices) if (isRecord(c) && (c['index'] === 0 || c['index'] === undefined)) return c;
  return undefined;
}

/** Completion text, or a chat delta's content so the same decoder reads chat streams. */
function choiceText(choice: JsonRecord): string {
  const text = stringField(choice, 'text');
  if (text !== undefined) return text;
  const delta = recordField(choice, 'delta');
  return (delta && stringField(delta, 'content')) ?? '';
}

const FINISH: Record<string, EndEvent['finishReason'] | 'failed'> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'stop',
  function_call: 'stop',
  content_filter: 'stop',
  abort: 'failed',
  error: 'failed',
};

export interface CompletionsDecoderOptions {
  /** The engine's choices carry vLLM's `stop_reason` (the matched stop string or token id). */
  readsStopReason: boolean;
}

/** vLLM's `stop_reason` as a stop string: only a non-empty string beside `finish_reason: "stop"`. */
export function stopStringOf(choice: JsonRecord, finishReason: string): string | undefined {
  if (finishReason !== 'stop') return undefined;
  const reason = stringField(choice, 'stop_reason');
  return reason !== undefined && reason.length > 0 ? reason : undefined;
}

export class CompletionsStreamDecoder implements SseDecoder<CanonicalEvent> {
  complete = false;
  /** Token events produced so far (decides WORKER_RESET vs. an early, classifiable error). */
  tokens = 0;
  private finishReason: EndEvent['finishReason'] | undefined;
  private stopSequence: string | undefined;
  private usage: Usage | undefined;
  private readonly readsStopReason: boolean;

  constructor(options: CompletionsDecoderOptions = { readsStopReason: false }) {
    this.readsStopReason = options.readsStopReason;
  }

  push(msg: SseMessage, out: CanonicalEvent[]): InBandError | undefined {
    if (msg.data === '[DONE]') {
      this.complete = true;
      if (this.finishReason === undefined) return { message: 'stream terminated without a finish reason' };
      out.push(this.endEvent());
      return undefined;
    }
    const chunk = parseJson(msg.data);
    const error = msg.event === 'error' ? (unwrapErrorBody(chunk) ?? { message: 'engine error event' }) : unwrapErrorBody(chunk);
    if (error !== undefined) return error;
    if (!isRecord(chunk)) return { message: 'engine sent a stream message that is not a JSON object' };
    this.usage = readUsage(chunk) ?? this.usage;
    const choice = firstChoice(chunk);
    if (choice === undefined) return undefined;
    const text = choiceText(choice);
    if (text.length > 0) {
      out.push({ type: 'token', text });
      this.tokens++;
    }
    const reason = stringField(choice, 'finish_reason');
    if (reason === undefined) return undefined;
    const mapped = Object.hasOwn(FINISH, reason) ? FINISH[reason] : 'stop';
    if (mapped === 'failed') return { message: `engine finished the request with "${reason}"` };
    this.finishReason = mapped;
    this.stopSequence = this.readsStopReason ? stopStringOf(choice, reason) : undefined;
    return undefined;
  }

  /** Without [DONE] the stream still counts as whole once a finish reason arrived. */
  finish(out: CanonicalEvent[]): boolean {
    if (this.complete) return true;
    if (this.finishReason === undefined) return false;
    this.complete = true;
    out.push(this.endEvent());
    return true;
  }

  private endEvent(): EndEvent {
    const end: EndEvent = { type: 'end', finishReason: this.finishReason ?? 'stop', ...this.usage };
    if (this.stopSequence !== undefined) end.stopSequence = this.stopSequence;
    return end;
  }
}
