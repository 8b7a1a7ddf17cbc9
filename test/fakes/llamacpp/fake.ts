// Protocol-faithful llama-server fake: a real HTTP server on 127.0.0.1 speaking `/completion`
// SSE (no [DONE]), `/v1/chat/completions` (fake-chat.ts), `/health` (503 JSON while loading),
// `/props`, `/slots`, with slots, KV prefix reuse, fault modes and deterministic tokens. Shared
// by tests and bench/.

import { engineFake, startFakeServer, type EngineFake, type FakeExchange } from '../http/fake-server.ts';
import { runGeneration, type FakeMode } from '../http/fake-generation.ts';
import { commonPrefixLength, fakeTokenize } from '../http/fake-tokens.ts';
import { isRecord, type JsonRecord } from '../../../src/transport/json-fields.ts';
import { writePromText, type FakeMetricsSetting } from '../http/fake-metrics.ts';
import { FakeSlotTable } from './fake-slots.ts';
import { llamacppChat } from './fake-chat.ts';
import { LOADING_BODY, NO_METRICS_BODY, NO_SLOT_BODY, errorBody, llamacppFormat, llamacppMetricsText } from './fake-format.ts';

export { fakeCompletion, fakeTokenStream, fakeTokenize } from '../http/fake-tokens.ts';
export type { FakeMode } from '../http/fake-generation.ts';
export type { SeenRequest } from '../http/fake-server.ts';
export type { FakeEngineGauges, FakeMetricsSetting } from '../http/fake-metrics.ts';

/** Knobs that may change while the fake runs (configure()). */
export interface LlamacppFakeTuning {
  /** Decode speed; 0 (default) = as fast as the event loop allows. */
  tokensPerS: number;
  firstTokenDelayMs: number;
  /** Emit end-of-sequence after this many tokens (stop_type "eos"); undefined = never. */
  eosAfterTokens: number | undefined;
  /** `:` keep-alive comment before the first token and after every N tokens; 0 = none. */
  keepAliveEvery: number;
  /** Write every event split after byte 1 and inside each multibyte UTF-8 sequence. */
  splitChunks: boolean;
  /** In-band errors as `data: {"error":...}` (current) or the legacy `error: {...}` line. */
  errorStyle: 'data' | 'legacy';
  /** Add a key no build sends, to prove clients ignore unknown keys. */
  unknownKeys: boolean;
  /** `GET /metrics`: false = started without `--metrics` (501); gauges left out are live (running = busy slots). */
  metrics: FakeMetricsSetting;
  /** Started with `--jinja`: the chat route takes tools (else 500 "tools param requires --jinja flag"). */
  jinja: boolean;
  /** An older build: chat usage in the finish chunk, always, and no separate usage chunk. */
  usageInFinishChunk: boolean;
}

export interface LlamacppFakeOptions extends Partial<LlamacppFakeTuning> {
  port?: number;
  slots?: number;
  /** Per-slot context (`default_generation_settings.n_ctx`). */
  nCtx?: number;
  buildInfo?: string;
  modelAlias?: string;
  modelPath?: string;
  mode?: FakeMode;
}

/** "loading" keeps listening: llama-server answers 503 while its model loads. */
export interface LlamacppFake extends EngineFake<FakeMode> {
  configure(patch: Partial<LlamacppFakeTuning>): void;
  /** Busy slots right now. */
  busySlots(): number;
}

export async function startLlamacppFake(opts: LlamacppFakeOptions = {}): Promise<LlamacppFake> {
  const tuning: LlamacppFakeTuning = {
    tokensPerS: opts.tokensPerS ?? 0,
    firstTokenDelayMs: opts.firstTokenDelayMs ?? 0,
    eosAfterTokens: opts.eosAfterTokens,
    keepAliveEvery: opts.keepAliveEvery ?? 0,
    splitChunks: opts.splitChunks ?? false,
    errorStyle: opts.errorStyle ?? 'data',
    unknownKeys: opts.unknownKeys ?? false,
    metrics: opts.metrics ?? {},
    jinja: opts.jinja ?? true,
    usageInFinishChunk: opts.usageInFinishChunk ?? false,
  };
  const slots = new FakeSlotTable(opts.slots ?? 2, opts.nCtx ?? 4096);
  const identity: Identity = {
    buildInfo: opts.buildInfo ?? 'b6097-9515c613',
    modelAlias: opts.modelAlias ?? 'fake-model',
    modelPath: opts.modelPath ?? '/models/fake-model-Q4_K_M.gguf',
  };
  let mode: FakeMode = opts.mode ?? 'ready';

  const state: FakeState = { slots, tuning, identity, mode: () => mode };
  const server = await startFakeServer((ex) => route(ex, state), {
    ...(opts.port === undefined ? {} : { port: opts.port }),
    splitChunks: () => tuning.splitChunks,
  });

  return Object.assign(engineFake<FakeMode>(server, (next) => void (mode = next), false), {
    configure: (patch: Partial<LlamacppFakeTuning>) => void Object.assign(tuning, patch),
    busySlots: () => slots.total - slots.idle,
  });
}

interface Identity {
  buildInfo: string;
  modelAlias: string;
  modelPath: string;
}

interface FakeState {
  slots: FakeSlotTable;
  tuning: LlamacppFakeTuning;
  identity: Identity;
  mode: () => FakeMode;
}

async function route(ex: FakeExchange, state: FakeState): Promise<void> {
  const path = ex.record.path.split('?')[0] ?? '/';
  const get = ex.record.method === 'GET';
  const loading = state.mode() === 'loading';
  if (get && (path === '/health' || path === '/v1/health')) {
    return loading ? ex.json(503, LOADING_BODY) : ex.json(200, { status: 'ok' });
  }
  // llama-server answers every API route with the loading error until the model is up.
  if (loading) return ex.json(503, LOADING_BODY);
  if (get && path === '/props') return ex.json(200, propsDocument(state.slots, state.identity));
  if (get && path === '/metrics') return metrics(ex, state);
  if (get && path === '/slots') {
    const failOnNoSlot = ex.record.path.includes('fail_on_no_slot=1');
    return failOnNoSlot && state.slots.idle === 0 ? ex.json(503, NO_SLOT_BODY) : ex.json(200, state.slots.toJson());
  }
  if (ex.record.method === 'POST' && (path === '/completion' || path === '/completions')) {
    return completion(ex, { slots: state.slots, tuning: state.tuning, mode: state.mode(), modelAlias: state.identity.modelAlias });
  }
  if (ex.record.method === 'POST' && (path === '/v1/chat/completions' || path === '/chat/completions')) {
    const { slots, tuning, identity } = state;
    return llamacppChat(ex, { slots, tuning, mode: state.mode(), modelAlias: identity.modelAlias, buildInfo: identity.buildInfo });
  }
  ex.json(404, errorBody(404, 'File Not Found', 'not_found_error'));
}

function metrics(ex: FakeExchange, state: FakeState): void {
  const setting = state.tuning.metrics;
  if (setting === false) return ex.json(501, NO_METRICS_BODY);
  const { slots } = state;
  const gauges = {
    kvCacheUsageRatio: setting.kvCacheUsageRatio ?? slots.cacheUsage(),
    waiting: setting.waiting ?? 0,
    running: setting.running ?? slots.total - slots.idle,
  };
  writePromText(ex, llamacppMetricsText(gauges, slots.total * slots.nCtx));
}

function propsDocument(slots: FakeSlotTable, id: Identity): unknown {
  return {
    default_generation_settings: {
      id: 0,
      id_task: -1,
      n_ctx: slots.nCtx,
      speculative: false,
      is_processing: false,
      params: { n_predict: -1, seed: 4294967295, temperature: 0.8, top_p: 0.95, stop: [] },
    },
    total_slots: slots.total,
    model_alias: id.modelAlias,
    model_path: id.modelPath,
    modalities: { vision: false, audio: false },
    chat_template: '{{ messages }}',
    build_info: id.buildInfo,
    is_sleeping: false,
  };
}

interface CompletionDeps {
  slots: FakeSlotTable;
  tuning: LlamacppFakeTuning;
  mode: FakeMode;
  modelAlias: string;
}

async function completion(ex: FakeExchange, deps: CompletionDeps): Promise<void> {
  const body = ex.record.body;
  if (!isRecord(body) || typeof body['prompt'] !== 'string') {
    return ex.json(400, errorBody(400, '"prompt" must be provided', 'invalid_request_error'));
  }
  if (body['stream'] !== true) return ex.json(400, errorBody(400, 'this fake implements only stream: true', 'invalid_request_error'));
  if (deps.mode === 'overloaded') return ex.json(503, NO_SLOT_BODY);
  if (deps.mode === 'fail-before-first-token') return ex.json(500, errorBody(500, 'fake engine failure before the first token', 'server_error'));
  const prompt = body['prompt'];
  const promptIds = fakeTokenize(prompt);
  const room = deps.slots.nCtx - promptIds.length;
  if (room <= 0) {
    return ex.json(400, errorBody(400, 'the request exceeds the available context size, try increasing it', 'exceed_context_size_error', {
      n_prompt_tokens: promptIds.length,
      n_ctx: deps.slots.nCtx,
    }));
  }
  const slot = deps.slots.acquire(intOr(body, 'id_slot', -1), promptIds);
  if (slot === undefined) return ex.json(503, NO_SLOT_BODY);
  const cacheN = body['cache_prompt'] === false ? 0 : Math.min(commonPrefixLength(slot.cache, promptIds), promptIds.length - 1);
  const nPredict = intOr(body, 'n_predict', intOr(body, 'max_tokens', -1));
  const seed = intOr(body, 'seed', -1) >= 0 ? intOr(body, 'seed', -1) : Math.floor(Math.random() * 2 ** 32);
  ex.record.notes = { slot: slot.id, cacheN, idSlot: body['id_slot'], cachePrompt: body['cache_prompt'] };
  const format = llamacppFormat({
    slotId: slot.id,
    promptTokens: promptIds.length,
    cacheN,
    prompt,
    modelAlias: deps.modelAlias,
    seed,
    nPredict,
    startedAt: performance.now(),
    errorStyle: deps.tuning.errorStyle,
    unknownKeys: deps.tuning.unknownKeys,
  });
  let generated = '';
  try {
    const result = await runGeneration(ex, {
      prompt,
      seed,
      maxTokens: nPredict < 0 ? room : Math.min(nPredict, room),
      stop: stringList(body['stop']),
      eosAfterTokens: deps.tuning.eosAfterTokens,
      tokensPerS: deps.tuning.tokensPerS,
      firstTokenDelayMs: deps.tuning.firstTokenDelayMs,
      keepAliveEvery: deps.tuning.keepAliveEvery,
      mode: deps.mode,
    }, format);
    generated = result.text;
  } finally {
    // Like llama-server, a cancelled task still leaves its prompt (and partial output) cached.
    deps.slots.release(slot, [...promptIds, ...fakeTokenize(generated)]);
  }
}

function intOr(body: JsonRecord, key: string, fallback: number): number {
  const v = body[key];
  return typeof v === 'number' && Number.isInteger(v) ? v : fallback;
}

function stringList(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}
