// An OpenAI-compatible provider's Chat Completions stream → canonical events: the shared chat
// decoder (OpenAI chunks, OpenRouter's `: OPENROUTER PROCESSING` comments, trailing usage chunk
// and `usage.cost`; ENGINES.md §6, §7). Provider call ids are unique, so they are kept. A
// completion (non-chat) request ends `stop` or `length` (CompletionEnds: `content_filter` and
// `tool_calls` read as `stop`); neither OpenAI nor OpenRouter says which stop string matched.

import type { CanonicalRequest } from '../contract.ts';
import { CompletionEnds } from '../http/completion-as-chat.ts';
import type { CountingDecoder } from '../http/engine.ts';
import { ChatStreamDecoder } from '../openai-compat/chat-decode.ts';

export function openAiDecoder(req: CanonicalRequest): CountingDecoder {
  const chat = new ChatStreamDecoder({ toolCallIds: 'engine', idPrefix: `call_${req.taskId}` });
  return req.chat === undefined ? new CompletionEnds(chat) : chat;
}
