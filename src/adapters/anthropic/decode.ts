// Anthropic Messages stream → canonical chat events (ENGINES.md §8; docs.anthropic.com
// messages-streaming). Pure. `message_start` carries input usage; text blocks' `text_delta`
// become tokens; a `tool_use` block becomes a tool call (id and name from its start, arguments
// from `input_json_delta`); `message_delta` carries the stop reason (with `stop_sequence`, the
// stop string that matched) and cumulative usage; `message_stop` ends it. `ping`, thinking
// blocks and unknown events are skipped; `event: error` stops the stream with its typed error.
// For a completion (non-chat) request the adapter wraps this decoder in CompletionEnds:
// `refusal` and `tool_use` then read as `stop`.

import type { SseMessage } from '../../transport/sse-parser.ts';
import type { InBandError } from '../../transport/upstream-failure.ts';
import { isRecord, numberField, parseJson, recordField, stringField, type JsonRecord } from '../../transport/json-fields.ts';
import type { ChatEndEvent, ChatStreamEvent } from '../contract.ts';
import type { CountingDecoder } from '../http/engine.ts';
import { readErrorPayload } from '../openai-compat/error-body.ts';

type Finish = ChatEndEvent['finishReason'];

/** `stop_reason` → canonical. `pause_turn` and a full context window leave the answer unfinished: `length`. */
export const STOP_REASONS: Record<string, Finish> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
  pause_turn: 'length',
  model_context_window_exceeded: 'length',
};

interface Usage {
  input?: number;
  cacheRead?: number;
  cacheCreation?: number;
  output?: number;
}

export class AnthropicStreamDecoder implements CountingDecoder {
  complete = false;
  tokens = 0;
  private stopReason: Finish | undefined;
  /** `delta.stop_sequence` of a `stop_reason: "stop_sequence"` end: the client's string that matched. */
  private stopSequence: string | undefined;
  private readonly usage: Usage = {};
  /** Content block index → tool call index, for tool_use blocks. */
  private readonly callOfBlock = new Map<number, number>();

  push(msg: SseMessage, out: ChatStreamEvent[]): InBandError | undefined {
    const data = parseJson(msg.data);
    if (!isRecord(data)) return msg.event === 'error' ? readErrorPayload(data) : { message: 'provider sent a stream message that is not a JSON object' };
    switch (stringField(data, 'type') ?? msg.event) {
      case 'error':
        return readErrorPayload(data);
      case 'message_start':
        this.readUsage(recordField(recordField(data, 'message') ?? {}, 'usage'));
        return undefined;
      case 'content_block_start':
        return this.blockStart(data, out);
      case 'content_block_delta':
        return this.blockDelta(data, out);
      case 'message_delta': {
        const delta = recordField(data, 'delta') ?? {};
        const reason = stringField(delta, 'stop_reason');
        if (reason !== undefined) this.stopReason = Object.hasOwn(STOP_REASONS, reason) ? STOP_REASONS[reason] : 'stop';
        const matched = reason === 'stop_sequence' ? stringField(delta, 'stop_sequence') : undefined;
        if (reason !== undefined) this.stopSequence = matched !== undefined && matched.length > 0 ? matched : undefined;
        this.readUsage(recordField(data, 'usage'));
        return undefined;
      }
      case 'message_stop':
        this.complete = true;
        if (this.stopReason === undefined) return { message: 'stream ended without a stop reason' };
        out.push(this.endEvent());
        return undefined;
      default:
        // ping, content_block_stop, and event types added later.
        return undefined;
    }
  }

  /** Anthropic always closes with message_stop: a body that ends before it was cut short. */
  finish(): boolean {
    return this.complete;
  }

  private blockStart(data: JsonRecord, out: ChatStreamEvent[]): InBandError | undefined {
    const index = numberField(data, 'index');
    const block = recordField(data, 'content_block');
    if (index === undefined || block === undefined) return { message: 'provider sent content_block_start without an index or block' };
    const type = stringField(block, 'type');
    if (type === 'text') this.text(stringField(block, 'text') ?? '', out);
    if (type !== 'tool_use') return undefined;
    const id = stringField(block, 'id');
    const name = stringField(block, 'name');
    if (id === undefined || id === '' || name === undefined || name === '') return { message: `provider began tool use block ${index} without an id or name` };
    const call = this.callOfBlock.size;
    this.callOfBlock.set(index, call);
    out.push({ type: 'tool_call_delta', index: call, id, name, arguments: '' });
    this.tokens++;
    return undefined;
  }

  private blockDelta(data: JsonRecord, out: ChatStreamEvent[]): InBandError | undefined {
    const delta = recordField(data, 'delta');
    if (delta === undefined) return undefined;
    switch (stringField(delta, 'type')) {
      case 'text_delta':
        this.text(stringField(delta, 'text') ?? '', out);
        return undefined;
      case 'input_json_delta': {
        const call = this.callOfBlock.get(numberField(data, 'index') ?? -1);
        if (call === undefined) return { message: 'provider sent tool input for a block that is not a tool use' };
        const part = stringField(delta, 'partial_json') ?? '';
        if (part.length > 0) {
          out.push({ type: 'tool_call_delta', index: call, arguments: part });
          this.tokens++;
        }
        return undefined;
      }
      default:
        // thinking_delta, signature_delta, citations: not part of the canonical answer.
        return undefined;
    }
  }

  private text(text: string, out: ChatStreamEvent[]): void {
    if (text.length === 0) return;
    out.push({ type: 'token', text });
    this.tokens++;
  }

  private readUsage(usage: JsonRecord | undefined): void {
    if (usage === undefined) return;
    this.usage.input = numberField(usage, 'input_tokens') ?? this.usage.input;
    this.usage.cacheRead = numberField(usage, 'cache_read_input_tokens') ?? this.usage.cacheRead;
    this.usage.cacheCreation = numberField(usage, 'cache_creation_input_tokens') ?? this.usage.cacheCreation;
    this.usage.output = numberField(usage, 'output_tokens') ?? this.usage.output;
  }

  /** Anthropic's input_tokens excludes cache reads and writes; canonical input includes them. */
  private endEvent(): ChatEndEvent {
    const { input, cacheRead, cacheCreation, output } = this.usage;
    const end: ChatEndEvent = { type: 'end', finishReason: this.stopReason ?? 'stop' };
    if (input !== undefined) end.promptTokens = input + (cacheRead ?? 0) + (cacheCreation ?? 0);
    if (output !== undefined) end.completionTokens = output;
    if (cacheRead !== undefined) end.cachedTokens = cacheRead;
    if (this.stopSequence !== undefined) end.stopSequence = this.stopSequence;
    return end;
  }
}
