// Chat output → legacy OpenAI `/v1/completions` SSE frames (`object: "text_completion"`,
// issue 11): one chunk per text piece, a finish chunk, the optional `choices: []` usage chunk,
// then `data: [DONE]`. The completion workload has no tools, so a tool-call item is a bug.

import { CANCELED_OUTPUT_ERROR, type ChatOutputEvent } from '../../core/chat/output-event.ts';
import { openAiErrorFrame } from './errors.ts';
import { DONE_FRAME, openAiUsage, type OpenAiStreamInit } from './frames.ts';

export class OpenAiCompletionFrames {
  private readonly head: string;
  private readonly tail: string;
  private readonly includeUsage: boolean;

  /** `id` is `cmpl-<task id>`. */
  constructor(init: OpenAiStreamInit) {
    this.head = `data: {"id":${JSON.stringify(init.id)},"object":"text_completion","created":${init.created},"model":${JSON.stringify(init.model)},"choices":[`;
    this.tail = init.includeUsage ? '],"usage":null}\n\n' : ']}\n\n';
    this.includeUsage = init.includeUsage;
  }

  write(event: ChatOutputEvent): string {
    switch (event.kind) {
      case 'text':
        return `${this.head}{"index":0,"text":${JSON.stringify(event.text)},"logprobs":null,"finish_reason":null}${this.tail}`;
      case 'tool_call_delta':
        // A completion task never has tool calls; this renders inside the log's listener, where
        // a throw would break the append path, so such an item is skipped rather than thrown.
        return '';
      case 'end': {
        if (event.finish === 'canceled') return openAiErrorFrame(CANCELED_OUTPUT_ERROR);
        const finish = `${this.head}{"index":0,"text":"","logprobs":null,"finish_reason":"${event.finish}"}${this.tail}`;
        const usage = this.includeUsage ? `${this.head}],"usage":${openAiUsage(event.usage)}}\n\n` : '';
        return `${finish}${usage}${DONE_FRAME}`;
      }
      case 'error':
        return openAiErrorFrame(event.error);
    }
  }
}
