// Canonical chat messages (issue 11, issue 13). System and developer instructions lead the
// conversation; a tool message answers one earlier assistant tool call by id. Only the
// normalizer builds these from client input, so holders may trust the invariants it checks.

import type { ContentPart, TextPart } from './content.ts';
import type { ToolCall } from './tool.ts';

export const CHAT_ROLES = ['system', 'developer', 'user', 'assistant', 'tool'] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

export interface InstructionMessage {
  role: 'system' | 'developer';
  content: TextPart[];
}

export interface UserMessage {
  role: 'user';
  content: ContentPart[];
  /** OpenAI's participant `name`; absent when not given. */
  name?: string;
}

export interface AssistantMessage {
  role: 'assistant';
  /** May be empty when the turn only calls tools. */
  content: TextPart[];
  toolCalls: ToolCall[];
}

export interface ToolMessage {
  role: 'tool';
  toolCallId: string;
  content: ContentPart[];
  /** Anthropic `tool_result.is_error`; false when the dialect cannot say. */
  isError: boolean;
}

export type ChatMessage = InstructionMessage | UserMessage | AssistantMessage | ToolMessage;
