// A protocol-faithful fake Triton serving a TensorRT-LLM model (ENGINES.md §4): KServe v2 health
// (ready 400 when not ready) and metadata, and generate_stream with responses keyed by output
// tensor (extra tensors included), no terminator, headers only with the first response, 4xx/5xx
// JSON before inference and in-band `{"error"}` after. TCP refused while "loading".

import { engineFake, startFakeServer, type EngineFake, type FakeExchange } from '../http/fake-server.ts';
import { fakeCompletion, fakeTokenStream } from '../http/fake-tokens.ts';
import { faultAt, type FakeMode } from '../http/fake-generation.ts';
import { fakeGauges, writePromText, type FakeEngineGauges, type FakeMetricsSetting } from '../http/fake-metrics.ts';
import { checkTritonRequest, FAKE_PROFILES, modelMetadata, type TritonFakeProfile, type TritonFakeRequest } from './fake-model.ts';

/** The shared fault modes, plus `unready`: live, but the model has no ready instance. */
export type TritonFakeMode = FakeMode | 'unready';

export interface TritonFakeOptions {
  profile?: TritonFakeProfile;
  /** Served model name; defaults to the profile's (`ensemble` / `tensorrt_llm`). */
  model?: string;
  mode?: TritonFakeMode;
  /** 0 or absent = as fast as possible. */
  tokensPerS?: number;
  firstTokenDelayMs?: number;
  /** A `:` comment (as a proxy would add) before the first response and after every N; 0 = never. */
  keepAliveEvery?: number;
  /** Write every event split after byte 1 and inside every multibyte UTF-8 sequence. */
  splitChunks?: boolean;
  /** The model emits its end token after this many tokens. */
  eosAfterTokens?: number;
  /** Render the text output as a one-element array instead of a scalar. */
  arrayOutput?: boolean;
  version?: string;
  /** Metrics-port gauges (left out = live: running = open generations); false = `--allow-metrics=false` (404). */
  metrics?: FakeMetricsSetting;
}

export interface TritonFake extends EngineFake<TritonFakeMode> {
  /** The metrics port's `/metrics` (Triton serves metrics apart from its HTTP API, default port 8002). */
  readonly metricsUrl: string;
  readonly model: string;
}

/** The token pieces the fake generates for (prompt, seed), for assertions and determinism suites. */
export function tritonFakeTokens(prompt: string, seed: number | undefined, count: number): string[] {
  return fakeCompletion(prompt, seed ?? 0, count);
}

export async function startTritonFake(opts: TritonFakeOptions = {}): Promise<TritonFake> {
  const profile = opts.profile ?? 'ensemble';
  const model = opts.model ?? FAKE_PROFILES[profile].model;
  let mode: TritonFakeMode = opts.mode ?? 'ready';
  const modelPath = `/v2/models/${model}`;
  const server = await startFakeServer(async (ex) => {
    const { method, url = '/' } = ex.req;
    const ready = mode !== 'unready';
    if (method === 'GET' && url === '/v2/health/live') ex.res.writeHead(200).end();
    else if (method === 'GET' && url === '/v2/health/ready') ex.res.writeHead(ready ? 200 : 400).end();
    else if (method === 'GET' && url === '/v2') ex.json(200, { name: 'triton', version: opts.version ?? '2.51.0', extensions: EXTENSIONS });
    else if (method === 'GET' && url === `${modelPath}/ready` && ready) ex.res.writeHead(200).end();
    else if (method === 'GET' && url === `${modelPath}/ready`) ex.json(400, { error: 'Model version not ready' });
    else if (method === 'GET' && url === modelPath) ex.json(200, modelMetadata(profile, model));
    else if (method === 'POST' && url === `${modelPath}/generate_stream`) await generateStream(ex, { profile, model, mode, opts });
    else if (url.startsWith('/v2/models/')) ex.json(404, { error: `Request for unknown model: '${url.split('/')[3] ?? ''}' is not found` });
    else ex.json(404, { error: 'Not Found' });
  }, { splitChunks: () => opts.splitChunks === true });
  const metricsServer = await startFakeServer(async (ex) => {
    if (ex.req.method === 'GET' && ex.req.url === '/metrics' && opts.metrics !== false) {
      writePromText(ex, tritonMetricsText(fakeGauges(opts.metrics ?? {}, server.seen, `${modelPath}/generate_stream`), model));
    } else ex.res.writeHead(404).end();
  });
  if (mode === 'loading') await server.refuseConnections();

  return Object.assign(engineFake<TritonFakeMode>(server, (next) => void (mode = next), true), {
    metricsUrl: `${metricsServer.url}/metrics`,
    model,
    close: async () => {
      await Promise.all([server.close(), metricsServer.close()]);
    },
  });
}

/** The metrics port as Triton 2.5x with the TensorRT-LLM backend writes it, trimmed (blocks: 0.25 → 1560/6240). */
function tritonMetricsText(g: FakeEngineGauges, model: string): string {
  const labels = (extra: string): string => `{${extra}model="${model}",version="1"}`;
  const maxBlocks = 6240;
  const usedBlocks = Math.round(g.kvCacheUsageRatio * maxBlocks);
  return [
    '# HELP nv_inference_request_success Number of successful inference requests, all batch sizes',
    '# TYPE nv_inference_request_success counter',
    `nv_inference_request_success${labels('')} 812`,
    '# HELP nv_inference_pending_request_count Instantaneous number of pending requests awaiting execution per-model.',
    '# TYPE nv_inference_pending_request_count gauge',
    `nv_inference_pending_request_count${labels('')} ${g.waiting}`,
    '# HELP nv_trt_llm_request_metrics TRT LLM request metrics',
    '# TYPE nv_trt_llm_request_metrics gauge',
    `nv_trt_llm_request_metrics${labels('request_type="waiting",')} ${g.waiting}`,
    `nv_trt_llm_request_metrics${labels('request_type="scheduled",')} ${g.running}`,
    `nv_trt_llm_request_metrics${labels('request_type="max",')} 64`,
    `nv_trt_llm_request_metrics${labels('request_type="active",')} ${g.running}`,
    '# HELP nv_trt_llm_kv_cache_block_metrics TRT LLM KV cache block metrics',
    '# TYPE nv_trt_llm_kv_cache_block_metrics gauge',
    `nv_trt_llm_kv_cache_block_metrics${labels('kv_cache_block_type="fraction",')} ${g.kvCacheUsageRatio}`,
    `nv_trt_llm_kv_cache_block_metrics${labels('kv_cache_block_type="tokens_per",')} 64`,
    `nv_trt_llm_kv_cache_block_metrics${labels('kv_cache_block_type="used",')} ${usedBlocks}`,
    `nv_trt_llm_kv_cache_block_metrics${labels('kv_cache_block_type="free",')} ${maxBlocks - usedBlocks}`,
    `nv_trt_llm_kv_cache_block_metrics${labels('kv_cache_block_type="max",')} ${maxBlocks}`,
    '',
  ].join('\n');
}

const EXTENSIONS = ['classification', 'sequence', 'model_repository', 'schedule_policy', 'model_configuration', 'binary_tensor_data', 'parameters', 'statistics', 'trace', 'logging'];

interface Context {
  profile: TritonFakeProfile;
  model: string;
  mode: TritonFakeMode;
  opts: TritonFakeOptions;
}

async function generateStream(ex: FakeExchange, ctx: Context): Promise<void> {
  const checked = checkTritonRequest(ex.record.body, ctx.profile, ctx.model);
  if (!checked.ok) return ex.json(400, { error: checked.message });
  if (ctx.mode === 'unready') return ex.json(503, { error: `Request for unknown model: '${ctx.model}' has no available versions` });
  if (ctx.mode === 'overloaded') return ex.json(503, { error: 'Exceeds maximum queue size' });
  const failAt = faultAt(modeOf(ctx.mode), 'fail-at-token');
  if (ctx.mode === 'fail-before-first-token' || failAt === 0) {
    return ex.json(500, { error: 'Encountered an error when executing the model: CUDA out of memory' });
  }
  await emitResponses(ex, checked.request, ctx);
}

async function emitResponses(ex: FakeExchange, req: TritonFakeRequest, ctx: Context): Promise<void> {
  const mode = modeOf(ctx.mode);
  const [failAt, resetAt, hangAt] = [faultAt(mode, 'fail-at-token'), faultAt(mode, 'reset-at-token'), faultAt(mode, 'hang-at-token')];
  const { opts } = ctx;
  const keepAliveEvery = opts.keepAliveEvery ?? 0;
  const tokens = fakeTokenStream(req.prompt, req.seed);
  const limit = Math.min(req.maxTokens, opts.eosAfterTokens ?? Infinity);
  const response = responseShape(ctx, req);
  if (opts.firstTokenDelayMs) await pause(ex, opts.firstTokenDelayMs);
  let text = '';
  for (let sent = 0; sent < limit && ex.isOpen(); ) {
    if (sent === failAt) return void ((await ex.write(event({ error: 'Executor failed: an illegal memory access was encountered' }))) && ex.res.end());
    if (sent === resetAt) return ex.reset();
    if (sent === hangAt) return ex.closed;
    const piece = tokens.next().value.piece;
    text += piece;
    sent = ++ex.record.tokensSent;
    const stopped = req.stop.some((s) => text.includes(s));
    const last = stopped || sent >= limit;
    // Triton's status and headers leave with the first response, not before.
    if (!ex.res.headersSent) ex.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
    if (sent === 1 && keepAliveEvery > 0 && !(await ex.write(':\n\n'))) return;
    if ((req.streaming || last) && !(await ex.write(event(response(req.streaming ? piece : text, text, sent))))) return;
    if (last) break;
    if (keepAliveEvery > 0 && sent % keepAliveEvery === 0 && !(await ex.write(':\n\n'))) return;
    await pause(ex, opts.tokensPerS ? 1000 / opts.tokensPerS : 0);
  }
  if (!ex.res.headersSent) ex.res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
  ex.res.end();
}

const event = (value: unknown): string => `data: ${JSON.stringify(value)}\n\n`;

/** One response object: the text output plus whatever else the model's outputs carry. */
function responseShape(ctx: Context, req: TritonFakeRequest): (piece: string, text: string, step: number) => Record<string, unknown> {
  const wrap = (s: string): string | string[] => (ctx.opts.arrayOutput ? [s] : s);
  const id = req.id === undefined ? {} : { id: req.id };
  if (ctx.profile === 'llmapi') {
    // The llmapi model sends CompletionOutput.text: everything generated so far.
    return (_piece, text) => ({ ...id, model_name: ctx.model, model_version: '1', text_output: wrap(text) });
  }
  return (piece, _text, step) => ({
    batch_index: 0, context_logits: 0.0, cum_log_probs: -0.25 * step, generation_logits: 0.0, ...id, model_name: ctx.model,
    model_version: '1', output_log_probs: [-0.25], sequence_end: false, sequence_id: 0, sequence_start: false, text_output: wrap(piece),
  });
}

function modeOf(mode: TritonFakeMode): FakeMode {
  return mode === 'unready' ? 'ready' : mode;
}

/** Waits, but no longer than the client stays: Triton cancels the request on disconnect. */
async function pause(ex: FakeExchange, ms: number): Promise<void> {
  if (ms <= 0) return new Promise((r) => setImmediate(r));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([new Promise((r) => (timer = setTimeout(r, ms))), ex.closed]);
  clearTimeout(timer);
}
