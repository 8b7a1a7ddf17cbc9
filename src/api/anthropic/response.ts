// A whole answer → Anthropic's non-streaming `message` body (issue 11). Tool calls become
// `tool_use` blocks whose `input` is the parsed arguments. Arguments that are not a JSON object
// cannot be expressed as `input`: when the answer was cut by max_tokens, the unfinished call is
// left out and the message ends `max_tokens` (the client retries with a larger budget, as
// Anthropic advises for a cut tool call); otherwise the model wrote something that is not a
// call, and the answer fails instead of inventing one.

import type { ChatAnswer } from '../../core/chat/answer.ts';
import { fail, ok, orchError, type Result } from '../../core/errors.ts';
import { anthropicStop, type AnthropicStopReason } from './frames.ts';

export interface AnthropicMessageBody {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: ({ type: 'text'; text: string } | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> })[];
  stop_reason: AnthropicStopReason;
  stop_sequence: string | null;
  usage: { input_tokens: number; output_tokens: number; cache_read_input_tokens?: number };
}

export function anthropicMessage(init: { id: string; model: string }, answer: ChatAnswer): Result<AnthropicMessageBody> {
  const content: AnthropicMessageBody['content'] = answer.text.length > 0 ? [{ type: 'text', text: answer.text }] : [];
  for (const call of answer.toolCalls) {
    const input = parseObject(call.arguments);
    if (input === undefined) {
      if (answer.finish === 'length') continue;
      return fail(orchError('ENGINE_ERROR', `the model wrote arguments for tool call ${call.id} that are not a JSON object (finish: ${answer.finish})`));
    }
    content.push({ type: 'tool_use', id: call.id, name: call.name, input });
  }
  const { usage } = answer;
  const stop = anthropicStop(answer.finish, answer.stopSequence);
  return ok({
    id: init.id,
    type: 'message',
    role: 'assistant',
    model: init.model,
    content,
    stop_reason: stop.reason,
    stop_sequence: stop.sequence,
    usage: {
      input_tokens: usage.inputTokens,
      output_tokens: usage.outputTokens,
      ...(usage.cachedInputTokens === undefined ? {} : { cache_read_input_tokens: usage.cachedInputTokens }),
    },
  });
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) /* a non-null, non-array object: narrowed by the test before it */ : undefined;
  } catch {
    return undefined;
  }
}
