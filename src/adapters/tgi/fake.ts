// A protocol-faithful fake TGI router (ENGINES.md §3): `/generate_stream` with token events and
// a final `generated_text` + `details` event, every error in-band under HTTP 200, `/info`,
// `/health`, refused TCP while "loading", axum keep-alive comments and byte-split writes.
// Deterministic: tokens come from (prompt, seed). Shared by unit, integration tests and bench/.

import { setTimeout as sleep } from 'node:timers/promises';
import type { ServerResponse } from 'node:http';
import { resetConnection, sendJson, startFakeHttpServer, untilDisconnect, writeBody, type Exchange, type SeenRequest } from './fake-http.ts';
import { tgiFakeTokens, tgiInputLength, TGI_EOS, type TgiFakeToken } from './fake-tokens.ts';
import { validateTgiRequest, type TgiFakeRequest } from './fake-validation.ts';

export { tgiFakeTokens } from './fake-tokens.ts';

export type TgiFakeMode =
  | { kind: 'ready' }
  /** The router is not up yet: TCP connections are refused. */
  | { kind: 'loading' }
  /** `/health` answers 503; generation still works (a shard health RPC failing). */
  | { kind: 'unhealthy' }
  | { kind: 'overloaded' }
  | { kind: 'fail-before-first-token' }
  | { kind: 'fail-at-token'; at: number }
  | { kind: 'reset-at-token'; at: number }
  | { kind: 'hang-at-token'; at: number };

export interface TgiFakeOptions {
  mode?: TgiFakeMode;
  tokenDelayMs?: number;
  firstTokenDelayMs?: number;
  /** Interleave axum keep-alive comments (`:`) between events. */
  keepAliveComments?: boolean;
  /** Write every event in odd-sized byte pieces (cuts lines and UTF-8 sequences). */
  splitChunks?: boolean;
  /** Generate the EOS special token after this many tokens (finish_reason eos_token). */
  eosAt?: number;
  /** Add keys a newer TGI might send (`top_tokens`, an unknown object) to every token event. */
  extraFields?: boolean;
  /** Overrides for `GET /info`. */
  info?: Record<string, unknown>;
}

export interface TgiFake {
  readonly url: string;
  readonly seen: SeenRequest[];
  connections(): number;
  setMode(mode: TgiFakeMode): Promise<void>;
  close(): Promise<void>;
}

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

export async function startTgiFake(opts: TgiFakeOptions = {}): Promise<TgiFake> {
  let mode: TgiFakeMode = opts.mode ?? { kind: 'ready' };
  const info = { ...TGI_FAKE_INFO, ...opts.info };

  const server = await startFakeHttpServer(async (ex) => {
    const { req, res } = ex;
    if (req.method === 'GET' && req.url === '/health') {
      if (mode.kind === 'unhealthy') sendJson(res, 503, { error: 'unhealthy', error_type: 'healthcheck' });
      else res.writeHead(200).end();
    } else if (req.method === 'GET' && req.url === '/info') {
      sendJson(res, 200, info);
    } else if (req.method === 'POST' && req.url === '/generate_stream') {
      await generateStream(ex, mode, opts, info);
    } else {
      res.writeHead(404).end();
    }
  }, mode.kind !== 'loading');

  return {
    url: server.url,
    seen: server.seen,
    connections: server.connections,
    async setMode(next: TgiFakeMode): Promise<void> {
      mode = next;
      await server.setListening(next.kind !== 'loading');
    },
    close: () => server.close(),
  };
}

async function generateStream(ex: Exchange, mode: TgiFakeMode, opts: TgiFakeOptions, info: typeof TGI_FAKE_INFO): Promise<void> {
  const parsed = validateTgiRequest(ex.seen.body, info);
  if (parsed.kind === 'reject') {
    // axum's Json extractor rejects before the handler runs: a real status, plain text.
    ex.res.writeHead(422, { 'content-type': 'text/plain; charset=utf-8' }).end(parsed.message);
    return;
  }
  ex.res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no', 'x-compute-type': 'gpu+optimized' });
  ex.res.flushHeaders();
  const send = (event: unknown) => writeEvent(ex.res, event, opts);
  if (parsed.kind === 'invalid') return endWith(ex.res, send({ error: `Input validation error: ${parsed.message}`, error_type: 'validation' }));
  if (mode.kind === 'overloaded') return endWith(ex.res, send({ error: 'Model is overloaded', error_type: 'overloaded' }));
  if (mode.kind === 'fail-before-first-token') return endWith(ex.res, send(generationError()));
  try {
    await emitTokens(ex, parsed.request, mode, opts, send);
  } catch (err) {
    if (!ex.signal.aborted) throw err;
  }
}

async function emitTokens(
  ex: Exchange,
  request: TgiFakeRequest,
  mode: TgiFakeMode,
  opts: TgiFakeOptions,
  send: (event: unknown) => Promise<void>,
): Promise<void> {
  const { signal } = ex;
  const tokens = plannedTokens(request, opts.eosAt);
  if (opts.firstTokenDelayMs) await sleep(opts.firstTokenDelayMs, undefined, { signal });
  let text = '';
  for (let i = 0; i < tokens.length; i++) {
    if (i > 0 && opts.tokenDelayMs) await sleep(opts.tokenDelayMs, undefined, { signal });
    if (mode.kind === 'fail-at-token' && i === mode.at) return endWith(ex.res, send(generationError()));
    if (mode.kind === 'reset-at-token' && i === mode.at) return resetConnection(ex);
    if (mode.kind === 'hang-at-token' && i === mode.at) return untilDisconnect(signal);
    const token = tokens[i] as TgiFakeToken;
    if (!token.special) text += token.text;
    const stopped = request.stop.some((s) => text.includes(s));
    const last = stopped || i === tokens.length - 1;
    await send({
      index: i + 1,
      token: { id: token.id, text: token.text, logprob: token.logprob, special: token.special },
      generated_text: last ? text : null,
      details: last && request.details ? finalDetails(request, i + 1, token, stopped) : null,
      ...(opts.extraFields ? { top_tokens: [], x_fake_future: { step: i } } : {}),
    });
    ex.seen.tokensSent++;
    if (last) return endWith(ex.res, Promise.resolve());
  }
}

function plannedTokens(request: TgiFakeRequest, eosAt: number | undefined): TgiFakeToken[] {
  const tokens = tgiFakeTokens(request.inputs, request.seed, request.maxNewTokens);
  if (eosAt === undefined || eosAt >= tokens.length) return tokens;
  return [...tokens.slice(0, eosAt), TGI_EOS];
}

function finalDetails(request: TgiFakeRequest, generated: number, last: TgiFakeToken, stopped: boolean): Record<string, unknown> {
  const finish = last.special ? 'eos_token' : stopped ? 'stop_sequence' : 'length';
  return { finish_reason: finish, generated_tokens: generated, seed: request.doSample ? (request.seed ?? 0) : null, input_length: tgiInputLength(request.inputs) };
}

function generationError(): Record<string, string> {
  return { error: 'Request failed during generation: Server error: CUDA out of memory. Tried to allocate 2.00 GiB', error_type: 'generation' };
}

async function writeEvent(res: ServerResponse, event: unknown, opts: TgiFakeOptions): Promise<void> {
  // axum writes `data:` without a space; KeepAlive::default() sends an empty comment.
  const keepAlive = opts.keepAliveComments ? ':\n\n' : '';
  await writeBody(res, `${keepAlive}data:${JSON.stringify(event)}\n\n`, opts.splitChunks === true);
}

async function endWith(res: ServerResponse, written: Promise<void>): Promise<void> {
  await written;
  if (!res.destroyed) res.end();
}
