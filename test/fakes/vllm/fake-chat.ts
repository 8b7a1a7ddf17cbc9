// The vLLM fake's `POST /v1/chat/completions` (ENGINES.md §2 "Streaming chat"): role chunk with
// `content: ""`, content deltas, tool calls as a name chunk (`id` `chatcmpl-tool-<hex>`) then
// argument chunks, a finish chunk with `stop_reason`, the `choices: []` usage chunk only with
// `stream_options.include_usage`, `data: [DONE]` (also after an in-band error). Tool choice
// "auto" needs `--enable-auto-tool-choice` (`autoToolChoice` tuning), as in vLLM.

import { randomBytes } from 'node:crypto';
import type { FakeExchange } from '../http/fake-server.ts';
import type { FakeMode } from '../http/fake-generation.ts';
import { fakeChatPrompt, planFakeChat, runChatStream, type ChatWireFormat, type FakeChatScript } from '../http/fake-chat.ts';
import { fakeTokenize } from '../http/fake-tokens.ts';
import { isRecord, recordField } from '../../../src/transport/json-fields.ts';
import { errorBody, type VllmErrorStyle } from './fake-format.ts';

export interface VllmChatTuning {
  tokensPerS: number;
  firstTokenDelayMs: number;
  eosAfterTokens: number | undefined;
  keepAliveEvery: number;
  errorStyle: VllmErrorStyle;
  unknownKeys: boolean;
  promptTokensDetails: boolean;
  /** Started with `--enable-auto-tool-choice --tool-call-parser ...`. */
  autoToolChoice: boolean;
}

export interface VllmChatDeps {
  model: string;
  maxModelLen: number;
  tuning: VllmChatTuning;
  mode: FakeMode;
  /** Prefix-cache hit for a prompt (block-aligned), remembering it. */
  reusePrefix: (promptIds: number[]) => number;
}

export async function vllmChat(ex: FakeExchange, deps: VllmChatDeps): Promise<void> {
  const style = deps.tuning.errorStyle;
  const reject = (status: number, type: string, message: string, param: string | null = null) => ex.json(status, errorBody(style, status, type, message, param));
  const body = ex.record.body;
  if (!isRecord(body) || !Array.isArray(body['messages'])) return reject(400, 'BadRequestError', "Field required: 'messages'", 'messages');
  if (body['model'] !== deps.model) return reject(404, 'NotFoundError', `The model \`${String(body['model'])}\` does not exist.`, 'model');
  if (body['stream'] !== true) {
    return body['stream_options'] !== undefined
      ? reject(400, 'BadRequestError', 'Stream options can only be defined when `stream=True`.')
      : reject(400, 'BadRequestError', 'this fake implements only stream: true');
  }
  const tools = Array.isArray(body['tools']) ? body['tools'] : [];
  const choice = body['tool_choice'] ?? 'auto';
  if (tools.length > 0 && choice === 'auto' && !deps.tuning.autoToolChoice) {
    return reject(400, 'BadRequestError', '"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to be set');
  }
  if (deps.mode === 'overloaded') return ex.json(429, errorBody(style, 429, 'TooManyRequestsError', 'server is at capacity'), { 'retry-after': '1' });
  if (deps.mode === 'fail-before-first-token') return reject(500, 'InternalServerError', 'fake engine failure before the first token');
  const seed = typeof body['seed'] === 'number' ? body['seed'] : Math.floor(Math.random() * 2 ** 32);
  const promptIds = fakeTokenize(fakeChatPrompt(body['messages']));
  const maxTokens = typeof body['max_tokens'] === 'number' ? body['max_tokens'] : deps.maxModelLen - promptIds.length;
  if (promptIds.length + maxTokens > deps.maxModelLen) {
    return reject(400, 'BadRequestError', `This model's maximum context length is ${deps.maxModelLen} tokens. However, you requested ${promptIds.length + maxTokens} tokens (${promptIds.length} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`);
  }
  const cachedTokens = deps.tuning.promptTokensDetails ? deps.reusePrefix(promptIds) : undefined;
  const script = planFakeChat({ body, seed, maxTokens, eosAfterTokens: deps.tuning.eosAfterTokens, toolCallId: () => `chatcmpl-tool-${randomBytes(16).toString('hex')}` });
  const includeUsage = recordField(body, 'stream_options')?.['include_usage'] === true;
  ex.record.notes = { includeUsage, cachedTokens };
  await runChatStream(ex, script, chatFormat({ model: deps.model, includeUsage, cachedTokens, tuning: deps.tuning }), {
    tokensPerS: deps.tuning.tokensPerS,
    firstTokenDelayMs: deps.tuning.firstTokenDelayMs,
    keepAliveEvery: deps.tuning.keepAliveEvery,
    mode: deps.mode,
  });
}

interface FormatContext {
  model: string;
  includeUsage: boolean;
  cachedTokens: number | undefined;
  tuning: VllmChatTuning;
}

const data = (value: unknown): string => `data: ${JSON.stringify(value)}\n\n`;

function chatFormat(ctx: FormatContext): ChatWireFormat {
  const id = `chatcmpl-${randomBytes(16).toString('hex')}`;
  const created = Math.floor(Date.now() / 1000);
  const extra = ctx.tuning.unknownKeys ? { kv_transfer_params: null, service_tier: 'default' } : {};
  const chunk = (choices: unknown[], more: Record<string, unknown> = {}) => data({ id, object: 'chat.completion.chunk', created, model: ctx.model, choices, ...more, ...extra });
  const delta = (d: unknown, finish: string | null = null, stopReason: string | null = null) =>
    ({ index: 0, delta: d, logprobs: null, finish_reason: finish, ...(finish === null ? {} : { stop_reason: stopReason }) });
  return {
    headers: { 'content-type': 'text/event-stream; charset=utf-8', server: 'uvicorn' },
    keepAlive: ': ping\n\n',
    opening: chunk([delta({ role: 'assistant', content: '' })]),
    step(step) {
      if (step.kind === 'text') return chunk([delta({ content: step.piece })]);
      const fragment = chunk([delta({ tool_calls: [{ index: step.index, function: { arguments: step.args } }] })]);
      if (step.name === undefined) return fragment;
      // vLLM's tool parsers send the name (with the id) on its own before any argument text.
      return chunk([delta({ tool_calls: [{ id: step.id, type: 'function', index: step.index, function: { name: step.name } }] })]) + fragment;
    },
    closing(script) {
      const finish = chunk([delta({ content: '' }, script.finish, script.stoppedBy ?? null)]);
      return `${finish}${ctx.includeUsage ? chunk([], { usage: usageOf(script, ctx.cachedTokens) }) : ''}data: [DONE]\n\n`;
    },
    inBandError: (message) => `${data(errorBody(ctx.tuning.errorStyle, 500, 'InternalServerError', message))}data: [DONE]\n\n`,
  };
}

function usageOf(script: FakeChatScript, cachedTokens: number | undefined): Record<string, unknown> {
  return {
    prompt_tokens: script.promptTokens,
    total_tokens: script.promptTokens + script.completionTokens,
    completion_tokens: script.completionTokens,
    prompt_tokens_details: cachedTokens === undefined ? null : { cached_tokens: cachedTokens },
  };
}
