// A protocol-faithful fake TGI router (ENGINES.md §3): `/generate_stream` token events and a
// final event carrying the last token plus `generated_text` and `details`; every error in-band
// under HTTP 200 (overload included); the Messages API `/v1/chat/completions` (fake-chat.ts);
// `/info`; `/health`; TCP refused while "loading"; axum
// keep-alive comments. Tokens come from (prompt, seed). Shared by tests and bench/.

import { engineFake, startFakeServer, type EngineFake, type FakeExchange } from '../http/fake-server.ts';
import { fakeCompletion, fakeTokenStream } from '../http/fake-tokens.ts';
import { faultAt, type FakeMode } from '../http/fake-generation.ts';
import { fakeGauges, writePromText, type FakeEngineGauges, type FakeMetricsSetting } from '../http/fake-metrics.ts';
import { tgiInputLength, validateTgiRequest, type TgiFakeRequest } from './fake-validation.ts';
import { tgiChat } from './fake-chat.ts';

/** The shared fault modes, plus `unhealthy`: `/health` answers 503 while generation still works. */
export type TgiFakeMode = FakeMode | 'unhealthy';

export interface TgiFakeOptions {
  mode?: TgiFakeMode;
  /** 0 or absent = as fast as possible. */
  tokensPerS?: number;
  firstTokenDelayMs?: number;
  /** An axum keep-alive comment before the first token and after every N tokens; 0 = never. */
  keepAliveEvery?: number;
  /** Write every event split after byte 1 and inside every multibyte UTF-8 sequence. */
  splitChunks?: boolean;
  /** Generate the EOS special token after this many tokens (finish_reason eos_token). */
  eosAfterTokens?: number;
  /** Add keys a newer router might send (`top_tokens`, an unknown object) to every token event. */
  extraFields?: boolean;
  /** Overrides for `GET /info`. */
  info?: Partial<typeof TGI_FAKE_INFO>;
  /** `GET /metrics` gauges (left out = live: running = open generations); false = 404. TGI reports no KV cache usage. */
  metrics?: FakeMetricsSetting;
}

export type TgiFake = EngineFake<TgiFakeMode>;

export const TGI_FAKE_INFO = {
  model_id: 'fake-org/fake-tgi-model',
  model_sha: null,
  model_pipeline_tag: 'text-generation',
  max_concurrent_requests: 128,
  max_best_of: 2,
  max_stop_sequences: 4,
  max_input_tokens: 1024,
  max_total_tokens: 2048,
  validation_workers: 2,
  max_client_batch_size: 4,
  router: 'text-generation-router',
  version: '3.3.6',
  sha: '0000000000000000000000000000000000000000',
  docker_label: 'sha-0000000',
};

/** The token pieces the fake generates for (prompt, seed), for assertions and determinism suites. */
export function tgiFakeTokens(prompt: string, seed: number | undefined, count: number): string[] {
  return fakeCompletion(prompt, seed ?? 0, count);
}

export async function startTgiFake(opts: TgiFakeOptions = {}): Promise<TgiFake> {
  let mode: TgiFakeMode = opts.mode ?? 'ready';
  const info = { ...TGI_FAKE_INFO, ...opts.info };
  const server = await startFakeServer(async (ex) => {
    const { method, url } = ex.req;
    if (method === 'GET' && url === '/health') {
      if (mode === 'unhealthy') ex.json(503, { error: 'unhealthy', error_type: 'healthcheck' });
      else ex.res.writeHead(200).end();
    } else if (method === 'GET' && url === '/info') {
      ex.json(200, info);
    } else if (method === 'GET' && url === '/metrics' && opts.metrics !== false) {
      writePromText(ex, tgiMetricsText(fakeGauges(opts.metrics ?? {}, server.seen, '/generate_stream'), info));
    } else if (method === 'POST' && url === '/generate_stream') {
      await generateStream(ex, mode, opts, info);
    } else if (method === 'POST' && url === '/v1/chat/completions') {
      await tgiChat(ex, {
        mode: modeOf(mode),
        info,
        tokensPerS: opts.tokensPerS ?? 0,
        firstTokenDelayMs: opts.firstTokenDelayMs ?? 0,
        keepAliveEvery: opts.keepAliveEvery ?? 0,
        eosAfterTokens: opts.eosAfterTokens,
      });
    } else {
      ex.res.writeHead(404).end();
    }
  }, { splitChunks: () => opts.splitChunks === true });
  if (mode === 'loading') await server.refuseConnections();

  return engineFake<TgiFakeMode>(server, (next) => void (mode = next), true);
}

/** `GET /metrics` as the TGI 3.x router writes it (metrics-exporter-prometheus: TYPE lines, no HELP), trimmed. */
function tgiMetricsText(g: FakeEngineGauges, info: typeof TGI_FAKE_INFO): string {
  return [
    '# TYPE tgi_queue_size gauge',
    `tgi_queue_size ${g.waiting}`,
    '# TYPE tgi_batch_current_size gauge',
    `tgi_batch_current_size ${g.running}`,
    '# TYPE tgi_batch_current_max_tokens gauge',
    `tgi_batch_current_max_tokens ${g.running * info.max_total_tokens}`,
    '# TYPE tgi_request_count counter',
    'tgi_request_count 1204',
    '# TYPE tgi_request_success counter',
    'tgi_request_success 1190',
    '# TYPE tgi_request_failure counter',
    'tgi_request_failure{err="overloaded"} 3',
    'tgi_request_failure{err="validation"} 11',
    '',
  ].join('\n');
}

const SSE_HEADERS = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', 'x-compute-type': 'gpu+optimized' };
const KEEP_ALIVE = ':\n\n';
// axum writes `data:` without a space after the colon.
const event = (value: unknown): string => `data:${JSON.stringify(value)}\n\n`;
const GENERATION_ERROR = { error: 'Request failed during generation: Server error: CUDA out of memory. Tried to allocate 2.00 GiB', error_type: 'generation' };

async function generateStream(ex: FakeExchange, mode: TgiFakeMode, opts: TgiFakeOptions, info: typeof TGI_FAKE_INFO): Promise<void> {
  const parsed = validateTgiRequest(ex.record.body, info);
  if (parsed.kind === 'reject') {
    // axum's Json extractor rejects before the handler runs: a real status, plain text.
    ex.res.writeHead(422, { 'content-type': 'text/plain; charset=utf-8' }).end(parsed.message);
    return;
  }
  // The SSE response (and its 200) starts before validation and scheduling: errors are in-band.
  ex.res.writeHead(200, SSE_HEADERS);
  ex.res.flushHeaders();
  const early =
    parsed.kind === 'invalid' ? { error: `Input validation error: ${parsed.message}`, error_type: 'validation' }
    : mode === 'overloaded' ? { error: 'Model is overloaded', error_type: 'overloaded' }
    : mode === 'fail-before-first-token' ? GENERATION_ERROR
    : undefined;
  if (early !== undefined || parsed.kind !== 'ok') {
    if (await ex.write(event(early))) ex.res.end();
    return;
  }
  await emitTokens(ex, parsed.request, mode, opts);
}

const EOS = { id: 0, piece: '</s>', special: true };

async function emitTokens(ex: FakeExchange, req: TgiFakeRequest, mode: TgiFakeMode, opts: TgiFakeOptions): Promise<void> {
  const failAt = faultAt(modeOf(mode), 'fail-at-token');
  const resetAt = faultAt(modeOf(mode), 'reset-at-token');
  const hangAt = faultAt(modeOf(mode), 'hang-at-token');
  const keepAliveEvery = opts.keepAliveEvery ?? 0;
  const perTokenMs = opts.tokensPerS ? 1000 / opts.tokensPerS : 0;
  const tokens = fakeTokenStream(req.inputs, req.seed ?? 0);
  if (opts.firstTokenDelayMs) await pause(ex, opts.firstTokenDelayMs);
  if (keepAliveEvery > 0 && !(await ex.write(KEEP_ALIVE))) return;
  let text = '';
  for (let sent = 0; ex.isOpen(); ) {
    if (sent === failAt) return void ((await ex.write(event(GENERATION_ERROR))) && ex.res.end());
    if (sent === resetAt) return ex.reset();
    if (sent === hangAt) return ex.closed;
    const eos = opts.eosAfterTokens !== undefined && sent >= opts.eosAfterTokens;
    const token = eos ? EOS : { ...tokens.next().value, special: false };
    sent = ++ex.record.tokensSent;
    if (!token.special) text += token.piece;
    const stopped = !eos && req.stop.some((s) => text.includes(s));
    const last = eos || stopped || sent >= req.maxNewTokens;
    const details = last && req.details ? finalDetails(req, sent, eos ? 'eos_token' : stopped ? 'stop_sequence' : 'length') : null;
    const body = {
      index: sent,
      token: { id: token.id, text: token.piece, logprob: -((token.id % 7) + 1) / 8, special: token.special },
      generated_text: last ? text : null,
      details,
      ...(opts.extraFields ? { top_tokens: [], x_fake_future: { step: sent } } : {}),
    };
    if (!(await ex.write(event(body)))) return;
    if (last) return void ex.res.end();
    if (keepAliveEvery > 0 && sent % keepAliveEvery === 0 && !(await ex.write(KEEP_ALIVE))) return;
    await pause(ex, perTokenMs);
  }
}

function modeOf(mode: TgiFakeMode): FakeMode {
  return mode === 'unhealthy' ? 'ready' : mode;
}

function finalDetails(req: TgiFakeRequest, generated: number, finish: string): Record<string, unknown> {
  return { finish_reason: finish, generated_tokens: generated, seed: req.doSample ? (req.seed ?? 0) : null, input_length: tgiInputLength(req.inputs) };
}

/** Waits, but no longer than the client stays: a real engine stops work on disconnect. */
async function pause(ex: FakeExchange, ms: number): Promise<void> {
  if (ms <= 0) return new Promise((r) => setImmediate(r));
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([new Promise((r) => (timer = setTimeout(r, ms))), ex.closed]);
  clearTimeout(timer);
}
