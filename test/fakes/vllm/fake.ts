// Protocol-faithful vLLM fake: a real HTTP server on 127.0.0.1 speaking `/v1/completions` and
// `/v1/chat/completions` (fake-chat.ts) SSE with `[DONE]`, `/health` (200, empty), `/version`,
// `/v1/models`. While "loading" it truly
// refuses TCP (vLLM binds before its engine is up but listens only after), then listens again
// on the same port. Deterministic tokens; shared by tests and bench/.

import { randomBytes } from 'node:crypto';
import { engineFake, startFakeServer, type EngineFake, type FakeExchange, type SeenRequest } from '../http/fake-server.ts';
import { runGeneration, type FakeMode } from '../http/fake-generation.ts';
import { commonPrefixLength, fakeTokenize } from '../http/fake-tokens.ts';
import { isRecord, recordField, type JsonRecord } from '../../../src/transport/json-fields.ts';
import { fakeGauges, writePromText, type FakeMetricsSetting } from '../http/fake-metrics.ts';
import { errorBody, vllmFormat, vllmMetricsText, type VllmErrorStyle } from './fake-format.ts';
import { vllmChat } from './fake-chat.ts';

export { fakeCompletion, fakeTokenStream, fakeTokenize } from '../http/fake-tokens.ts';
export type { FakeMode } from '../http/fake-generation.ts';
export type { SeenRequest } from '../http/fake-server.ts';

export interface VllmFakeTuning {
  /** Decode speed; 0 (default) = as fast as the event loop allows. */
  tokensPerS: number;
  firstTokenDelayMs: number;
  /** Emit end-of-sequence after this many tokens (finish_reason "stop"); undefined = never. */
  eosAfterTokens: number | undefined;
  /** `: ping` comment before the first token and after every N tokens; 0 = none (vLLM sends none). */
  keepAliveEvery: number;
  splitChunks: boolean;
  /** Error bodies nested `{"error":{...}}` (current) or flat `{"object":"error",...}` (older). */
  errorStyle: VllmErrorStyle;
  unknownKeys: boolean;
  /** Report `usage.prompt_tokens_details.cached_tokens` (server flag --enable-prompt-tokens-details). */
  promptTokensDetails: boolean;
  /** `GET /metrics` gauges (left out = live: running = open generations); false = 404. */
  metrics: FakeMetricsSetting;
  /** Started with `--enable-auto-tool-choice --tool-call-parser ...` (else chat tool_choice "auto" is a 400). */
  autoToolChoice: boolean;
}

export interface VllmFakeOptions extends Partial<VllmFakeTuning> {
  port?: number;
  model?: string;
  maxModelLen?: number;
  version?: string;
  mode?: FakeMode;
}

/** Entering "loading" stops listening; leaving it listens again on the same port. */
export interface VllmFake extends EngineFake<FakeMode> {
  configure(patch: Partial<VllmFakeTuning>): void;
}

/** vLLM's automatic prefix caching works on whole KV blocks. */
const BLOCK_TOKENS = 16;
const REMEMBERED_PROMPTS = 64;

export async function startVllmFake(opts: VllmFakeOptions = {}): Promise<VllmFake> {
  const tuning: VllmFakeTuning = {
    tokensPerS: opts.tokensPerS ?? 0,
    firstTokenDelayMs: opts.firstTokenDelayMs ?? 0,
    eosAfterTokens: opts.eosAfterTokens,
    keepAliveEvery: opts.keepAliveEvery ?? 0,
    splitChunks: opts.splitChunks ?? false,
    errorStyle: opts.errorStyle ?? 'nested',
    unknownKeys: opts.unknownKeys ?? false,
    promptTokensDetails: opts.promptTokensDetails ?? false,
    metrics: opts.metrics ?? {},
    autoToolChoice: opts.autoToolChoice ?? true,
  };
  const model = opts.model ?? 'fake-model';
  const maxModelLen = opts.maxModelLen ?? 4096;
  const version = opts.version ?? '0.11.0';
  const prefixCache: number[][] = [];
  let mode: FakeMode = opts.mode ?? 'ready';
  let seen: readonly SeenRequest[] = [];

  const server = await startFakeServer(
    async (ex) => {
      const path = ex.record.path.split('?')[0] ?? '/';
      const get = ex.record.method === 'GET';
      if (get && path === '/health') return void ex.res.writeHead(200, { 'content-length': '0' }).end();
      if (get && path === '/version') return ex.json(200, { version });
      if (get && path === '/v1/models') return ex.json(200, modelsDocument(model, maxModelLen));
      if (get && path === '/metrics' && tuning.metrics !== false) {
        return writePromText(ex, vllmMetricsText(fakeGauges(tuning.metrics, seen, '/v1/completions'), model));
      }
      if (ex.record.method === 'POST' && path === '/v1/completions') {
        return completions(ex, { model, maxModelLen, tuning, mode, prefixCache });
      }
      if (ex.record.method === 'POST' && path === '/v1/chat/completions') {
        return vllmChat(ex, { model, maxModelLen, tuning, mode, reusePrefix: (ids) => reusePrefix(prefixCache, ids) });
      }
      ex.json(404, { detail: 'Not Found' });
    },
    { ...(opts.port === undefined ? {} : { port: opts.port }), splitChunks: () => tuning.splitChunks },
  );
  seen = server.seen;
  if (mode === 'loading') await server.refuseConnections();

  return Object.assign(engineFake<FakeMode>(server, (next) => void (mode = next), true), {
    configure: (patch: Partial<VllmFakeTuning>) => void Object.assign(tuning, patch),
  });
}

function modelsDocument(model: string, maxModelLen: number): unknown {
  return {
    object: 'list',
    data: [{ id: model, object: 'model', created: 1_735_689_600, owned_by: 'vllm', root: `/models/${model}`, parent: null, max_model_len: maxModelLen, permission: [] }],
  };
}

interface CompletionsDeps {
  model: string;
  maxModelLen: number;
  tuning: VllmFakeTuning;
  mode: FakeMode;
  prefixCache: number[][];
}

async function completions(ex: FakeExchange, deps: CompletionsDeps): Promise<void> {
  const style = deps.tuning.errorStyle;
  const reject = (status: number, type: string, message: string, param: string | null = null) => ex.json(status, errorBody(style, status, type, message, param));
  const body = ex.record.body;
  if (!isRecord(body) || typeof body['prompt'] !== 'string') return reject(400, 'BadRequestError', "Field required: 'prompt'", 'prompt');
  if (body['model'] !== deps.model) return reject(404, 'NotFoundError', `The model \`${String(body['model'])}\` does not exist.`, 'model');
  if (body['stream'] !== true) {
    return body['stream_options'] !== undefined
      ? reject(400, 'BadRequestError', 'Stream options can only be defined when `stream=True`.')
      : reject(400, 'BadRequestError', 'this fake implements only stream: true');
  }
  if (deps.mode === 'overloaded') return ex.json(429, errorBody(style, 429, 'TooManyRequestsError', 'server is at capacity'), { 'retry-after': '1' });
  if (deps.mode === 'fail-before-first-token') return reject(500, 'InternalServerError', 'fake engine failure before the first token');
  const prompt = body['prompt'];
  const promptIds = fakeTokenize(prompt);
  const maxTokens = typeof body['max_tokens'] === 'number' ? body['max_tokens'] : 16;
  if (promptIds.length + maxTokens > deps.maxModelLen) {
    return reject(400, 'BadRequestError', `This model's maximum context length is ${deps.maxModelLen} tokens. However, you requested ${promptIds.length + maxTokens} tokens (${promptIds.length} in the messages, ${maxTokens} in the completion). Please reduce the length of the messages or completion.`);
  }
  const cachedTokens = deps.tuning.promptTokensDetails ? reusePrefix(deps.prefixCache, promptIds) : undefined;
  const seed = typeof body['seed'] === 'number' ? body['seed'] : Math.floor(Math.random() * 2 ** 32);
  const format = vllmFormat({
    id: `cmpl-${randomBytes(16).toString('hex')}`,
    created: Math.floor(Date.now() / 1000),
    model: deps.model,
    promptTokens: promptIds.length,
    cachedTokens,
    includeUsage: recordField(body, 'stream_options')?.['include_usage'] === true,
    errorStyle: style,
    unknownKeys: deps.tuning.unknownKeys,
  });
  await runGeneration(ex, {
    prompt,
    seed,
    maxTokens,
    stop: stopList(body),
    eosAfterTokens: deps.tuning.eosAfterTokens,
    tokensPerS: deps.tuning.tokensPerS,
    firstTokenDelayMs: deps.tuning.firstTokenDelayMs,
    keepAliveEvery: deps.tuning.keepAliveEvery,
    mode: deps.mode,
  }, format);
}

/** Longest block-aligned prefix shared with a recent prompt; remembers this one. */
function reusePrefix(cache: number[][], prompt: number[]): number {
  let best = 0;
  for (const seen of cache) best = Math.max(best, commonPrefixLength(seen, prompt));
  cache.push(prompt);
  if (cache.length > REMEMBERED_PROMPTS) cache.shift();
  return Math.floor(best / BLOCK_TOKENS) * BLOCK_TOKENS;
}

function stopList(body: JsonRecord): string[] {
  const stop = body['stop'];
  if (typeof stop === 'string') return [stop];
  return Array.isArray(stop) ? stop.filter((s): s is string => typeof s === 'string') : [];
}
