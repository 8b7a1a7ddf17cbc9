// OpenAI-style `chat.completion.chunk` stream → canonical chat events, shared by llama.cpp, vLLM
// and TGI's Messages API (ENGINES.md §1, §2, §3, §6). Pure. Text deltas become tokens; tool-call
// fragments are tracked by `index` (id and name arrive on a call's first fragment); usage comes
// from the `choices: []` chunk or, on older llama.cpp, the finish chunk; `data: [DONE]` ends it.
// In-band errors: `data: {"error":...}` and llama.cpp's legacy `error:` line. Unknown keys
// (`obfuscation`, `timings`, `reasoning_content`, ...) are ignored. OpenRouter (§7): usage comes
// in a trailing chunk whose `choices` is not empty, with `usage.cost` (USD) read as the cost.
// vLLM (`readsStopReason`): the finish chunk's string `stop_reason` is the matched stop string.

import type { SseMessage } from '../../transport/sse-parser.ts';
import type { SseDecoder } from '../../transport/sse-stream.ts';
import type { InBandError } from '../../transport/upstream-failure.ts';
import { isRecord, numberField, parseJson, recordField, stringField, type JsonRecord } from '../../transport/json-fields.ts';
import type { ChatEndEvent, ChatStreamEvent } from '../contract.ts';
import { readErrorPayload, unwrapErrorBody } from './error-body.ts';
import { stopStringOf } from './completions-codec.ts';

export interface ChatDecoderOptions {
  /**
   * `engine` keeps the engine's call ids (minting one only when a call comes without);
   * `mint` always gives `${idPrefix}_${index}`, for engines whose ids repeat across turns
   * (TGI numbers calls "0", "1", ... in every answer).
   */
  toolCallIds: 'engine' | 'mint';
  /** Prefix of minted ids; the task id makes them unique across a conversation. */
  idPrefix: string;
  /**
   * The finish chunk carries vLLM's `stop_reason` (the matched stop string, or a stop token id).
   * Off for every other engine: no other wire here says which stop string matched.
   */
  readsStopReason?: boolean;
}

type Finish = ChatEndEvent['finishReason'];

const FINISH: Record<string, Finish | 'failed'> = {
  stop: 'stop',
  eos_token: 'stop',
  stop_sequence: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  function_call: 'tool_calls',
  content_filter: 'content_filter',
  abort: 'failed',
  error: 'failed',
};

type Usage = Pick<ChatEndEvent, 'promptTokens' | 'completionTokens' | 'cachedTokens' | 'costUsd'>;

function readUsage(chunk: JsonRecord): Usage | undefined {
  const usage = recordField(chunk, 'usage');
  if (usage === undefined) return undefined;
  const prompt = numberField(usage, 'prompt_tokens');
  const completion = numberField(usage, 'completion_tokens');
  const details = recordField(usage, 'prompt_tokens_details');
  const cached = details === undefined ? undefined : numberField(details, 'cached_tokens');
  const cost = numberField(usage, 'cost');
  return {
    ...(prompt === undefined ? {} : { promptTokens: prompt }),
    ...(completion === undefined ? {} : { completionTokens: completion }),
    ...(cached === undefined ? {} : { cachedTokens: cached }),
    ...(cost === undefined ? {} : { costUsd: cost }),
  };
}

/** The choice we asked for (n = 1): index 0, or the first one when indices are missing. */
function firstChoice(chunk: JsonRecord): JsonRecord | undefined {
  const choices = chunk['choices'];
  if (!Array.isArray(choices)) return undefined;
  for (const c of choices) if (isRecord(c) && (c['index'] === 0 || c['index'] === undefined)) return c;
  return undefined;
}

export class ChatStreamDecoder implements SseDecoder<ChatStreamEvent> {
  complete = false;
  /** Output events (text or tool-call fragments) so far: after the first, a failure is WORKER_RESET. */
  tokens = 0;
  private finishReason: Finish | undefined;
  private stopSequence: string | undefined;
  private usage: Usage | undefined;
  /** llama.cpp's `timings.cache_n` (prompt tokens reused from the slot's KV cache), used when usage has no cached count. */
  private cacheN: number | undefined;
  /** How many tool calls have begun; fragments must name one of them or the next. */
  private calls = 0;
  private readonly options: ChatDecoderOptions;

  constructor(options: ChatDecoderOptions) {
    this.options = options;
  }

  push(msg: SseMessage, out: ChatStreamEvent[]): InBandError | undefined {
    if (msg.data === '[DONE]') {
      this.complete = true;
      if (this.finishReason === undefined) return { message: 'stream terminated without a finish reason' };
      out.push(this.endEvent());
      return undefined;
    }
    const chunk = parseJson(msg.data);
    if (msg.event === 'error') return readErrorPayload(chunk);
    const error = unwrapErrorBody(chunk);
    if (error !== undefined) return error;
    if (!isRecord(chunk)) return { message: 'engine sent a stream message that is not a JSON object' };
    this.usage = readUsage(chunk) ?? this.usage;
    const timings = recordField(chunk, 'timings');
    this.cacheN = (timings && numberField(timings, 'cache_n')) ?? this.cacheN;
    const choice = firstChoice(chunk);
    if (choice === undefined) return undefined;
    const delta = recordField(choice, 'delta');
    if (delta !== undefined) {
      const content = stringField(delta, 'content');
      if (content !== undefined && content.length > 0) {
        out.push({ type: 'token', text: content });
        this.tokens++;
      }
      const calls = delta['tool_calls'];
      if (Array.isArray(calls)) {
        for (const [position, call] of calls.entries()) {
          const failed = this.toolCallFragment(call, position, out);
          if (failed !== undefined) return failed;
        }
      }
    }
    const reason = stringField(choice, 'finish_reason');
    if (reason === undefined) return undefined;
    const mapped = Object.hasOwn(FINISH, reason) ? FINISH[reason] : 'stop';
    if (mapped === 'failed') return { message: `engine finished the request with "${reason}"` };
    this.finishReason = mapped;
    this.stopSequence = this.options.readsStopReason === true ? stopStringOf(choice, reason) : undefined;
    return undefined;
  }

  /** Without [DONE] the stream still counts as whole once a finish reason arrived. */
  finish(out: ChatStreamEvent[]): boolean {
    if (this.complete) return true;
    if (this.finishReason === undefined) return false;
    this.complete = true;
    out.push(this.endEvent());
    return true;
  }

  private toolCallFragment(call: unknown, position: number, out: ChatStreamEvent[]): InBandError | undefined {
    if (!isRecord(call)) return { message: 'engine sent a tool call fragment that is not a JSON object' };
    const index = numberField(call, 'index') ?? position;
    const fn = recordField(call, 'function');
    const args = (fn && stringField(fn, 'arguments')) ?? '';
    if (index < this.calls) {
      if (args.length > 0) {
        out.push({ type: 'tool_call_delta', index, arguments: args });
        this.tokens++;
      }
      return undefined;
    }
    if (index !== this.calls) return { message: `engine began tool call ${index} before tool call ${this.calls}` };
    const name = fn && stringField(fn, 'name');
    if (name === undefined || name.length === 0) return { message: `engine began tool call ${index} without a function name` };
    const engineId = stringField(call, 'id');
    const id = this.options.toolCallIds === 'engine' && engineId !== undefined && engineId.length > 0
      ? engineId
      : `${this.options.idPrefix}_${index}`;
    this.calls++;
    out.push({ type: 'tool_call_delta', index, id, name, arguments: args });
    this.tokens++;
    return undefined;
  }

  private endEvent(): ChatEndEvent {
    const end: ChatEndEvent = { type: 'end', finishReason: this.finishReason ?? 'stop', ...this.usage };
    if (end.cachedTokens === undefined && this.cacheN !== undefined) end.cachedTokens = this.cacheN;
    if (this.stopSequence !== undefined) end.stopSequence = this.stopSequence;
    return end;
  }
}
