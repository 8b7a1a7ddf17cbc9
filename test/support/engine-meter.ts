// An HTTP relay in front of one engine fake that counts the engine's concurrent generations
// across every gateway using it (the slot check of the multi-replica tests) and records each
// generation's prompt, timing, which gateway sent it (each gateway gets its own front port) and
// whether the gateway hung up on it (the abort is passed on to the fake).

import { once } from 'node:events';
import { Agent, createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MeteredGeneration {
  /** The front the request came through: the gateway's name. */
  gateway: string;
  /** The `prompt` of the engine request body (the tests make it name the task). */
  prompt: string;
  openedAtMs: number;
  closedAtMs: number | undefined;
  /** The gateway closed the connection before the engine's answer was complete. */
  aborted: boolean;
  /** Generations open at this engine when this one arrived, itself included. */
  concurrentAtOpen: number;
}

export interface EngineMeter {
  /** The URL `gateway` is given for this engine replica (a front port of its own, opened on first use). */
  frontFor(gateway: string): Promise<string>;
  readonly generations: readonly MeteredGeneration[];
  /** The most generations ever open at once. */
  readonly peak: number;
  readonly open: number;
  /** Forgets the generations recorded so far; the peak restarts from what is open now. */
  reset(): void;
  close(): Promise<void>;
}

const isGeneration = (req: IncomingMessage) => req.method === 'POST';

/** A relay forwarding everything to `target` (an engine fake), with one ephemeral loopback front per gateway. */
export async function meterEngine(target: string): Promise<EngineMeter> {
  const upstream = new URL(target);
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const generations: MeteredGeneration[] = [];
  let open = 0;
  let peak = 0;

  const relay = (gateway: string, req: IncomingMessage, res: ServerResponse) => {
    let record: MeteredGeneration | undefined;
    if (isGeneration(req)) {
      open++;
      peak = Math.max(peak, open);
      record = { gateway, prompt: '', openedAtMs: Date.now(), closedAtMs: undefined, aborted: false, concurrentAtOpen: open };
      generations.push(record);
    }
    const chunks: Buffer[] = [];
    const forward = httpRequest(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('error', () => res.destroy());
      },
    );
    forward.on('error', () => res.destroy());
    req.on('data', (chunk: Buffer) => void (record && chunks.push(chunk)));
    req.on('end', () => void (record && (record.prompt = promptOf(Buffer.concat(chunks).toString('utf8')))));
    req.pipe(forward);
    res.on('close', () => {
      if (!res.writableFinished) forward.destroy();
      if (record === undefined) return;
      open--;
      record.closedAtMs = Date.now();
      record.aborted = !res.writableFinished;
    });
  };

  const fronts = new Map<string, Promise<{ server: Server; url: string }>>();
  const openFront = async (gateway: string) => {
    const server = createServer({ keepAliveTimeout: 5_000 }, (req, res) => relay(gateway, req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    return { server, url: `http://127.0.0.1:${port}` };
  };
  return {
    async frontFor(gateway) {
      let front = fronts.get(gateway);
      if (front === undefined) fronts.set(gateway, (front = openFront(gateway)));
      return (await front).url;
    },
    generations,
    get peak() {
      return peak;
    },
    get open() {
      return open;
    },
    reset() {
      generations.length = 0;
      peak = open;
    },
    async close() {
      for (const front of fronts.values()) {
        const { server } = await front;
        const closed = once(server, 'close');
        server.close();
        server.closeAllConnections();
        await closed;
      }
      agent.destroy();
    },
  };
}

function promptOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { prompt?: unknown };
    return typeof parsed.prompt === 'string' ? parsed.prompt : '';
  } catch {
    return '';
  }
}
