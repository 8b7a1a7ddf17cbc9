// HTTP plumbing towards one engine replica: a keep-alive undici Pool with the pool's timeouts,
// transport failures mapped into the taxonomy, capped body reads and jittered retries for
// idempotent calls. Knows no engine wire format. (Kept identical in tgi/ and triton/ until a
// shared src/transport module exists; see the adapters' report.)

import { Pool, type Dispatcher } from 'undici';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseSse, type SseMessage } from '../../transport/sse-parser.ts';
import { EngineError, type AdapterTimeouts, type CanonicalEvent } from '../contract.ts';

const DETAIL_MAX_CHARS = 512;
const ERROR_BODY_MAX_BYTES = 64 * 1024;

export function createUpstreamPool(baseUrl: string, timeouts: AdapterTimeouts): Pool {
  return new Pool(new URL(baseUrl).origin, {
    connectTimeout: timeouts.connectMs,
    headersTimeout: timeouts.firstByteMs,
    // undici's body timeout is the gap between two body chunks: exactly the idle watchdog,
    // and keep-alive comments reset it as they should.
    bodyTimeout: timeouts.idleMs,
    keepAliveTimeout: 4_000,
  });
}

/** Upstream text is for logs only: bounded and single-line. */
export function upstreamDetail(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > DETAIL_MAX_CHARS ? `${flat.slice(0, DETAIL_MAX_CHARS)}…` : flat;
}

function codeOf(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e !== null && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A failure below HTTP (refused, reset, timeout) → taxonomy. EngineErrors pass through. */
export function transportError(err: unknown): EngineError {
  if (err instanceof EngineError) return err;
  const code = codeOf(err);
  const detail = upstreamDetail(`${code ?? 'no code'}: ${err instanceof Error ? err.message : String(err)}`);
  switch (code) {
    case 'ECONNREFUSED':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'EHOSTUNREACH':
    case 'ENOTFOUND':
      return new EngineError('POOL_UNREADY', 'engine is not accepting connections', { upstreamDetail: detail, cause: err });
    case 'UND_ERR_HEADERS_TIMEOUT':
      return new EngineError('DECODE_TIMEOUT', 'engine did not answer within the first-byte timeout', { upstreamDetail: detail, cause: err });
    case 'UND_ERR_BODY_TIMEOUT':
      return new EngineError('DECODE_TIMEOUT', 'engine stream went silent for longer than the idle timeout', { upstreamDetail: detail, cause: err });
    default:
      // Reset, "other side closed", premature end of a chunked body: the worker went away.
      return new EngineError('WORKER_RESET', 'engine connection was reset', { upstreamDetail: detail, cause: err });
  }
}

/** The abort reason wins over whatever undici reported for the torn-down socket. */
export function failureOf(err: unknown, signal: AbortSignal): unknown {
  return signal.aborted ? signal.reason : transportError(err);
}

export async function readCapped(body: Dispatcher.ResponseData['body']): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= ERROR_BODY_MAX_BYTES) {
      discard(body);
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function retryAfterMs(headers: Dispatcher.ResponseData['headers']): number | undefined {
  const raw = headers['retry-after'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Number(value) * 1000;
}

type Body = Dispatcher.ResponseData['body'];

/** POSTs a streaming generation. Never retried: the caller decides after a failure. */
export async function postStream(pool: Pool, path: string, body: unknown, traceparent: string | undefined, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
  signal.throwIfAborted();
  // Only our own headers: client headers never reach the engine (some change its behaviour).
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream' };
  if (traceparent !== undefined) headers.traceparent = traceparent;
  try {
    return await pool.request({ method: 'POST', path, headers, body: JSON.stringify(body), signal });
  } catch (err) {
    throw failureOf(err, signal);
  }
}

/**
 * Relays one SSE body through an engine decoder. Any failure after this point is thrown as a
 * mapped error (never retried); leaving early destroys the socket so the engine stops decoding.
 */
export async function* relaySse(
  body: Body,
  signal: AbortSignal,
  decode: (messages: AsyncIterable<SseMessage>) => AsyncGenerator<CanonicalEvent>,
): AsyncGenerator<CanonicalEvent> {
  let ended = false;
  try {
    // destroyOnReturn:false: when the decoder stops at the end event the body must stay
    // readable so its terminator can be drained below.
    const chunks = { [Symbol.asyncIterator]: () => body.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer> };
    for await (const event of decode(parseSse(chunks))) {
      if (event.type === 'end') ended = true;
      yield event;
    }
  } catch (err) {
    throw failureOf(err, signal);
  } finally {
    // After the end event only the body terminator is left; reading it keeps the socket pooled.
    // Awaited so the socket is back in the pool before the caller's next request.
    if (ended && !body.destroyed) await body.dump({ limit: ERROR_BODY_MAX_BYTES }).catch(() => discard(body));
    else discard(body);
  }
}

/** Destroying an unfinished undici body emits an abort error nobody is waiting for. */
function discard(body: Body): void {
  if (body.destroyed) return;
  body.on('error', () => {});
  body.destroy();
}

export interface GetResult {
  status: number;
  text: string;
}

/** GET for idempotent calls (health, props): transient transport failures are retried. */
export async function getText(pool: Pool, path: string, signal: AbortSignal, backoff: BackoffPolicy = DEFAULT_BACKOFF): Promise<GetResult> {
  return withBackoff(backoff, signal, async () => {
    try {
      const res = await pool.request({ method: 'GET', path, headers: { accept: 'application/json' }, signal });
      return { status: res.statusCode, text: await readCapped(res.body) };
    } catch (err) {
      throw failureOf(err, signal);
    }
  });
}

export interface BackoffPolicy {
  retries: number;
  baseMs: number;
  capMs: number;
  random?: () => number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { retries: 2, baseMs: 50, capMs: 1_000 };

/** Retries only resets and timeouts: refused is an answer (the engine is down or loading). */
function isTransient(err: unknown): boolean {
  return err instanceof EngineError && (err.code === 'WORKER_RESET' || err.code === 'DECODE_TIMEOUT');
}

/** Capped exponential backoff with full jitter (delay uniform in [0, min(cap, base·2ⁿ)]). */
export async function withBackoff<T>(policy: BackoffPolicy, signal: AbortSignal, attempt: () => Promise<T>): Promise<T> {
  const random = policy.random ?? Math.random;
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (n >= policy.retries || signal.aborted || !isTransient(err)) throw err;
      await sleep(random() * Math.min(policy.capMs, policy.baseMs * 2 ** n), undefined, { signal }).catch(() => {
        throw signal.reason;
      });
    }
  }
}
