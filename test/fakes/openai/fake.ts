// Protocol-faithful fake of an OpenAI-compatible provider (OpenAI or OpenRouter flavour): a real
// HTTP server on 127.0.0.1 serving `GET <prefix>/models` and streaming
// `POST <prefix>/chat/completions`, checking `Authorization: Bearer <key>`, answering with the
// provider's error bodies, `x-ratelimit-*` headers (OpenAI) and a request budget that runs out
// into a 429. It records requests and aborts. Shared by tests and bench/.

import { randomBytes } from 'node:crypto';
import { engineFake, startFakeServer, type EngineFake, type FakeExchange } from '../http/fake-server.ts';
import { runGeneration, type FakeMode } from '../http/fake-generation.ts';
import { fakeTokenize } from '../http/fake-tokens.ts';
import { isRecord, type JsonRecord } from '../../../src/transport/json-fields.ts';
import { chatFormat, chunkWriter, errorBody, type ChatChunkContext, type OpenAiFlavour } from './fake-format.ts';

export type { OpenAiFlavour } from './fake-format.ts';

/** FakeMode plus the answers only a hosted API gives before streaming. */
export type ProviderFakeMode = FakeMode | 'rate-limited' | 'server-error';

export interface OpenAiFakeTuning {
  flavour: OpenAiFlavour;
  /** The key the fake accepts. */
  apiKey: string;
  /** Unlike the real APIs (which mask it), quote the presented key in 401 bodies: redaction tests. */
  echoKeyInErrors: boolean;
  /** Requests left in the window (`x-ratelimit-remaining-requests`); at 0 the fake answers 429. */
  remainingRequests: number;
  cachedTokens: number;
  costPerToken: number;
  eosAfterTokens: number | undefined;
  tokensPerS: number;
  keepAliveEvery: number;
  splitChunks: boolean;
}

export interface OpenAiFakeOptions extends Partial<OpenAiFakeTuning> {
  model?: string;
  mode?: ProviderFakeMode;
}

export interface OpenAiFake extends EngineFake<ProviderFakeMode> {
  configure(patch: Partial<OpenAiFakeTuning>): void;
  /** The API base URL an SDK would take (`…/v1`, or `…/api/v1` for OpenRouter). */
  readonly baseUrl: string;
}

/** The arguments the fake's scripted tool call streams, in fragments. */
export const FAKE_TOOL_ARGUMENTS = ['{"loc', 'ation":"Zü', 'rich"}'];

export async function startOpenAiFake(opts: OpenAiFakeOptions = {}): Promise<OpenAiFake> {
  const tuning: OpenAiFakeTuning = {
    flavour: opts.flavour ?? 'openai',
    apiKey: opts.apiKey ?? 'sk-fake-key',
    echoKeyInErrors: opts.echoKeyInErrors ?? false,
    remainingRequests: opts.remainingRequests ?? 500,
    cachedTokens: opts.cachedTokens ?? 0,
    costPerToken: opts.costPerToken ?? 0.000002,
    eosAfterTokens: opts.eosAfterTokens,
    tokensPerS: opts.tokensPerS ?? 0,
    keepAliveEvery: opts.keepAliveEvery ?? 0,
    splitChunks: opts.splitChunks ?? false,
  };
  const model = opts.model ?? 'fake-model';
  let mode: ProviderFakeMode = opts.mode ?? 'ready';
  const prefix = () => (tuning.flavour === 'openrouter' ? '/api/v1' : '/v1');

  const server = await startFakeServer(
    async (ex) => {
      const path = ex.record.path.split('?')[0] ?? '/';
      const fail = (status: number, type: string, message: string, code: string | null = null, headers: Record<string, string> = {}) =>
        ex.json(status, errorBody(tuning.flavour, status, type, message, code), { ...limitHeaders(tuning), ...headers });
      const presented = /^Bearer (.+)$/.exec(String(ex.record.headers['authorization'] ?? ''))?.[1];
      if (presented !== tuning.apiKey) {
        const shown = tuning.echoKeyInErrors ? presented ?? '' : `${(presented ?? '').slice(0, 3)}****${(presented ?? '').slice(-4)}`;
        return fail(401, 'invalid_request_error', `Incorrect API key provided: ${shown}.`, 'invalid_api_key');
      }
      if (ex.record.method === 'GET' && path === `${prefix()}/models`) {
        return ex.json(200, { object: 'list', data: [{ id: model, object: 'model', created: 1_735_689_600, owned_by: 'system' }] }, limitHeaders(tuning));
      }
      if (ex.record.method !== 'POST' || path !== `${prefix()}/chat/completions`) return fail(404, 'invalid_request_error', `Unknown request URL: ${ex.record.method} ${path}.`);
      return chat(ex, { tuning, model, mode, fail });
    },
    { splitChunks: () => tuning.splitChunks },
  );

  return Object.assign(engineFake<ProviderFakeMode>(server, (next) => void (mode = next), false), {
    configure: (patch: Partial<OpenAiFakeTuning>) => void Object.assign(tuning, patch),
    get baseUrl() {
      return `${server.url}${prefix()}`;
    },
  });
}

/** OpenAI's documented family (guides/rate-limits); OpenRouter sends none. */
function limitHeaders(t: OpenAiFakeTuning): Record<string, string> {
  if (t.flavour === 'openrouter') return {};
  return {
    'x-request-id': `req_${randomBytes(8).toString('hex')}`,
    'x-ratelimit-limit-requests': '500',
    'x-ratelimit-remaining-requests': String(t.remainingRequests),
    'x-ratelimit-reset-requests': t.remainingRequests === 0 ? '1.5s' : '120ms',
    'x-ratelimit-limit-tokens': '200000',
    'x-ratelimit-remaining-tokens': '199000',
    'x-ratelimit-reset-tokens': '6m0s',
  };
}

interface ChatDeps {
  tuning: OpenAiFakeTuning;
  model: string;
  mode: ProviderFakeMode;
  fail: (status: number, type: string, message: string, code?: string | null, headers?: Record<string, string>) => void;
}

async function chat(ex: FakeExchange, { tuning, model, mode, fail }: ChatDeps): Promise<void> {
  const body = ex.record.body;
  if (!isRecord(body) || !Array.isArray(body['messages']) || body['messages'].length === 0) return fail(400, 'invalid_request_error', "Missing required parameter: 'messages'.");
  if (body['model'] !== model) return fail(404, 'invalid_request_error', `The model \`${String(body['model'])}\` does not exist or you do not have access to it.`, 'model_not_found');
  if (body['stream'] !== true) return fail(400, 'invalid_request_error', 'this fake implements only stream: true');
  if (mode === 'rate-limited') return fail(429, 'requests', 'Rate limit reached on requests per min (RPM). Please try again in 20s.', 'rate_limit_exceeded', { 'retry-after': '20' });
  if (tuning.remainingRequests === 0) return fail(429, 'requests', 'Rate limit reached on requests per min (RPM).', 'rate_limit_exceeded');
  if (mode === 'overloaded') return fail(503, 'server_error', 'The server is overloaded or not ready yet.', null, { 'retry-after': '2' });
  if (mode === 'server-error' || (mode === 'fail-before-first-token' && tuning.flavour === 'openai')) return fail(500, 'server_error', 'The server had an error while processing your request.');
  tuning.remainingRequests--;
  const text = flatText(body['messages']);
  const ctx: ChatChunkContext = {
    flavour: tuning.flavour,
    id: tuning.flavour === 'openrouter' ? `gen-${Math.floor(Date.now() / 1000)}-${randomBytes(10).toString('hex')}` : `chatcmpl-${randomBytes(12).toString('hex')}`,
    created: Math.floor(Date.now() / 1000),
    model,
    promptTokens: fakeTokenize(text).length,
    cachedTokens: tuning.cachedTokens,
    includeUsage: isRecord(body['stream_options']) && body['stream_options']['include_usage'] === true,
    costPerToken: tuning.costPerToken,
  };
  const headers = { ...limitHeaders(tuning), ...(tuning.flavour === 'openrouter' ? { 'x-generation-id': ctx.id } : {}) };
  const forced = forcedTool(body);
  if (forced !== undefined) return toolCall(ex, ctx, headers, forced);
  const maxTokens = typeof body['max_tokens'] === 'number' ? body['max_tokens'] : typeof body['max_completion_tokens'] === 'number' ? body['max_completion_tokens'] : 16;
  // OpenRouter's in-band failure before the first token: HTTP 200, then an error chunk.
  const generationMode: FakeMode = mode === 'fail-before-first-token' ? { kind: 'fail-at-token', at: 0 } : (mode as FakeMode);
  await runGeneration(ex, {
    prompt: text,
    seed: typeof body['seed'] === 'number' ? body['seed'] : 7,
    maxTokens,
    stop: Array.isArray(body['stop']) ? body['stop'].filter((s): s is string => typeof s === 'string') : [],
    eosAfterTokens: tuning.eosAfterTokens,
    tokensPerS: tuning.tokensPerS,
    firstTokenDelayMs: 0,
    keepAliveEvery: tuning.keepAliveEvery,
    mode: generationMode,
  }, chatFormat(ctx, headers));
}

function flatText(messages: unknown[]): string {
  return messages
    .map((m) => (isRecord(m) ? (typeof m['content'] === 'string' ? m['content'] : JSON.stringify(m['content'] ?? '')) : ''))
    .join('\n');
}

/** The tool the request forces (`required` → the first, or the named one). */
function forcedTool(body: JsonRecord): string | undefined {
  const tools = Array.isArray(body['tools']) ? body['tools'].filter(isRecord) : [];
  const first = tools[0];
  const firstName = first !== undefined && isRecord(first['function']) ? first['function']['name'] : undefined;
  const choice = body['tool_choice'];
  if (choice === 'required' && typeof firstName === 'string') return firstName;
  if (isRecord(choice) && isRecord(choice['function']) && typeof choice['function']['name'] === 'string') return choice['function']['name'];
  return undefined;
}

async function toolCall(ex: FakeExchange, ctx: ChatChunkContext, headers: Record<string, string>, name: string): Promise<void> {
  const w = chunkWriter(ctx);
  ex.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', ...headers });
  const id = `call_${randomBytes(12).toString('hex')}`;
  const frames = [
    w.start,
    w.chunk({ content: null, tool_calls: [{ index: 0, id, type: 'function', function: { name, arguments: '' } }] }),
    ...FAKE_TOOL_ARGUMENTS.map((part) => w.chunk({ tool_calls: [{ index: 0, function: { arguments: part } }] })),
    w.finish('tool_calls', 1 + FAKE_TOOL_ARGUMENTS.length),
  ];
  for (const frame of frames) if (!(await ex.write(frame))) return;
  ex.res.end();
}
