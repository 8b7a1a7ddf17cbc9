// Canonical chat request → llama-server `POST /v1/chat/completions` body (ENGINES.md §1). Pure.
// The shared OpenAI encoding plus llama.cpp's own fields, which its chat route honours like
// `/completion` does: a session's slot (`id_slot`) and prompt-cache reuse (`cache_prompt`).

import type { ChatCanonicalRequest } from '../contract.ts';
import { encodeChat, type ChatCompletionsBody } from '../openai-compat/chat-encode.ts';

export interface LlamacppChatBody extends ChatCompletionsBody {
  /** -1 lets the server pick an idle slot. */
  id_slot: number;
  cache_prompt: boolean;
}

export function encodeLlamacppChat(req: ChatCanonicalRequest): LlamacppChatBody {
  return {
    ...encodeChat(req).body,
    id_slot: req.slotId ?? -1,
    // The server's own default is true; said explicitly so behaviour does not drift with builds.
    cache_prompt: req.cachePrompt ?? true,
  };
}
