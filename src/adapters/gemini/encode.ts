// Canonical request → Gemini `POST /{version}/models/{model}:streamGenerateContent?alt=sse` body
// (ENGINES.md §9; ai.google.dev API reference: Content, Part, FunctionDeclaration, ToolConfig,
// GenerationConfig). Pure. Instructions go to `systemInstruction`; roles are `user` and `model`;
// a tool result is a `functionResponse` part in a user turn, named after the call it answers.
// What the wire cannot say is a warning; what it cannot carry at all (image URLs) is refused.

import type { ContentPart } from '../../core/chat/content.ts';
import type { ChatMessage } from '../../core/chat/message.ts';
import type { ResponseFormat } from '../../core/chat/response-format.ts';
import type { ToolChoice } from '../../core/chat/tool-choice.ts';
import type { ChatWarning } from '../../core/chat/warning.ts';
import { EngineError, type CanonicalRequest } from '../contract.ts';

export type GeminiPart =
  | { text: string }
  | { inlineData: { mimeType: string; data: string } }
  | { functionCall: { name: string; args: Record<string, unknown> } }
  | { functionResponse: { name: string; response: { output: string } | { error: string } } };

export interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

export interface GeminiGenerationConfig {
  maxOutputTokens: number;
  temperature?: number;
  topP?: number;
  stopSequences?: string[];
  seed?: number;
  responseMimeType?: 'application/json';
  responseJsonSchema?: Record<string, unknown>;
}

export interface GeminiBody {
  contents: GeminiContent[];
  systemInstruction?: { parts: { text: string }[] };
  tools?: { functionDeclarations: { name: string; description?: string; parametersJsonSchema: Record<string, unknown> }[] }[];
  toolConfig?: { functionCallingConfig: { mode: 'AUTO' | 'ANY' | 'NONE'; allowedFunctionNames?: string[] } };
  generationConfig: GeminiGenerationConfig;
}

export interface EncodedGemini {
  body: GeminiBody;
  warnings: ChatWarning[];
}

/** The stream route; `alt=sse` makes it SSE (without it the answer is one progressively sent JSON array). */
export function geminiStreamPath(apiVersion: string, model: string): string {
  return `${geminiModelPath(apiVersion, model)}:streamGenerateContent?alt=sse`;
}

/** `models.get`: the model's limits and version (used by health and props). */
export function geminiModelPath(apiVersion: string, model: string): string {
  return `/${apiVersion}/models/${encodeURIComponent(model.replace(/^models\//, ''))}`;
}

/** Throws EngineError INVALID_PARAMS naming the field when the conversation holds what Gemini cannot take. */
export function encodeGemini(req: CanonicalRequest): EncodedGemini {
  const warnings: ChatWarning[] = [];
  const generationConfig: GeminiGenerationConfig = { maxOutputTokens: req.maxTokens };
  if (req.temperature !== undefined) generationConfig.temperature = req.temperature;
  if (req.topP !== undefined) generationConfig.topP = req.topP;
  if (req.stop !== undefined && req.stop.length > 0) generationConfig.stopSequences = req.stop;
  if (req.seed !== undefined) generationConfig.seed = req.seed;
  const chat = req.chat;
  if (chat === undefined) return { body: { contents: [{ role: 'user', parts: [{ text: req.prompt }] }], generationConfig }, warnings };

  const body: GeminiBody = { contents: [], generationConfig };
  const system: { text: string }[] = [];
  const callNames = new Map<string, string>();
  chat.messages.forEach((m, i) => {
    if (m.role === 'system' || m.role === 'developer') {
      if (m.role === 'developer') warnings.push({ code: 'role_renamed', message: 'a developer message was sent to Gemini as a system instruction', field: `messages[${i}].role` });
      system.push(...m.content.map((p) => ({ text: p.text })));
      return;
    }
    if (m.role === 'assistant') for (const c of m.toolCalls) callNames.set(c.id, c.name);
    appendContent(body.contents, toContent(m, i, callNames));
  });
  if (system.length > 0) body.systemInstruction = { parts: system };
  if (chat.tools.length > 0) {
    body.tools = [{
      functionDeclarations: chat.tools.map((t) => ({ name: t.name, ...(t.description === undefined ? {} : { description: t.description }), parametersJsonSchema: t.parameters })),
    }];
    body.toolConfig = { functionCallingConfig: toolConfig(chat.toolChoice) };
    if (chat.parallelToolCalls === false) {
      warnings.push({ code: 'field_not_forwarded', message: 'Gemini cannot be told to call at most one tool per turn', field: 'parallel_tool_calls' });
    }
  }
  applyResponseFormat(generationConfig, chat.responseFormat);
  return { body, warnings };
}

/** Gemini wants all parts of one speaker's turn together (all function responses of a turn in one user content). */
function appendContent(contents: GeminiContent[], next: GeminiContent): void {
  const last = contents.at(-1);
  if (last !== undefined && last.role === next.role) last.parts.push(...next.parts);
  else contents.push(next);
}

function toContent(m: ChatMessage, i: number, callNames: ReadonlyMap<string, string>): GeminiContent {
  switch (m.role) {
    case 'system':
    case 'developer':
      throw new Error('instructions are encoded as systemInstruction, never as contents');
    case 'user':
      return { role: 'user', parts: m.content.map((p, j) => userPart(p, `messages[${i}].content[${j}]`)) };
    case 'assistant': {
      const parts: GeminiPart[] = m.content.filter((p) => p.text.length > 0).map((p) => ({ text: p.text }));
      // The normalizer proved each call's arguments are the JSON text of an object.
      for (const c of m.toolCalls) parts.push({ functionCall: { name: c.name, args: JSON.parse(c.arguments) as Record<string, unknown> } });
      return { role: 'model', parts: parts.length > 0 ? parts : [{ text: '' }] };
    }
    case 'tool': {
      const name = callNames.get(m.toolCallId);
      if (name === undefined) throw refuse(`messages[${i}].tool_call_id`, 'answers no earlier tool call');
      const text = m.content.map((p, j) => {
        if (p.type === 'text') return p.text;
        throw refuse(`messages[${i}].content[${j}]`, 'is an image, and Gemini function responses carry text only');
      }).join('');
      return { role: 'user', parts: [{ functionResponse: { name, response: m.isError ? { error: text } : { output: text } } }] };
    }
  }
}

function userPart(p: ContentPart, field: string): GeminiPart {
  if (p.type === 'text') return { text: p.text };
  if (p.source.kind === 'base64') return { inlineData: { mimeType: p.source.mediaType, data: p.source.data } };
  throw refuse(field, 'is an image URL, and Gemini takes images inline (base64) only');
}

function refuse(field: string, why: string): EngineError {
  return new EngineError('INVALID_PARAMS', `${field} ${why}`);
}

function toolConfig(choice: ToolChoice): NonNullable<GeminiBody['toolConfig']>['functionCallingConfig'] {
  switch (choice.type) {
    case 'auto':
      return { mode: 'AUTO' };
    case 'none':
      return { mode: 'NONE' };
    case 'required':
      return { mode: 'ANY' };
    case 'tool':
      return { mode: 'ANY', allowedFunctionNames: [choice.name] };
  }
}

function applyResponseFormat(config: GeminiGenerationConfig, format: ResponseFormat): void {
  if (format.type === 'text') return;
  config.responseMimeType = 'application/json';
  if (format.type === 'json_schema') config.responseJsonSchema = format.schema;
}
