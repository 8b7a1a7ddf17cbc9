// The HTTP connection edge (issue 10 findings 2 and 10): header/body timeouts, connection caps
// (global and per client address), envelope-shaped answers for what Node refuses before Fastify
// sees a request, and the bounded read-and-discard after an early refusal so the client sees it.
// It owns sockets, never routes or domain decisions.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply, FastifyRequest, onSendHookHandler } from 'fastify';
import { orchError, type OrchError } from '../core/errors.ts';
import { rawHttpError } from './errors.ts';

export interface ConnectionLimits {
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerClient: number;
  /** Bytes of a refused upload read and thrown away before the socket is closed. */
  bodyDiscardLimitBytes: number;
}

/** How long a refused socket may take to read its answer before it is simply closed. */
const CLOSE_GRACE_MS = 1_000;

export interface ConnectionGuard {
  /** Fastify's serverFactory: a plain http.Server with the timeouts and the caps applied. */
  createServer(handler: RequestListener<typeof IncomingMessage, typeof ServerResponse>): Server;
  /** The refusal for a request that arrived on a connection over a cap, or undefined. */
  refusal(req: FastifyRequest): OrchError | undefined;
}

export function connectionGuard(limits: ConnectionLimits): ConnectionGuard {
  // Sockets over a cap: their requests are answered 429 and the connection closed.
  const overCap = new WeakSet<Socket>();
  let open = 0;
  const perClient = new Map<string, number>();

  const track = (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const mine = (perClient.get(address) ?? 0) + 1;
    perClient.set(address, mine);
    open++;
    if (open > limits.maxConnections || mine > limits.maxConnectionsPerClient) {
      overCap.add(socket);
      closeSoon(socket);
    }
    socket.once('close', () => {
      open--;
      const left = (perClient.get(address) ?? 1) - 1;
      if (left <= 0) perClient.delete(address);
      else perClient.set(address, left);
    });
  };

  return {
    createServer(handler) {
      const server = createServer(
        {
          headersTimeout: limits.headersTimeoutMs,
          requestTimeout: limits.requestTimeoutMs,
          keepAliveTimeout: limits.keepAliveTimeoutMs,
          // Node checks both timeouts on this interval (default 30 s): a 10 s budget would hold for 40 s.
          connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(limits.headersTimeoutMs / 4))),
        },
        handler,
      );
      server.on('connection', track);
      return server;
    },
    refusal(req) {
      if (!overCap.has(req.raw.socket)) return undefined;
      return orchError('RATE_LIMITED', 'too many open connections (server.max_connections / server.max_connections_per_client); retry on an existing connection', {
        retry_after_ms: CLOSE_GRACE_MS,
      });
    },
  };
}

function closeSoon(socket: Socket): void {
  const timer = setTimeout(() => socket.destroy(), CLOSE_GRACE_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

/** Marks a socket whose request was already answered while its body is still being drained. */
const ANSWERED = Symbol('orchqueue.answered');
type MarkedSocket = Socket & { [ANSWERED]?: true };

/** Fastify's clientErrorHandler: Node's own 400/408/431 become envelopes; the socket closes. */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  // The request was answered (a 401/413 sent before its body was read) and its upload stalled:
  // a second answer on the same connection would corrupt the first, so just close.
  if ((socket as MarkedSocket)[ANSWERED]) {
    socket.destroy();
    return;
  }
  const error =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? orchError('REQUEST_TIMEOUT', 'the request did not arrive in time (server.headers_timeout_ms / server.request_timeout_ms)')
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? orchError('HEADERS_TOO_LARGE', 'request headers exceed 16384 bytes')
        : orchError('INVALID_PARAMS', 'malformed HTTP request');
  if (socket.writable) socket.end(rawHttpError(error, randomUUID()));
  closeSoon(socket);
}

/**
 * onSend: an answer sent before the request body was read (401 on an upload, 413, any refusal)
 * keeps the connection open while the rest of the body is read and thrown away, up to
 * `bodyDiscardLimitBytes` and `requestTimeoutMs`; then the socket is closed. Closing at once
 * would reset a client that is still writing, and it would never read the answer.
 */
export function discardUnreadBody(limits: ConnectionLimits): onSendHookHandler {
  // A callback hook: it runs on every answer, and an async one would cost a promise and a microtask each (issue 14).
  return (req, reply, payload, done) => {
    keepUntilDrained(limits, req, reply);
    done(null, payload);
  };
}

function keepUntilDrained(limits: ConnectionLimits, req: FastifyRequest, reply: FastifyReply): void {
  const raw = req.raw;
  if (raw.complete || raw.readableEnded) return;
  if (limits.bodyDiscardLimitBytes === 0) {
    reply.header('connection', 'close');
    return;
  }
  // Fastify asks for `connection: close` after a parser refusal; Node would then destroy the
  // socket as soon as the answer is written, mid-upload. Keep it until the body is drained.
  reply.removeHeader('connection');
  const socket = raw.socket as MarkedSocket;
  socket[ANSWERED] = true;
  let discarded = 0;
  const stop = setTimeout(() => socket.destroy(), limits.requestTimeoutMs);
  stop.unref();
  raw.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > limits.bodyDiscardLimitBytes) socket.destroy();
  });
  raw.once('end', () => {
    clearTimeout(stop);
    // Drained: the connection may serve a next request, which gets its own answers again.
    delete socket[ANSWERED];
  });
  raw.once('close', () => clearTimeout(stop));
  raw.resume();
}
