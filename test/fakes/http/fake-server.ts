// The HTTP shell shared by protocol-faithful engine fakes: a real node:http server on
// 127.0.0.1 that records every request (with whether the client hung up mid-response), can
// write bytes split at awkward offsets, and can truly refuse TCP. Engine wire formats live
// in each engine's own fake.ts, never here.

import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface SeenRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body, the raw text when it was not JSON, or undefined when empty. */
  body: unknown;
  /** The client closed the connection before the response was complete (cancel = abort). */
  aborted: boolean;
  /** The fake itself dropped the connection (reset mode, refusing connections, shutdown). */
  reset: boolean;
  /** The response was written completely. */
  finished: boolean;
  tokensSent: number;
  /** Client port of the TCP connection: equal ports on sequential requests prove keep-alive reuse. */
  remotePort: number | undefined;
  /** Engine-specific facts the fake decided (slot used, cache reuse, ...). */
  notes: Record<string, unknown>;
}

export interface FakeExchange {
  req: IncomingMessage;
  res: ServerResponse;
  record: SeenRequest;
  /** Writes text, split at odd byte offsets when the fake splits chunks; false once the peer is gone. */
  write(text: string): Promise<boolean>;
  json(status: number, value: unknown, headers?: Record<string, string>): void;
  /** Destroys the socket without finishing the response. */
  reset(): void;
  isOpen(): boolean;
  /** Resolves when the response closes for any reason. */
  closed: Promise<void>;
}

export interface FakeServerOptions {
  port?: number;
  /** Split every write at byte 1 and inside every multibyte UTF-8 sequence. */
  splitChunks?: () => boolean;
}

export interface FakeServer {
  readonly url: string;
  readonly seen: SeenRequest[];
  /** Resolves with seen[index] once its connection closed (finished, aborted or reset) and its handler returned. */
  settled(index: number): Promise<SeenRequest>;
  /** Stops listening and drops every open connection: connects now fail with ECONNREFUSED. */
  refuseConnections(): Promise<void>;
  /** Listens again on the same port. */
  acceptConnections(): Promise<void>;
  readonly accepting: boolean;
  close(): Promise<void>;
}

export type FakeHandler = (ex: FakeExchange) => Promise<void>;

/** What every engine fake hands its tests; `M` is the engine's fault modes. */
export interface EngineFake<M> {
  readonly url: string;
  readonly seen: SeenRequest[];
  /** Resolves with seen[index] once its exchange is over (see FakeServer.settled). */
  settled(index: number): Promise<SeenRequest>;
  setMode(mode: M): Promise<void>;
  /** The engine process is gone: connects fail with ECONNREFUSED, open streams are cut. */
  refuseConnections(): Promise<void>;
  /** The engine is back on the same port. */
  acceptConnections(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The handle on an engine fake's server: `onMode` records a new mode. With `refuseWhileLoading`
 * the port is closed while the mode is "loading", as for engines that listen only once loaded.
 */
export function engineFake<M>(server: FakeServer, onMode: (mode: M) => void, refuseWhileLoading: boolean): EngineFake<M> {
  return {
    get url() {
      return server.url;
    },
    seen: server.seen,
    settled: (index) => server.settled(index),
    async setMode(mode) {
      onMode(mode);
      if (!refuseWhileLoading) return;
      if (mode === 'loading') await server.refuseConnections();
      else await server.acceptConnections();
    },
    refuseConnections: () => server.refuseConnections(),
    acceptConnections: () => server.acceptConnections(),
    close: () => server.close(),
  };
}

const MAX_BODY_BYTES = 1024 * 1024;

export async function startFakeServer(handler: FakeHandler, opts: FakeServerOptions = {}): Promise<FakeServer> {
  const server = new RecordingServer(handler, opts);
  await server.acceptConnections();
  return server;
}

interface Deferred {
  promise: Promise<SeenRequest>;
  resolve: (r: SeenRequest) => void;
}

class RecordingServer implements FakeServer {
  readonly seen: SeenRequest[] = [];
  private readonly handler: FakeHandler;
  private readonly split: () => boolean;
  private readonly settledBy = new Map<number, Deferred>();
  private readonly open = new Set<SeenRequest>();
  private server: Server | undefined;
  private port: number;

  constructor(handler: FakeHandler, opts: FakeServerOptions) {
    this.handler = handler;
    this.split = opts.splitChunks ?? (() => false);
    this.port = opts.port ?? 0;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get accepting(): boolean {
    return this.server !== undefined;
  }

  settled(index: number): Promise<SeenRequest> {
    return this.deferred(index).promise;
  }

  async acceptConnections(): Promise<void> {
    if (this.server !== undefined) return;
    const next = createServer({ keepAliveTimeout: 5_000 }, (req, res) => this.onRequest(req, res));
    next.listen(this.port, '127.0.0.1');
    await once(next, 'listening');
    this.port = (next.address() as AddressInfo).port;
    this.server = next;
  }

  async refuseConnections(): Promise<void> {
    const current = this.server;
    if (current === undefined) return;
    this.server = undefined;
    for (const record of this.open) record.reset = true;
    const done = once(current, 'close');
    current.close();
    current.closeAllConnections();
    await done;
  }

  close(): Promise<void> {
    return this.refuseConnections();
  }

  private deferred(index: number): Deferred {
    let d = this.settledBy.get(index);
    if (d === undefined) {
      let resolve: (r: SeenRequest) => void = () => undefined;
      const promise = new Promise<SeenRequest>((r) => (resolve = r));
      d = { promise, resolve };
      this.settledBy.set(index, d);
    }
    return d;
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const index = this.seen.length;
    const record: SeenRequest = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      headers: req.headers,
      body: undefined,
      aborted: false,
      reset: false,
      finished: false,
      tokensSent: 0,
      remotePort: req.socket.remotePort,
      notes: {},
    };
    this.seen.push(record);
    this.open.add(record);
    const closed = once(res, 'close').then(() => undefined);
    res.on('finish', () => void (record.finished = true));
    res.on('close', () => {
      this.open.delete(record);
      if (!res.writableFinished && !record.reset) record.aborted = true;
    });
    const ex = exchange(req, res, record, closed, this.split);
    // Settled = the connection is done AND the handler has cleaned up (slots released, counts final).
    const handled = readBody(req)
      .then((body) => {
        record.body = body;
        return this.handler(ex);
      })
      .catch(() => ex.reset());
    void Promise.all([handled, closed]).then(() => this.deferred(index).resolve(record));
  }
}

function exchange(
  req: IncomingMessage,
  res: ServerResponse,
  record: SeenRequest,
  closed: Promise<void>,
  split: () => boolean,
): FakeExchange {
  const isOpen = (): boolean => !res.destroyed && !res.writableEnded;
  const writeRaw = async (piece: Uint8Array | string): Promise<boolean> => {
    if (!isOpen()) return false;
    if (!res.write(piece)) await Promise.race([once(res, 'drain'), closed]);
    return isOpen();
  };
  return {
    req,
    res,
    record,
    closed,
    isOpen,
    async write(text) {
      if (!split()) return writeRaw(text);
      for (const piece of splitAwkwardly(Buffer.from(text, 'utf8'))) {
        if (!(await writeRaw(piece))) return false;
        // Let each piece leave as its own chunk so the client really sees the cut.
        await new Promise((r) => setImmediate(r));
      }
      return isOpen();
    },
    json(status, value, headers = {}) {
      const text = JSON.stringify(value);
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
      res.end(text);
    },
    reset() {
      record.reset = true;
      res.socket?.destroy();
      (req.socket as Socket | null)?.destroy();
    },
  };
}

/** Cuts after the first byte and in the middle of every multibyte UTF-8 sequence. */
export function splitAwkwardly(bytes: Uint8Array): Uint8Array[] {
  const cuts: number[] = [1];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b >= 0xc0 && i + 1 < bytes.length) cuts.push(i + 1);
  }
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const cut of cuts) {
    if (cut <= start || cut >= bytes.length) continue;
    pieces.push(bytes.subarray(start, cut));
    start = cut;
  }
  pieces.push(bytes.subarray(start));
  return pieces;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) throw new Error('request body too large for the fake');
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
