// A chat request after its dialect codec and the normalizer ran (issue 11): dialect-free, what
// the routes hand to admission as a task. `maxTokens` is always set: the dialect's default
// (OpenAI lets it be omitted) comes from configuration, never from a guess.

import type { ValidConversation } from './conversation.ts';

export interface ValidChatRequest {
  /** The client-facing model name or alias, resolved to a pool by admission. */
  model: string;
  maxTokens: number;
  conversation: ValidConversation;
  temperature?: number;
  topP?: number;
  seed?: number;
  stop?: string[];
  /** The end user the client names (OpenAI `user`, Anthropic `metadata.user_id`), for audit. */
  user?: string;
  stream: boolean;
  /** OpenAI `stream_options.include_usage`: send the `choices: []` usage chunk. */
  includeUsage: boolean;
}

/** What a dialect codec needs to know beyond the body. */
export interface ChatRequestLimits {
  /** `max_tokens` used when an OpenAI client gives none (config; documented per pool). */
  defaultMaxTokens: number;
}
