// The llama.cpp fake's `POST /v1/chat/completions` (ENGINES.md §1 "OAI-compatible"): role chunk
// with `content: null`, content and `tool_calls` deltas, finish chunk `delta: {}`, a `choices: []`
// usage chunk only with `stream_options.include_usage` (older builds: usage in the finish chunk,
// always), `timings` on the last chunk, `data: [DONE]`. Errors before the stream are real statuses;
// after it `data: {"error"}` (or the legacy `error:` line) and the stream ends without [DONE].
// Tools need `--jinja` (`jinja` tuning), as in llama-server. Slots and prefix reuse as /completion.

import { randomBytes } from 'node:crypto';
import type { FakeExchange } from '../http/fake-server.ts';
import type { FakeMode } from '../http/fake-generation.ts';
import { fakeChatPrompt, planFakeChat, runChatStream, type ChatStep, type ChatWireFormat, type FakeChatScript } from '../http/fake-chat.ts';
import { commonPrefixLength, fakeTokenize } from '../http/fake-tokens.ts';
import { isRecord, recordField, type JsonRecord } from '../../../src/transport/json-fields.ts';
import type { FakeSlotTable } from './fake-slots.ts';
import { NO_SLOT_BODY, errorBody } from './fake-format.ts';

export interface LlamacppChatTuning {
  tokensPerS: number;
  firstTokenDelayMs: number;
  eosAfterTokens: number | undefined;
  keepAliveEvery: number;
  errorStyle: 'data' | 'legacy';
  unknownKeys: boolean;
  /** llama-server runs with `--jinja` (tools accepted). */
  jinja: boolean;
  /** An older build (b6097): usage in the finish chunk whether asked or not, no usage chunk. */
  usageInFinishChunk: boolean;
}

export interface LlamacppChatDeps {
  slots: FakeSlotTable;
  tuning: LlamacppChatTuning;
  mode: FakeMode;
  modelAlias: string;
  buildInfo: string;
}

export async function llamacppChat(ex: FakeExchange, deps: LlamacppChatDeps): Promise<void> {
  const body = ex.record.body;
  const fail = (status: number, message: string, type: string, extra: Record<string, unknown> = {}) => ex.json(status, errorBody(status, message, type, extra));
  if (!isRecord(body) || !Array.isArray(body['messages']) || body['messages'].length === 0) {
    return fail(400, "'messages' is required and must be a non-empty array", 'invalid_request_error');
  }
  if (body['stream'] !== true) return fail(400, 'this fake implements only stream: true', 'invalid_request_error');
  const tools = body['tools'];
  // utils.hpp oaicompat_chat_params_parse: a runtime_error, so HTTP 500 server_error.
  if (Array.isArray(tools) && tools.length > 0 && !deps.tuning.jinja) return fail(500, 'tools param requires --jinja flag', 'server_error');
  if (deps.mode === 'overloaded') return ex.json(503, NO_SLOT_BODY);
  if (deps.mode === 'fail-before-first-token') return fail(500, 'fake engine failure before the first token', 'server_error');
  const seed = intOr(body, 'seed', -1) >= 0 ? intOr(body, 'seed', -1) : Math.floor(Math.random() * 2 ** 32);
  const promptIds = fakeTokenize(fakeChatPrompt(body['messages']));
  const room = deps.slots.nCtx - promptIds.length;
  if (room <= 0) {
    return fail(400, 'the request exceeds the available context size, try increasing it', 'exceed_context_size_error', { n_prompt_tokens: promptIds.length, n_ctx: deps.slots.nCtx });
  }
  const slot = deps.slots.acquire(intOr(body, 'id_slot', -1), promptIds);
  if (slot === undefined) return ex.json(503, NO_SLOT_BODY);
  const cacheN = body['cache_prompt'] === false ? 0 : Math.min(commonPrefixLength(slot.cache, promptIds), promptIds.length - 1);
  const maxTokens = intOr(body, 'max_tokens', intOr(body, 'n_predict', -1));
  const script = planFakeChat({
    body,
    seed,
    maxTokens: maxTokens < 0 ? room : Math.min(maxTokens, room),
    eosAfterTokens: deps.tuning.eosAfterTokens,
    toolCallId: () => randomBytes(24).toString('base64url').slice(0, 32),
  });
  ex.record.notes = { slot: slot.id, cacheN, idSlot: body['id_slot'], cachePrompt: body['cache_prompt'], includeUsage: includeUsage(body) };
  const format = chatFormat({ deps, cacheN, includeUsage: includeUsage(body), startedAt: performance.now() });
  try {
    await runChatStream(ex, script, format, {
      tokensPerS: deps.tuning.tokensPerS,
      firstTokenDelayMs: deps.tuning.firstTokenDelayMs,
      keepAliveEvery: deps.tuning.keepAliveEvery,
      mode: deps.mode,
    });
  } finally {
    deps.slots.release(slot, [...promptIds, ...fakeTokenize(textOf(script.steps.slice(0, ex.record.tokensSent)))]);
  }
}

const includeUsage = (body: JsonRecord): boolean => recordField(body, 'stream_options')?.['include_usage'] === true;

function textOf(steps: readonly ChatStep[]): string {
  return steps.map((s) => (s.kind === 'text' ? s.piece : s.args)).join('');
}

interface FormatContext {
  deps: LlamacppChatDeps;
  cacheN: number;
  includeUsage: boolean;
  startedAt: number;
}

function chatFormat(ctx: FormatContext): ChatWireFormat {
  const id = `chatcmpl-${randomBytes(16).toString('base64url').slice(0, 20)}`;
  const created = Math.floor(Date.now() / 1000);
  const extra = ctx.deps.tuning.unknownKeys ? { __future_field: { note: 'unknown keys must be ignored' } } : {};
  const chunk = (choices: unknown[], more: Record<string, unknown> = {}): string =>
    `data: ${JSON.stringify({ choices, created, id, model: ctx.deps.modelAlias, system_fingerprint: ctx.deps.buildInfo, object: 'chat.completion.chunk', ...more, ...extra })}\n\n`;
  const delta = (d: unknown, finish: string | null = null) => ({ finish_reason: finish, index: 0, delta: d });
  return {
    headers: { 'Content-Type': 'text/event-stream', Server: 'llama.cpp' },
    keepAlive: ':\n\n',
    opening: chunk([delta({ role: 'assistant', content: null })]),
    step(step) {
      if (step.kind === 'text') return chunk([delta({ content: step.piece })]);
      const call = step.name === undefined
        ? { index: step.index, function: { arguments: step.args } }
        : { index: step.index, id: step.id, type: 'function', function: { name: step.name, arguments: step.args } };
      return chunk([delta({ tool_calls: [call] })]);
    },
    closing(script) {
      const usage = usageOf(script);
      const timings = timingsOf(script, ctx);
      if (ctx.deps.tuning.usageInFinishChunk) return `${chunk([delta({}, script.finish)], { usage, timings })}data: [DONE]\n\n`;
      if (!ctx.includeUsage) return `${chunk([delta({}, script.finish)], { timings })}data: [DONE]\n\n`;
      return `${chunk([delta({}, script.finish)])}${chunk([], { usage, timings })}data: [DONE]\n\n`;
    },
    inBandError(message) {
      const error = { code: 500, message, type: 'server_error' };
      return ctx.deps.tuning.errorStyle === 'legacy' ? `error: ${JSON.stringify(error)}\n\n` : `data: ${JSON.stringify({ error })}\n\n`;
    },
  };
}

function usageOf(script: FakeChatScript): Record<string, number> {
  return { completion_tokens: script.completionTokens, prompt_tokens: script.promptTokens, total_tokens: script.promptTokens + script.completionTokens };
}

function timingsOf(script: FakeChatScript, ctx: FormatContext): Record<string, number> {
  const elapsedMs = Math.max(0.001, performance.now() - ctx.startedAt);
  return { cache_n: ctx.cacheN, prompt_n: script.promptTokens - ctx.cacheN, prompt_ms: elapsedMs / 2, predicted_n: script.completionTokens, predicted_ms: elapsedMs / 2 };
}

function intOr(body: JsonRecord, key: string, fallback: number): number {
  const v = body[key];
  return typeof v === 'number' && Number.isInteger(v) ? v : fallback;
}
