// One keep-alive undici Pool per upstream replica, with connect / first-byte / idle timeouts.
// It sends exactly the headers a caller gives it (never a client's), and reports every
// transport problem as an UpstreamFailure; it knows nothing about engines or wire formats.
// Timeouts: headersTimeout = first byte (response headers); bodyTimeout = longest silence
// between body chunks, including before the first token when an engine sends headers early
// (llama-server does). undici runs timeouts above 1 s on a coarse (~0.5 s) timer wheel.
// Streaming engine calls use `dispatch` (answer pushed to a handler, push-call.ts, which also
// drops the raw head undici would keep for the stream's life); the rest, short GETs, `request`.

import type { IncomingHttpHeaders } from 'node:http';
import { Pool, type Dispatcher } from 'undici';
import { parseJson } from './json-fields.ts';
import { UpstreamFailure, toUpstreamFailure } from './upstream-failure.ts';

/** A response body: a Node Readable that also has undici's dump()/text() helpers. */
export type UpstreamBody = Dispatcher.ResponseData['body'];

export interface UpstreamInit {
  /** Origin plus an optional path prefix, e.g. http://10.0.0.5:8080 or http://host/llama. */
  baseUrl: string;
  connectTimeoutMs: number;
  /** Budget until response headers arrive. */
  headersTimeoutMs: number;
  /** Longest silence between two body chunks. */
  bodyTimeoutMs: number;
  /** Cap on concurrent sockets; undefined means one per in-flight request. */
  maxConnections?: number;
}

export interface UpstreamCall {
  method: 'GET' | 'POST';
  /** Path relative to the base URL's prefix, starting with "/". */
  path: string;
  body?: string;
  headers?: Record<string, string>;
}

export interface UpstreamRequest extends UpstreamCall {
  signal: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: UpstreamBody;
}

export interface Upstream {
  /** Resolves once headers arrived (any status); rejects with UpstreamFailure or the signal's reason. */
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  /**
   * The call with its answer pushed to `handler` (undici's dispatch API): no body stream, no
   * promise. The handler owns abort (controller.abort), timeouts arrive as onResponseError, and
   * it should clear `controller.rawHeaders` in onResponseStart (see push-call.ts).
   */
  dispatch(call: UpstreamCall, handler: Dispatcher.DispatchHandler): void;
  /** Stops new requests, lets in-flight ones finish (their idle timeout still applies), frees sockets. */
  close(): Promise<void>;
}

export function createUpstream(init: UpstreamInit): Upstream {
  const url = new URL(init.baseUrl);
  const prefix = url.pathname.replace(/\/+$/, '');
  const pool = new Pool(url.origin, {
    connections: init.maxConnections ?? null,
    connectTimeout: init.connectTimeoutMs,
    headersTimeout: init.headersTimeoutMs,
    bodyTimeout: init.bodyTimeoutMs,
    keepAliveTimeout: 4_000,
    keepAliveMaxTimeout: 60_000,
  });
  return {
    async request(req) {
      try {
        const res = await pool.request({
          method: req.method,
          path: prefix + req.path,
          headers: req.headers ?? {},
          body: bodyOf(req),
          signal: req.signal,
        });
        return { status: res.statusCode, headers: res.headers, body: res.body };
      } catch (err) {
        if (req.signal.aborted) throw req.signal.reason;
        throw toUpstreamFailure(err);
      }
    },
    dispatch(call, handler) {
      pool.dispatch({ method: call.method, path: prefix + call.path, headers: call.headers ?? {}, body: bodyOf(call) }, handler);
    },
    close: () => pool.close(),
  };
}

// undici keeps the body it is given, and its own Buffer copy of a string, for the whole call (an
// engine stream's life): given a Buffer it keeps that one copy (issue 14).
function bodyOf(call: UpstreamCall): Buffer | null {
  return call.body === undefined ? null : Buffer.from(call.body);
}

/** Reads at most `limitBytes` of a body as UTF-8 text; a longer body is cut (and its socket dropped). */
export async function readBodyText(body: UpstreamBody, limitBytes: number): Promise<string> {
  const decoder = new TextDecoder('utf-8');
  let text = '';
  let seen = 0;
  try {
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      const room = limitBytes - seen;
      const part = chunk.byteLength > room ? chunk.subarray(0, room) : chunk;
      seen += part.byteLength;
      text += decoder.decode(part, { stream: true });
      // Leaving the loop early destroys the body; a fully read body keeps its keep-alive socket.
      if (seen >= limitBytes) break;
    }
  } catch (err) {
    throw toUpstreamFailure(err);
  }
  return text + decoder.decode();
}

export interface JsonResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** Parsed body; undefined when empty or not JSON (engines sometimes answer plain text). */
  json: unknown;
}

/** One GET of a small JSON document (health, props, models); any status resolves. */
export async function getJson(upstream: Upstream, path: string, headers: Record<string, string>, signal: AbortSignal, limitBytes = 256 * 1024): Promise<JsonResponse> {
  const res = await upstream.request({ method: 'GET', path, headers, signal });
  const text = await readBodyText(res.body, limitBytes);
  return { status: res.status, headers: res.headers, text, json: parseJson(text) };
}

export { UpstreamFailure };
