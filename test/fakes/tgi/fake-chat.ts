// The TGI fake's Messages API `POST /v1/chat/completions` (ENGINES.md §3, router `chat_completions`):
// body errors are axum 422 text; template/tool errors (e.g. tools and response_format together)
// a real 422 `{"error","error_type"}`; once the SSE response exists every failure (overload,
// validation, generation) is in-band `{"error":{"message","http_status_code":422}}` then [DONE].
// Chunks: `id: ""`, every delta repeats `role: "assistant"` (text chunks `tool_calls: null`), the
// last delta carries the finish reason (`eos_token`, `stop_sequence`, `length`, `tool_calls`),
// `usage: null` except the `choices: []` chunk sent only with `include_usage`. Tool call ids are
// "0", "1", ... (next after the conversation's numeric ids, else a UUID), as TGI numbers them.

import { randomUUID } from 'node:crypto';
import type { FakeExchange } from '../http/fake-server.ts';
import { fakeChatPrompt, planFakeChat, runChatStream, type ChatStep, type ChatWireFormat, type FakeChatScript } from '../http/fake-chat.ts';
import type { FakeMode } from '../http/fake-generation.ts';
import { isRecord, recordField, type JsonRecord } from '../../../src/transport/json-fields.ts';
import { tgiInputLength } from './fake-validation.ts';

export interface TgiChatDeps {
  mode: FakeMode;
  info: { model_id: string; version: string; max_stop_sequences: number; max_input_tokens: number; max_total_tokens: number };
  tokensPerS: number;
  firstTokenDelayMs: number;
  keepAliveEvery: number;
  eosAfterTokens: number | undefined;
}

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', 'x-compute-type': 'gpu+optimized' };
// axum writes `data:` without a space after the colon.
const event = (value: unknown): string => `data:${JSON.stringify(value)}\n\n`;
const DONE = 'data:[DONE]\n\n';
const inBand = (message: string): string => `${event({ error: { message, http_status_code: 422 } })}${DONE}`;

export async function tgiChat(ex: FakeExchange, deps: TgiChatDeps): Promise<void> {
  const body = ex.record.body;
  if (!isRecord(body) || !Array.isArray(body['messages'])) {
    ex.res.writeHead(422, { 'content-type': 'text/plain; charset=utf-8' }).end('Failed to deserialize the JSON body into the target type: missing field `messages`');
    return;
  }
  if (body['response_format'] !== undefined && body['tools'] !== undefined) {
    return ex.json(422, { error: 'Tool error: Grammar and tools are mutually exclusive', error_type: 'tool_error' });
  }
  if (body['stream'] !== true) return ex.json(422, { error: 'this fake implements only stream: true', error_type: 'validation' });
  const seed = typeof body['seed'] === 'number' ? body['seed'] : 0;
  const inputLength = tgiInputLength(fakeChatPrompt(body['messages']));
  const maxTokens = typeof body['max_tokens'] === 'number' ? body['max_tokens'] : deps.info.max_total_tokens - inputLength;
  const invalid = validate(body, inputLength, maxTokens, deps.info);
  // The SSE response (and its 200) starts before scheduling: from here every error is in-band.
  const early =
    invalid !== undefined ? `Input validation error: ${invalid}`
    : deps.mode === 'overloaded' ? 'Model is overloaded'
    : deps.mode === 'fail-before-first-token' ? 'Request failed during generation: Server error: CUDA out of memory. Tried to allocate 2.00 GiB'
    : undefined;
  if (early !== undefined) {
    ex.res.writeHead(200, SSE_HEADERS);
    if (await ex.write(inBand(early))) ex.res.end();
    return;
  }
  const firstId = nextToolCallId(body['messages']);
  const script = planFakeChat({ body, seed, maxTokens, eosAfterTokens: deps.eosAfterTokens, keepStopText: true, toolCallId: (i) => (/^\d+$/.test(firstId) ? String(Number(firstId) + i) : firstId) });
  const includeUsage = recordField(body, 'stream_options')?.['include_usage'] === true;
  ex.record.notes = { includeUsage, inputLength };
  const model = body['model'] === undefined || body['model'] === 'tgi' ? deps.info.model_id : String(body['model']);
  const format = chatFormat(model, deps.info.version, includeUsage, script);
  const pacing = { tokensPerS: deps.tokensPerS, firstTokenDelayMs: deps.firstTokenDelayMs, keepAliveEvery: deps.keepAliveEvery, mode: deps.mode };
  await runChatStream(ex, script, format, pacing);
}

/** The router's checks of the generate request a chat request becomes (validation.rs wording). */
function validate(body: JsonRecord, inputLength: number, maxTokens: number, info: TgiChatDeps['info']): string | undefined {
  const topP = body['top_p'];
  if (topP !== undefined && !(typeof topP === 'number' && topP > 0 && topP < 1)) return '`top_p` must be > 0.0 and < 1.0';
  const temperature = body['temperature'];
  if (temperature !== undefined && !(typeof temperature === 'number' && temperature >= 0)) return '`temperature` must be strictly positive';
  const stop = Array.isArray(body['stop']) ? body['stop'] : [];
  if (stop.length > info.max_stop_sequences) return `\`stop\` supports up to ${info.max_stop_sequences} stop sequences. Given: ${stop.length}`;
  if (!Number.isInteger(maxTokens) || maxTokens <= 0) return '`max_new_tokens` must be strictly positive';
  if (inputLength > info.max_input_tokens) return `\`inputs\` must have less than ${info.max_input_tokens} tokens. Given: ${inputLength}`;
  if (inputLength + maxTokens > info.max_total_tokens) {
    return `\`inputs\` tokens + \`max_new_tokens\` must be <= ${info.max_total_tokens}. Given: ${inputLength} \`inputs\` tokens and ${maxTokens} \`max_new_tokens\``;
  }
  return undefined;
}

/** `ChatRequest::next_tool_call_id`: one past the highest numeric id in the conversation, else a UUID. */
function nextToolCallId(messages: unknown): string {
  let next = 0;
  for (const m of Array.isArray(messages) ? messages.filter(isRecord) : []) {
    for (const call of Array.isArray(m['tool_calls']) ? m['tool_calls'].filter(isRecord) : []) {
      const id = call['id'];
      if (typeof id !== 'string' || !/^\d+$/.test(id)) return randomUUID();
      next = Math.max(next, Number(id) + 1);
    }
  }
  return String(next);
}

/** `script` is known before streaming starts, so the last step can carry the finish reason. */
function chatFormat(model: string, version: string, includeUsage: boolean, script: FakeChatScript): ChatWireFormat {
  const created = Math.floor(Date.now() / 1000);
  const chunk = (choices: unknown[], usage: unknown = null) =>
    event({ object: 'chat.completion.chunk', id: '', created, model, system_fingerprint: `${version}-native`, choices, usage });
  const choice = (delta: unknown, finish: string | null) => ({ index: 0, delta, logprobs: null, finish_reason: finish });
  const deltaOf = (step: ChatStep) =>
    step.kind === 'text'
      ? { role: 'assistant', content: step.piece, tool_calls: null }
      : { role: 'assistant', tool_calls: [{ index: step.index, id: step.id ?? '0', type: 'function', function: { name: step.name ?? null, arguments: step.args } }] };
  const finish = wireFinish(script);
  return {
    headers: SSE_HEADERS,
    keepAlive: ':\n\n',
    opening: '',
    step: (step, last) => chunk([choice(deltaOf(step), last ? finish : null)]),
    closing() {
      const usage = { prompt_tokens: script.promptTokens, completion_tokens: script.completionTokens, total_tokens: script.promptTokens + script.completionTokens };
      const empty = script.steps.length === 0 ? chunk([choice({ role: 'assistant', content: '', tool_calls: null }, wireFinish(script))]) : '';
      return `${empty}${includeUsage ? chunk([], usage) : ''}${DONE}`;
    },
    inBandError: inBand,
  };
}

function wireFinish(script: FakeChatScript): string {
  if (script.finish === 'stop') return script.stoppedBy === undefined ? 'eos_token' : 'stop_sequence';
  return script.finish;
}
