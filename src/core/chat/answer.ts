// Folds a chat output sequence into one whole answer (issue 11): what non-streaming bodies in
// every dialect are built from. Text and argument fragments are kept as arrays and joined once.

import type { OrchError } from '../errors.ts';
import type { AnswerFinishReason } from './finish-reason.ts';
import type { ChatOutputEvent } from './output-event.ts';
import type { ToolCall } from './tool.ts';
import type { Usage } from './usage.ts';

export interface ChatAnswer {
  text: string;
  toolCalls: ToolCall[];
  finish: AnswerFinishReason;
  usage: Usage;
  /** The request's stop string that ended the answer, when the engine named it. */
  stopSequence?: string;
}

export type AnswerOutcome =
  | { status: 'complete'; answer: ChatAnswer }
  | { status: 'failed'; error: OrchError }
  | { status: 'canceled' };

interface CallParts {
  id: string | undefined;
  name: string | undefined;
  args: string[];
}

export class ChatAnswerBuilder {
  private readonly text: string[] = [];
  private readonly calls: CallParts[] = [];
  private outcome: AnswerOutcome | undefined;

  /** Items after the terminal one are a caller bug. */
  push(event: ChatOutputEvent): void {
    if (this.outcome !== undefined) throw new Error(`chat output after its terminal item: ${event.kind}`);
    switch (event.kind) {
      case 'text':
        this.text.push(event.text);
        return;
      case 'tool_call_delta': {
        const call = (this.calls[event.index] ??= { id: undefined, name: undefined, args: [] });
        call.id ??= event.id;
        call.name ??= event.name;
        call.args.push(event.arguments);
        return;
      }
      case 'error':
        this.outcome = { status: 'failed', error: event.error };
        return;
      case 'end':
        this.outcome = event.finish === 'canceled'
          ? { status: 'canceled' }
          : {
            status: 'complete',
            answer: {
              text: this.text.join(''),
              toolCalls: this.toolCalls(),
              finish: event.finish,
              usage: event.usage,
              ...(event.stopSequence !== undefined ? { stopSequence: event.stopSequence } : {}),
            },
          };
        return;
    }
  }

  /** Undefined until the terminal item arrived. */
  result(): AnswerOutcome | undefined {
    return this.outcome;
  }

  private toolCalls(): ToolCall[] {
    return this.calls.map((c, index) => {
      // Adapters put id and name on a call's first fragment (ChatOutputEvent's contract).
      if (c === undefined || c.id === undefined || c.name === undefined) throw new Error(`tool call ${index} has no id or name`);
      return { id: c.id, name: c.name, arguments: c.args.join('') };
    });
  }
}
