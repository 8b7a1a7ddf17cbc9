// Chat output → OpenAI `chat.completion.chunk` SSE frames (issue 11): a role chunk first, one
// chunk per text piece or tool-call fragment, a finish chunk, the `choices: []` usage chunk when
// the client asked (`stream_options.include_usage`; every other chunk then has `usage: null`),
// then `data: [DONE]`. Runs per token: the constant head is serialized once and each frame is
// one template literal. A canceled task or an error ends with an error frame and no [DONE].

import type { AnswerFinishReason } from '../../core/chat/finish-reason.ts';
import { CANCELED_OUTPUT_ERROR, type ChatOutputEvent } from '../../core/chat/output-event.ts';
import type { Usage } from '../../core/chat/usage.ts';
import { openAiErrorFrame } from './errors.ts';

export interface OpenAiStreamInit {
  /** `chatcmpl-<task id>`: the same on every chunk. */
  id: string;
  /** The model name the client asked for. */
  model: string;
  /** Unix seconds. */
  created: number;
  includeUsage: boolean;
}

export const DONE_FRAME = 'data: [DONE]\n\n';

export const openAiFinishReason = (finish: AnswerFinishReason): string => finish;

export function openAiUsage(usage: Usage): string {
  const cached = usage.cachedInputTokens === undefined ? '' : `,"prompt_tokens_details":{"cached_tokens":${usage.cachedInputTokens}}`;
  return `{"prompt_tokens":${usage.inputTokens},"completion_tokens":${usage.outputTokens},"total_tokens":${usage.inputTokens + usage.outputTokens}${cached}}`;
}

export class OpenAiChatFrames {
  private readonly head: string;
  private readonly tail: string;
  private readonly includeUsage: boolean;

  constructor(init: OpenAiStreamInit) {
    this.head = `data: {"id":${JSON.stringify(init.id)},"object":"chat.completion.chunk","created":${init.created},"model":${JSON.stringify(init.model)},"choices":[`;
    this.tail = init.includeUsage ? '],"usage":null}\n\n' : ']}\n\n';
    this.includeUsage = init.includeUsage;
  }

  /** The first frame: the assistant role, before any content. */
  start(): string {
    return `${this.head}{"index":0,"delta":{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}${this.tail}`;
  }

  write(event: ChatOutputEvent): string {
    switch (event.kind) {
      case 'text':
        return this.choice(`{"content":${JSON.stringify(event.text)}}`, 'null');
      case 'tool_call_delta': {
        const args = JSON.stringify(event.arguments);
        const call = event.id === undefined || event.name === undefined
          ? `{"index":${event.index},"function":{"arguments":${args}}}`
          : `{"index":${event.index},"id":${JSON.stringify(event.id)},"type":"function","function":{"name":${JSON.stringify(event.name)},"arguments":${args}}}`;
        return this.choice(`{"tool_calls":[${call}]}`, 'null');
      }
      case 'end': {
        if (event.finish === 'canceled') return openAiErrorFrame(CANCELED_OUTPUT_ERROR);
        const finish = this.choice('{}', `"${openAiFinishReason(event.finish)}"`);
        const usage = this.includeUsage ? `${this.head}],"usage":${openAiUsage(event.usage)}}\n\n` : '';
        return `${finish}${usage}${DONE_FRAME}`;
      }
      case 'error':
        return openAiErrorFrame(event.error);
    }
  }

  private choice(delta: string, finish: string): string {
    return `${this.head}{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${finish}}${this.tail}`;
  }
}
