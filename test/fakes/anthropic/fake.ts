// Protocol-faithful fake of the Anthropic Messages API (ENGINES.md §8): a real HTTP server on
// 127.0.0.1 serving `GET /v1/models` and streaming `POST /v1/messages` with `event:` lines —
// message_start, content blocks, `ping` events between deltas, message_delta with cumulative
// usage, message_stop — checking `x-api-key` and `anthropic-version`, answering with Anthropic's
// error bodies, `anthropic-ratelimit-*` headers, 429 `rate_limit_error` with retry-after, 529
// `overloaded_error`, and a mid-stream `event: error`. It records requests and aborts.

import { randomBytes } from 'node:crypto';
import { engineFake, startFakeServer, type EngineFake, type FakeExchange } from '../http/fake-server.ts';
import { runGeneration, type FakeMode, type GenerationFormat } from '../http/fake-generation.ts';
import { fakeTokenize } from '../http/fake-tokens.ts';
import { isRecord, type JsonRecord } from '../../../src/transport/json-fields.ts';

/** FakeMode plus the answers only a hosted API gives before streaming. */
export type AnthropicFakeMode = FakeMode | 'rate-limited' | 'server-error';

export interface AnthropicFakeTuning {
  apiKey: string;
  /** Unlike the real API, quote the presented key in 401 bodies: redaction tests. */
  echoKeyInErrors: boolean;
  remainingRequests: number;
  cacheReadTokens: number;
  eosAfterTokens: number | undefined;
  tokensPerS: number;
  /** `event: ping` after every N tokens (0 = only the one after message_start). */
  pingEvery: number;
  splitChunks: boolean;
}

export interface AnthropicFakeOptions extends Partial<AnthropicFakeTuning> {
  model?: string;
  mode?: AnthropicFakeMode;
}

export interface AnthropicFake extends EngineFake<AnthropicFakeMode> {
  configure(patch: Partial<AnthropicFakeTuning>): void;
}

export const FAKE_TOOL_INPUT = ['', '{"location": "Zü', 'rich"}'];

const event = (type: string, value: JsonRecord): string => `event: ${type}\ndata: ${JSON.stringify({ type, ...value })}\n\n`;
const PING = event('ping', {});

const errorBody = (type: string, message: string) => ({ type: 'error', error: { type, message }, request_id: `req_011C${randomBytes(9).toString('hex')}` });

export async function startAnthropicFake(opts: AnthropicFakeOptions = {}): Promise<AnthropicFake> {
  const tuning: AnthropicFakeTuning = {
    apiKey: opts.apiKey ?? 'sk-ant-fake-key',
    echoKeyInErrors: opts.echoKeyInErrors ?? false,
    remainingRequests: opts.remainingRequests ?? 50,
    cacheReadTokens: opts.cacheReadTokens ?? 0,
    eosAfterTokens: opts.eosAfterTokens,
    tokensPerS: opts.tokensPerS ?? 0,
    pingEvery: opts.pingEvery ?? 0,
    splitChunks: opts.splitChunks ?? false,
  };
  const model = opts.model ?? 'fake-model';
  let mode: AnthropicFakeMode = opts.mode ?? 'ready';

  const server = await startFakeServer(
    async (ex) => {
      const path = ex.record.path.split('?')[0] ?? '/';
      const fail = (status: number, type: string, message: string, headers: Record<string, string> = {}) =>
        ex.json(status, errorBody(type, message), { ...limitHeaders(tuning), ...headers });
      const key = ex.record.headers['x-api-key'];
      if (key !== tuning.apiKey) return fail(401, 'authentication_error', tuning.echoKeyInErrors ? `invalid x-api-key ${String(key)}` : 'invalid x-api-key');
      if (ex.record.headers['anthropic-version'] === undefined) return fail(400, 'invalid_request_error', 'anthropic-version: header is required');
      if (ex.record.method === 'GET' && path === '/v1/models') {
        return ex.json(200, { data: [{ type: 'model', id: model, display_name: 'Fake', created_at: '2025-01-01T00:00:00Z' }], has_more: false, first_id: model, last_id: model }, limitHeaders(tuning));
      }
      if (ex.record.method !== 'POST' || path !== '/v1/messages') return fail(404, 'not_found_error', 'Not found');
      if (mode === 'rate-limited' || tuning.remainingRequests === 0) {
        return fail(429, 'rate_limit_error', 'This request would exceed the rate limit for your organization.', { 'retry-after': '7' });
      }
      if (mode === 'overloaded') return fail(529, 'overloaded_error', 'Overloaded');
      if (mode === 'server-error') return fail(500, 'api_error', 'Internal server error');
      tuning.remainingRequests--;
      return messages(ex, { tuning, model, mode, fail });
    },
    { splitChunks: () => tuning.splitChunks },
  );

  return Object.assign(engineFake<AnthropicFakeMode>(server, (next) => void (mode = next), false), {
    configure: (patch: Partial<AnthropicFakeTuning>) => void Object.assign(tuning, patch),
  });
}

/** Anthropic's documented family (docs "Rate limits"): counts and RFC 3339 resets. */
function limitHeaders(t: AnthropicFakeTuning): Record<string, string> {
  const soon = new Date(Date.now() + 7_000).toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    'request-id': `req_011C${randomBytes(9).toString('hex')}`,
    'anthropic-ratelimit-requests-limit': '50',
    'anthropic-ratelimit-requests-remaining': String(t.remainingRequests),
    'anthropic-ratelimit-requests-reset': soon,
    'anthropic-ratelimit-input-tokens-limit': '30000',
    'anthropic-ratelimit-input-tokens-remaining': '29000',
    'anthropic-ratelimit-input-tokens-reset': soon,
    'anthropic-ratelimit-output-tokens-limit': '8000',
    'anthropic-ratelimit-output-tokens-remaining': '7900',
    'anthropic-ratelimit-output-tokens-reset': soon,
    'anthropic-ratelimit-tokens-limit': '38000',
    'anthropic-ratelimit-tokens-remaining': '36900',
    'anthropic-ratelimit-tokens-reset': soon,
  };
}

interface Deps {
  tuning: AnthropicFakeTuning;
  model: string;
  mode: AnthropicFakeMode;
  fail: (status: number, type: string, message: string) => void;
}

async function messages(ex: FakeExchange, { tuning, model, mode, fail }: Deps): Promise<void> {
  const body = ex.record.body;
  if (!isRecord(body) || !Array.isArray(body['messages']) || body['messages'].length === 0) return fail(400, 'invalid_request_error', 'messages: Field required');
  if (typeof body['max_tokens'] !== 'number') return fail(400, 'invalid_request_error', 'max_tokens: Field required');
  if (body['model'] !== model) return fail(404, 'not_found_error', `model: ${String(body['model'])}`);
  if (body['stream'] !== true) return fail(400, 'invalid_request_error', 'this fake implements only stream: true');
  const text = JSON.stringify([body['system'] ?? '', body['messages']]);
  const input = fakeTokenize(text).length;
  const id = `msg_01${randomBytes(11).toString('hex')}`;
  const usage = { input_tokens: Math.max(1, input - tuning.cacheReadTokens), cache_creation_input_tokens: 0, cache_read_input_tokens: tuning.cacheReadTokens, output_tokens: 1, service_tier: 'standard' };
  const start = event('message_start', { message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage } });
  const headers = { 'content-type': 'text/event-stream; charset=utf-8', ...limitHeaders(tuning) };
  const tool = forcedTool(body);
  if (tool !== undefined) return toolUse(ex, headers, start, tool);
  const stops = Array.isArray(body['stop_sequences']) ? body['stop_sequences'].filter((s): s is string => typeof s === 'string') : [];
  const format: GenerationFormat = {
    headers,
    start: `${start}${PING}${event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } })}`,
    keepAlive: PING,
    token: (piece) => event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: piece } }),
    final: (o) =>
      event('content_block_stop', { index: 0 }) +
      event('message_delta', {
        delta: { stop_reason: o.stop === 'limit' ? 'max_tokens' : o.stop === 'word' ? 'stop_sequence' : 'end_turn', stop_sequence: o.stop === 'word' ? o.stoppingWord : null },
        usage: { output_tokens: o.tokens },
      }) +
      event('message_stop', {}),
    inBandError: () => event('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }),
  };
  await runGeneration(ex, {
    prompt: text,
    seed: 11,
    maxTokens: body['max_tokens'],
    stop: stops,
    eosAfterTokens: tuning.eosAfterTokens,
    tokensPerS: tuning.tokensPerS,
    firstTokenDelayMs: 0,
    keepAliveEvery: tuning.pingEvery,
    mode: mode === 'fail-before-first-token' ? { kind: 'fail-at-token', at: 0 } : (mode as FakeMode),
  }, format);
}

/** `tool_choice` `any` → the first tool; `tool` → the named one. */
function forcedTool(body: JsonRecord): string | undefined {
  const tools = Array.isArray(body['tools']) ? body['tools'].filter(isRecord) : [];
  const choice = body['tool_choice'];
  if (!isRecord(choice)) return undefined;
  if (choice['type'] === 'any' && typeof tools[0]?.['name'] === 'string') return tools[0]['name'];
  return choice['type'] === 'tool' && typeof choice['name'] === 'string' ? choice['name'] : undefined;
}

async function toolUse(ex: FakeExchange, headers: Record<string, string>, start: string, name: string): Promise<void> {
  ex.res.writeHead(200, headers);
  const frames = [
    start,
    event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'Checking.' } }),
    event('content_block_stop', { index: 0 }),
    event('content_block_start', { index: 1, content_block: { type: 'tool_use', id: `toolu_01${randomBytes(11).toString('hex')}`, name, input: {} } }),
    ...FAKE_TOOL_INPUT.map((part) => event('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: part } })),
    PING,
    event('content_block_stop', { index: 1 }),
    event('message_delta', { delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: 17 } }),
    event('message_stop', {}),
  ];
  for (const frame of frames) if (!(await ex.write(frame))) return;
  ex.res.end();
}
