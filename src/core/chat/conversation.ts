// The normalized conversation (issue 11): what a chat front door hands to admission and what a
// chat-capable adapter encodes. `ValidConversation` proves normalize.ts ran; ChatCapabilities
// is what the target declares it can take, so the normalizer refuses instead of dropping.

import type { ChatMessage } from './message.ts';
import type { ResponseFormat } from './response-format.ts';
import type { ToolDefinition } from './tool.ts';
import type { ToolChoice } from './tool-choice.ts';

export interface ValidConversation {
  /** Instructions first, then the turns; never empty, always holds a user message. */
  messages: ChatMessage[];
  tools: ToolDefinition[];
  /** `auto` when the client said nothing (both dialects' default when tools are given). */
  toolChoice: ToolChoice;
  responseFormat: ResponseFormat;
  /** Whether the model may call several tools in one turn; absent = the target's default. */
  parallelToolCalls?: boolean;
}

/** What a chat target can take. An adapter without `capabilities.chat` takes no chat at all. */
export interface ChatCapabilities {
  /** Image content parts. */
  vision: boolean;
  /** Tool definitions, tool choice and tool-call turns. */
  tools: boolean;
  /** `response_format` other than text (json_object, json_schema). */
  responseFormat: boolean;
  /** Per-token log probabilities (OpenAI `logprobs`). */
  logprobs: boolean;
}
