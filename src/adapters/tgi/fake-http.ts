// Socket-level machinery for protocol-faithful fake engines: a node:http server on 127.0.0.1
// that can really refuse TCP (listener closed) and re-listen on the same port, records every
// request and whether the client went away, and writes bodies in odd-sized byte pieces.
// Knows no engine wire format. (Kept identical in tgi/ and triton/ until a shared home exists.)

import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, or the raw text when it is not JSON (undefined when empty). */
  body: unknown;
  /** The client closed the connection before the response finished. */
  aborted: boolean;
  /** The fake itself destroyed the socket (reset fault). */
  reset: boolean;
  /** Token events written so far. */
  tokensSent: number;
  /** Settles when the response finished or the connection went away. */
  closed: Promise<void>;
}

export interface Exchange {
  req: IncomingMessage;
  res: ServerResponse;
  seen: SeenRequest;
  /** Aborts when the client disconnects: a real engine stops generating then. */
  signal: AbortSignal;
}

export interface FakeHttpServer {
  readonly url: string;
  readonly seen: SeenRequest[];
  /** TCP connections accepted so far (keep-alive reuse shows up as fewer than requests). */
  connections(): number;
  /** false: close the listener (connections refused); true: listen again on the same port. */
  setListening(listening: boolean): Promise<void>;
  close(): Promise<void>;
}

export async function startFakeHttpServer(handle: (ex: Exchange) => Promise<void>, listening: boolean): Promise<FakeHttpServer> {
  const seen: SeenRequest[] = [];
  const server = createServer((req, res) => void onRequest(req, res));
  let accepted = 0;
  server.on('connection', () => accepted++);

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const disconnect = new AbortController();
    let settle: () => void = () => {};
    const record: SeenRequest = {
      method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body: parseBody(raw),
      aborted: false, reset: false, tokensSent: 0, closed: new Promise<void>((resolve) => (settle = resolve)),
    };
    seen.push(record);
    res.once('close', () => {
      if (!res.writableFinished && !record.reset) record.aborted = true;
      disconnect.abort(new Error('client disconnected'));
      settle();
    });
    try {
      await handle({ req, res, seen: record, signal: disconnect.signal });
    } catch (err) {
      if (!disconnect.signal.aborted) res.destroy(err instanceof Error ? err : new Error(String(err)));
    }
  }

  const port = await listen(server, 0);
  if (!listening) await stopListening(server);
  let isListening = listening;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    connections: () => accepted,
    async setListening(next: boolean): Promise<void> {
      if (next === isListening) return;
      isListening = next;
      if (next) await listen(server, port);
      else await stopListening(server);
    },
    async close(): Promise<void> {
      if (isListening) await stopListening(server);
      isListening = false;
    },
  };
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Like a restarting engine: the port stops accepting and every open connection drops. */
function stopListening(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(raw: string): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

/** Piece sizes for split writes: odd offsets, so multibyte UTF-8 sequences get cut too. */
const PIECES = [3, 1, 5, 7, 2];

/**
 * Writes text, optionally in odd-sized byte pieces each flushed on its own turn. Resolves once
 * the bytes reached the kernel, so a reset right after still delivers what was written.
 */
export async function writeBody(res: ServerResponse, text: string, split: boolean): Promise<void> {
  if (!split) return flushed(res, text);
  const bytes = Buffer.from(text, 'utf8');
  for (let at = 0, i = 0; at < bytes.length && !res.destroyed; i++) {
    const size = PIECES[i % PIECES.length] ?? 1;
    await flushed(res, bytes.subarray(at, at + size));
    at += size;
    await nextTurn();
  }
}

function flushed(res: ServerResponse, chunk: string | Uint8Array): Promise<void> {
  if (res.destroyed) return Promise.resolve();
  // The callback also runs (with an error) when the socket dies first: nothing left to do then.
  return new Promise((resolve) => res.write(chunk, () => resolve()));
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Destroys the socket mid-response (a crashed engine), marking it as the fake's own doing. */
export function resetConnection(ex: Exchange): void {
  ex.seen.reset = true;
  ex.res.socket?.destroy();
}

/** Resolves when the client goes away: a hung engine keeps the socket open and says nothing. */
export function untilDisconnect(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}
