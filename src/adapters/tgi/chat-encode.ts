// Canonical chat request → TGI Messages API `POST /v1/chat/completions` body (router `ChatRequest`,
// ENGINES.md §3). Pure. The shared OpenAI encoding with TGI's differences: `model` selects a LoRA
// adapter on TGI ("tgi" = the base model), `response_format` is TGI's `{type, value}` grammar,
// `top_p` 1.0 is rejected ("must be > 0.0 and < 1.0") and means no nucleus cut, so it is left out.
// TGI makes at most one tool call per answer and ignores `parallel_tool_calls`, so it is not sent.

import type { ResponseFormat } from '../../core/chat/response-format.ts';
import type { ChatCanonicalRequest } from '../contract.ts';
import { encodeChat, type ChatCompletionsBody } from '../openai-compat/chat-encode.ts';

/** TGI `GrammarType` (`#[serde(tag = "type", content = "value")]`); `json_object` is an alias of `json`. */
export type TgiGrammar =
  | { type: 'json_object'; value: Record<string, unknown> }
  | { type: 'json_schema'; value: { name: string; schema: Record<string, unknown> } };

export interface TgiChatBody extends Omit<ChatCompletionsBody, 'response_format' | 'parallel_tool_calls'> {
  response_format?: TgiGrammar;
}

/** The base model, not an adapter (router: `model.filter(|m| *m != "tgi")`). */
export const TGI_BASE_MODEL = 'tgi';

export function encodeTgiChat(req: ChatCanonicalRequest): TgiChatBody {
  const { response_format: _openAiFormat, parallel_tool_calls: _parallel, top_p: topP, ...shared } = encodeChat(req).body;
  const body: TgiChatBody = { ...shared, model: TGI_BASE_MODEL };
  if (topP !== undefined && topP !== 1) body.top_p = topP;
  const grammar = tgiGrammar(req.chat.responseFormat);
  if (grammar !== undefined) body.response_format = grammar;
  return body;
}

function tgiGrammar(format: ResponseFormat): TgiGrammar | undefined {
  switch (format.type) {
    case 'text':
      return undefined;
    case 'json_object':
      return { type: 'json_object', value: { type: 'object' } };
    case 'json_schema':
      return { type: 'json_schema', value: { name: format.name, schema: format.schema } };
  }
}
