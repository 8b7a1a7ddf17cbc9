// The strict chat normalizer (issue 11): a schema-validated OpenAI- or Anthropic-shaped
// conversation → ValidConversation, or the first broken rule as INVALID_PARAMS naming the wire
// field (`messages[2].tool_call_id`). Nothing is clamped, rewritten or dropped silently.
// Rules and the order they are checked in: docs/chat.md.

import type { Result } from '../errors.ts';
import type { ChatCapabilities, ValidConversation } from './conversation.ts';
import { normalizeAnthropic, type AnthropicChatInput } from './normalize-anthropic.ts';
import { normalizeOpenAi, type OpenAiChatInput } from './normalize-openai.ts';

export type ChatInput =
  | { dialect: 'openai'; body: OpenAiChatInput }
  | { dialect: 'anthropic'; body: AnthropicChatInput };

export function normalizeChat(input: ChatInput, caps: ChatCapabilities): Result<ValidConversation> {
  return input.dialect === 'openai' ? normalizeOpenAi(input.body, caps) : normalizeAnthropic(input.body, caps);
}

export type { AnthropicChatInput, OpenAiChatInput };
