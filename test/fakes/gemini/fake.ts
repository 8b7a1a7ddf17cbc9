// Protocol-faithful Gemini (Generative Language API) fake: a real HTTP server on 127.0.0.1 with
// `x-goog-api-key` auth, `models.get`, `:streamGenerateContent` (SSE with `alt=sse`, else one
// progressively written JSON array) and `:generateContent`, google.rpc error bodies (429
// RESOURCE_EXHAUSTED with RetryInfo, 503 UNAVAILABLE, 400 API_KEY_INVALID, 403 without a key,
// 404 unknown model), paginated `models.list`. Deterministic text; whole function calls when a tool is asked for.

import { randomBytes } from 'node:crypto';
import { engineFake, startFakeServer, type EngineFake, type FakeExchange } from '../http/fake-server.ts';
import { runGeneration, type FakeMode, type GenerationFormat } from '../http/fake-generation.ts';
import { fakeTokenize } from '../http/fake-tokens.ts';
import { isRecord, recordField, stringField, type JsonRecord } from '../../../src/transport/json-fields.ts';
import { fakeArguments, googleError, promptTextOf, wantedTool } from './fake-format.ts';

export type { SeenRequest } from '../http/fake-server.ts';

/** Besides the shared modes: 503 UNAVAILABLE "The model is overloaded" (429 is `overloaded`). */
export type GeminiFakeMode = FakeMode | 'unavailable';

export interface GeminiFakeTuning {
  tokensPerS: number;
  firstTokenDelayMs: number;
  eosAfterTokens: number | undefined;
  splitChunks: boolean;
  /** A proxy that echoes the key it received into its error messages (for redaction tests). */
  echoKeyInErrors: boolean;
  /** Extra keys a real answer carries (`safetyRatings`, `avgLogprobs`) that decoders must ignore. */
  unknownKeys: boolean;
  /** Most models per models.list page whatever pageSize asks (the provider caps it too). */
  listPageCap: number;
}

export interface GeminiFakeOptions extends Partial<GeminiFakeTuning> {
  apiKey: string;
  model?: string;
  mode?: GeminiFakeMode;
}

export interface GeminiFake extends EngineFake<GeminiFakeMode> {
  configure(patch: Partial<GeminiFakeTuning>): void;
}

const API = '/v1beta/models/';

export async function startGeminiFake(opts: GeminiFakeOptions): Promise<GeminiFake> {
  const tuning: GeminiFakeTuning = {
    tokensPerS: opts.tokensPerS ?? 0,
    firstTokenDelayMs: opts.firstTokenDelayMs ?? 0,
    eosAfterTokens: opts.eosAfterTokens,
    splitChunks: opts.splitChunks ?? false,
    echoKeyInErrors: opts.echoKeyInErrors ?? false,
    unknownKeys: opts.unknownKeys ?? false,
    listPageCap: opts.listPageCap ?? 1000,
  };
  const model = opts.model ?? 'gemini-fake';
  let mode: GeminiFakeMode = opts.mode ?? 'ready';

  const server = await startFakeServer(
    async (ex) => {
      const url = new URL(ex.record.path, 'http://fake');
      const listing = url.pathname === API.slice(0, -1);
      if (!url.pathname.startsWith(API) && !listing) return ex.json(404, googleError(404, 'NOT_FOUND', 'Method not found.'));
      const given = ex.req.headers['x-goog-api-key'] ?? url.searchParams.get('key') ?? undefined;
      const echo = tuning.echoKeyInErrors && typeof given === 'string' ? ` (received ${given})` : '';
      if (given === undefined) {
        return ex.json(403, googleError(403, 'PERMISSION_DENIED', `Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.${echo}`));
      }
      if (given !== opts.apiKey) {
        return ex.json(400, googleError(400, 'INVALID_ARGUMENT', `API key not valid. Please pass a valid API key.${echo}`, [
          { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
        ]));
      }
      if (listing && ex.record.method === 'GET') return ex.json(200, modelPage([modelCard(model), ...OTHER_MODELS], url.searchParams, tuning.listPageCap));
      const [name, method] = decodeURIComponent(url.pathname.slice(API.length)).split(':');
      if (name !== model) return ex.json(404, googleError(404, 'NOT_FOUND', `models/${name ?? ''} is not found for API version v1beta, or is not supported for generateContent.${echo}`));
      if (ex.record.method === 'GET' && method === undefined) return ex.json(200, modelCard(model));
      if (ex.record.method !== 'POST' || (method !== 'streamGenerateContent' && method !== 'generateContent')) {
        return ex.json(404, googleError(404, 'NOT_FOUND', 'Method not found.'));
      }
      return generate(ex, { model, tuning, mode, style: method === 'generateContent' ? 'unary' : url.searchParams.get('alt') === 'sse' ? 'sse' : 'array' });
    },
    { splitChunks: () => tuning.splitChunks },
  );

  return Object.assign(engineFake<GeminiFakeMode>(server, (next) => void (mode = next), false), {
    configure: (patch: Partial<GeminiFakeTuning>) => void Object.assign(tuning, patch),
  });
}

function modelCard(model: string): unknown {
  return {
    name: `models/${model}`,
    version: '001',
    displayName: 'Gemini Fake',
    description: 'protocol-faithful fake',
    inputTokenLimit: 1_048_576,
    outputTokenLimit: 8192,
    supportedGenerationMethods: ['generateContent', 'countTokens', 'createCachedContent', 'batchGenerateContent'],
    temperature: 1,
    topP: 0.95,
    topK: 64,
    maxTemperature: 2,
    thinking: false,
  };
}

/** Listed besides the served model: one that only embeds (not a chat model), one more chat model. */
const OTHER_MODELS = [
  { name: 'models/text-embedding-004', version: '004', inputTokenLimit: 2048, outputTokenLimit: 1, supportedGenerationMethods: ['embedContent'] },
  { name: 'models/gemini-fake-pro', version: '002', inputTokenLimit: 2_097_152, outputTokenLimit: 8192, supportedGenerationMethods: ['generateContent', 'countTokens'] },
];

/** models.list: `pageSize` per page (default 50), the next page's offset as an opaque token. */
function modelPage(cards: unknown[], params: URLSearchParams, cap: number): unknown {
  const size = Math.min(cap, Math.max(1, Number(params.get('pageSize') ?? '50') || 50));
  const start = Number(Buffer.from(params.get('pageToken') ?? '', 'base64url').toString() || '0');
  const next = start + size < cards.length ? Buffer.from(String(start + size)).toString('base64url') : undefined;
  return { models: cards.slice(start, start + size), ...(next === undefined ? {} : { nextPageToken: next }) };
}

interface GenerateDeps {
  model: string;
  tuning: GeminiFakeTuning;
  mode: GeminiFakeMode;
  style: 'sse' | 'array' | 'unary';
}

async function generate(ex: FakeExchange, deps: GenerateDeps): Promise<void> {
  const body = ex.record.body;
  if (!isRecord(body) || !Array.isArray(body['contents']) || body['contents'].length === 0) {
    return ex.json(400, googleError(400, 'INVALID_ARGUMENT', '* GenerateContentRequest.contents: contents is not specified'));
  }
  if (deps.mode === 'overloaded') {
    return ex.json(429, googleError(429, 'RESOURCE_EXHAUSTED', 'You exceeded your current quota, please check your plan and billing details.', [
      { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] },
      { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2s' },
    ]));
  }
  if (deps.mode === 'unavailable') return ex.json(503, googleError(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'));
  if (deps.mode === 'fail-before-first-token') return ex.json(500, googleError(500, 'INTERNAL', 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'));
  const config = recordField(body, 'generationConfig') ?? {};
  const prompt = promptTextOf(body);
  const promptTokens = fakeTokenize(prompt).length;
  const ctx = { model: deps.model, responseId: randomBytes(12).toString('base64url'), promptTokens, unknownKeys: deps.tuning.unknownKeys };
  const tool = wantedTool(body);
  if (deps.style === 'unary') return ex.json(200, unaryAnswer(ctx, tool, prompt, config));
  const format = geminiFormat(ctx, deps.style);
  if (tool !== undefined) {
    // Function calls arrive whole, in one chunk that also ends the turn with STOP.
    ex.res.writeHead(200, format.headers);
    const call = { functionCall: { name: stringField(tool, 'name'), args: fakeArguments(tool) } };
    ex.record.tokensSent = 1;
    if (await ex.write(format.whole([call], 'STOP', 1))) ex.res.end();
    return;
  }
  await runGeneration(ex, {
    prompt,
    seed: typeof config['seed'] === 'number' ? config['seed'] : 0,
    maxTokens: typeof config['maxOutputTokens'] === 'number' ? config['maxOutputTokens'] : 8192,
    stop: Array.isArray(config['stopSequences']) ? config['stopSequences'].filter((s): s is string => typeof s === 'string') : [],
    eosAfterTokens: deps.tuning.eosAfterTokens,
    tokensPerS: deps.tuning.tokensPerS,
    firstTokenDelayMs: deps.tuning.firstTokenDelayMs,
    keepAliveEvery: 0,
    mode: deps.mode,
  }, format);
}

interface AnswerContext {
  model: string;
  responseId: string;
  promptTokens: number;
  unknownKeys: boolean;
}

function response(ctx: AnswerContext, parts: unknown[], finishReason: string | undefined, outputTokens: number | undefined): JsonRecord {
  const candidate: JsonRecord = { content: { parts, role: 'model' }, index: 0 };
  if (finishReason !== undefined) candidate['finishReason'] = finishReason;
  if (ctx.unknownKeys) candidate['safetyRatings'] = [{ category: 'HARM_CATEGORY_HARASSMENT', probability: 'NEGLIGIBLE' }];
  const usage = outputTokens === undefined
    ? { promptTokenCount: ctx.promptTokens, totalTokenCount: ctx.promptTokens }
    : { promptTokenCount: ctx.promptTokens, candidatesTokenCount: outputTokens, totalTokenCount: ctx.promptTokens + outputTokens, promptTokensDetails: [{ modality: 'TEXT', tokenCount: ctx.promptTokens }] };
  return { candidates: [candidate], usageMetadata: usage, modelVersion: ctx.model, responseId: ctx.responseId };
}

/** SSE events end with CRLF CRLF (the official SDKs split on either line ending). */
function geminiFormat(ctx: AnswerContext, style: 'sse' | 'array'): GenerationFormat & { whole(parts: unknown[], finishReason: string, tokens: number): string } {
  let first = true;
  const frame = (value: unknown): string => {
    const json = JSON.stringify(value);
    if (style === 'sse') return `data: ${json}\r\n\r\n`;
    const out = `${first ? '[' : ',\r\n'}${json}`;
    first = false;
    return out;
  };
  return {
    headers: style === 'sse' ? { 'content-type': 'text/event-stream', 'x-content-type-options': 'nosniff' } : { 'content-type': 'application/json; charset=UTF-8' },
    keepAlive: '',
    token: (piece) => frame(response(ctx, [{ text: piece }], undefined, undefined)),
    final: (outcome) => frame(response(ctx, [{ text: '' }], outcome.stop === 'limit' ? 'MAX_TOKENS' : 'STOP', outcome.tokens)) + (style === 'array' ? ']' : ''),
    inBandError: (message) => frame(googleError(500, 'INTERNAL', message)) + (style === 'array' ? ']' : ''),
    whole: (parts, finishReason, tokens) => frame(response(ctx, parts, finishReason, tokens)) + (style === 'array' ? ']' : ''),
  };
}

function unaryAnswer(ctx: AnswerContext, tool: JsonRecord | undefined, prompt: string, config: JsonRecord): unknown {
  if (tool !== undefined) return response(ctx, [{ functionCall: { name: stringField(tool, 'name'), args: fakeArguments(tool) } }], 'STOP', 1);
  const max = typeof config['maxOutputTokens'] === 'number' ? config['maxOutputTokens'] : 8192;
  const text = prompt.length > 0 ? 'ok' : '';
  return response(ctx, [{ text }], max <= 1 ? 'MAX_TOKENS' : 'STOP', 1);
}
