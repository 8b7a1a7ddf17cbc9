// A dialect request, decoded and normalized, becomes a task (ORCH-1100): the conversation's flat
// text is the prompt (admission's size checks and the mock engine's seed read it) and the
// conversation rides along for the engine's chat endpoint.

import type { ValidChatRequest } from '../../core/chat/chat-request.ts';
import { conversationText } from '../../core/chat/prompt-text.ts';
import type { TaskSubmission } from '../../orchestration/task.ts';

export function chatSubmission(req: ValidChatRequest): TaskSubmission {
  return {
    model: req.model,
    prompt: conversationText(req.conversation),
    max_tokens: req.maxTokens,
    ...(req.temperature !== undefined ? { temperature: req.temperature } : {}),
    ...(req.topP !== undefined ? { top_p: req.topP } : {}),
    ...(req.seed !== undefined ? { seed: req.seed } : {}),
    ...(req.stop !== undefined ? { stop: req.stop } : {}),
    chat: req.conversation,
  };
}
