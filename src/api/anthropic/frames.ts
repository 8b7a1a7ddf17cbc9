// Chat output → Anthropic Messages SSE events (issue 11): `message_start`, then content blocks
// (`content_block_start` / `content_block_delta` / `content_block_stop`; a text block, a
// `tool_use` block per tool call with `input_json_delta` fragments), `message_delta` with the
// stop reason (`stop_sequence` and the string when the engine named the stop that matched) and
// cumulative usage, `message_stop`. `ping()` is the heartbeat frame. Runs per
// token: constant parts are built once, each frame is one template literal.

import type { AnswerFinishReason } from '../../core/chat/finish-reason.ts';
import { CANCELED_OUTPUT_ERROR, type ChatOutputEvent } from '../../core/chat/output-event.ts';
import type { Usage } from '../../core/chat/usage.ts';
import { anthropicErrorFrame } from './errors.ts';

export interface AnthropicStreamInit {
  /** `msg_<task id>`. */
  id: string;
  model: string;
  /** Prompt tokens when known at the start (else 0; the final count comes in message_delta). */
  inputTokens?: number;
}

export const STOP_REASONS = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  content_filter: 'refusal',
} as const satisfies Record<AnswerFinishReason, string>;

/** Anthropic's `stop_reason` and `stop_sequence` for an answer's end. */
export function anthropicStop(finish: AnswerFinishReason, stopSequence: string | undefined): { reason: AnthropicStopReason; sequence: string | null } {
  return finish === 'stop' && stopSequence !== undefined ? { reason: 'stop_sequence', sequence: stopSequence } : { reason: STOP_REASONS[finish], sequence: null };
}

export type AnthropicStopReason = (typeof STOP_REASONS)[keyof typeof STOP_REASONS] | 'stop_sequence';

export const PING_FRAME = 'event: ping\ndata: {"type": "ping"}\n\n';

export function anthropicUsage(usage: Usage): string {
  const cached = usage.cachedInputTokens === undefined ? '' : `,"cache_read_input_tokens":${usage.cachedInputTokens}`;
  return `{"input_tokens":${usage.inputTokens},"output_tokens":${usage.outputTokens}${cached}}`;
}

export class AnthropicMessageFrames {
  private readonly init: AnthropicStreamInit;
  /** Index of the open content block, -1 when none is open. */
  private open = -1;
  private openIsText = false;
  private blocks = 0;
  /** Content block index of each tool call, by its canonical index. */
  private readonly toolBlocks: number[] = [];

  constructor(init: AnthropicStreamInit) {
    this.init = init;
  }

  start(): string {
    const { id, model, inputTokens } = this.init;
    return `event: message_start\ndata: {"type":"message_start","message":{"id":${JSON.stringify(id)},"type":"message","role":"assistant","model":${JSON.stringify(model)},"content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":${inputTokens ?? 0},"output_tokens":0}}}\n\n`;
  }

  ping(): string {
    return PING_FRAME;
  }

  write(event: ChatOutputEvent): string {
    switch (event.kind) {
      case 'text': {
        const begin = this.openIsText ? '' : `${this.close()}${this.begin('{"type":"text","text":""}', true)}`;
        return `${begin}event: content_block_delta\ndata: {"type":"content_block_delta","index":${this.open},"delta":{"type":"text_delta","text":${JSON.stringify(event.text)}}}\n\n`;
      }
      case 'tool_call_delta': {
        let begin = '';
        if (event.id !== undefined && event.name !== undefined) {
          begin = `${this.close()}${this.begin(`{"type":"tool_use","id":${JSON.stringify(event.id)},"name":${JSON.stringify(event.name)},"input":{}}`, false)}`;
          this.toolBlocks[event.index] = this.open;
        }
        if (event.arguments.length === 0) return begin;
        const index = this.toolBlocks[event.index] ?? this.open;
        return `${begin}event: content_block_delta\ndata: {"type":"content_block_delta","index":${index},"delta":{"type":"input_json_delta","partial_json":${JSON.stringify(event.arguments)}}}\n\n`;
      }
      case 'end': {
        if (event.finish === 'canceled') return anthropicErrorFrame(CANCELED_OUTPUT_ERROR);
        const stop = anthropicStop(event.finish, event.stopSequence);
        const sequence = stop.sequence === null ? 'null' : JSON.stringify(stop.sequence);
        return `${this.close()}event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"${stop.reason}","stop_sequence":${sequence}},"usage":${anthropicUsage(event.usage)}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n`;
      }
      case 'error':
        return anthropicErrorFrame(event.error);
    }
  }

  private begin(block: string, isText: boolean): string {
    this.open = this.blocks++;
    this.openIsText = isText;
    return `event: content_block_start\ndata: {"type":"content_block_start","index":${this.open},"content_block":${block}}\n\n`;
  }

  private close(): string {
    if (this.open < 0) return '';
    const frame = `event: content_block_stop\ndata: {"type":"content_block_stop","index":${this.open}}\n\n`;
    this.open = -1;
    this.openIsText = false;
    return frame;
  }
}
