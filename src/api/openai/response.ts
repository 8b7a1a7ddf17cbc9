// Whole answers → OpenAI non-streaming bodies (issue 11): `chat.completion` and the legacy
// `text_completion`. Built from a ChatAnswer (core/chat/answer.ts); serialized once by the route.

import type { ChatAnswer } from '../../core/chat/answer.ts';
import type { Usage } from '../../core/chat/usage.ts';

export interface OpenAiResponseInit {
  id: string;
  model: string;
  created: number;
}

export interface OpenAiUsageBody {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
}

export function openAiUsageBody(usage: Usage): OpenAiUsageBody {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    ...(usage.cachedInputTokens === undefined ? {} : { prompt_tokens_details: { cached_tokens: usage.cachedInputTokens } }),
  };
}

export interface OpenAiChatCompletionBody {
  id: string;
  object: 'chat.completion';
  created: number;
  model: string;
  choices: [{
    index: 0;
    message: {
      role: 'assistant';
      content: string | null;
      refusal: null;
      tool_calls?: { id: string; type: 'function'; function: { name: string; arguments: string } }[];
    };
    logprobs: null;
    finish_reason: ChatAnswer['finish'];
  }];
  usage: OpenAiUsageBody;
}

export function openAiChatCompletion(init: OpenAiResponseInit, answer: ChatAnswer): OpenAiChatCompletionBody {
  const calls = answer.toolCalls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } }));
  return {
    id: init.id,
    object: 'chat.completion',
    created: init.created,
    model: init.model,
    choices: [{
      index: 0,
      message: {
        role: 'assistant',
        // OpenAI sends null content on a turn that only calls tools.
        content: answer.text.length === 0 && calls.length > 0 ? null : answer.text,
        refusal: null,
        ...(calls.length === 0 ? {} : { tool_calls: calls }),
      },
      logprobs: null,
      finish_reason: answer.finish,
    }],
    usage: openAiUsageBody(answer.usage),
  };
}

export interface OpenAiTextCompletionBody {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  choices: [{ index: 0; text: string; logprobs: null; finish_reason: ChatAnswer['finish'] }];
  usage: OpenAiUsageBody;
}

export function openAiTextCompletion(init: OpenAiResponseInit, answer: ChatAnswer): OpenAiTextCompletionBody {
  return {
    id: init.id,
    object: 'text_completion',
    created: init.created,
    model: init.model,
    choices: [{ index: 0, text: answer.text, logprobs: null, finish_reason: answer.finish }],
    usage: openAiUsageBody(answer.usage),
  };
}
