// Full garbage collections and exact heap figures of a gateway under test, through its V8
// inspector (Chrome DevTools Protocol). Bench only: the product exposes no GC hook, and judging
// memory after a full collection needs one. The gateway starts with `--inspect-port` and opens
// the inspector only on SIGUSR1, so the child processes it forks (PGlite's first-start
// initialiser), which inherit NODE_OPTIONS, never compete for the port.

import { freePort } from './processes.ts';

/** The inspector's own answer: `result` for `id`, or `error`. */
interface CdpReply {
  id?: number;
  result?: Record<string, unknown>;
  error?: { message?: string };
}

export interface HeapInspector {
  /** Runs V8's full collections until nothing more is freed (HeapProfiler.collectGarbage). */
  collectGarbage(): Promise<void>;
  /** The main isolate's heap in use and reserved, in bytes (Runtime.getHeapUsage). */
  heapUsage(): Promise<{ usedBytes: number; totalBytes: number }>;
  close(): void;
}

/** NODE_OPTIONS that name a free loopback port for the inspector (opened later by attachInspector), and that port. */
export async function inspectorOption(): Promise<{ nodeOptions: string; port: number }> {
  const port = await freePort();
  return { nodeOptions: `--inspect-port=127.0.0.1:${port}`, port };
}

/** Opens the inspector of process `pid` (started with inspectorOption's NODE_OPTIONS) and attaches to its main thread. */
export async function attachInspector(pid: number, port: number): Promise<HeapInspector> {
  process.kill(pid, 'SIGUSR1');
  let targets: Array<{ webSocketDebuggerUrl?: string }> = [];
  for (let attempt = 0; attempt < 100 && targets.length === 0; attempt++) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/json/list`, { signal: AbortSignal.timeout(2_000) });
      targets = (await res.json()) as Array<{ webSocketDebuggerUrl?: string }>;
    } catch {
      // The inspector opens on the gateway's main thread once its event loop handles the signal.
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const url = targets[0]?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`the inspector on port ${port} lists no target`);
  const socket = new WebSocket(url);
  await new Promise<void>((resolve, reject) => {
    socket.addEventListener('open', () => resolve(), { once: true });
    socket.addEventListener('error', () => reject(new Error(`cannot connect to the inspector at ${url}`)), { once: true });
  });
  let nextId = 1;
  const waiting = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  socket.addEventListener('message', (event: MessageEvent) => {
    const reply = JSON.parse(String(event.data)) as CdpReply;
    const pending = reply.id === undefined ? undefined : waiting.get(reply.id);
    if (pending === undefined || reply.id === undefined) return;
    waiting.delete(reply.id);
    if (reply.error) pending.reject(new Error(`inspector: ${reply.error.message ?? 'error'}`));
    else pending.resolve(reply.result ?? {});
  });
  const call = (method: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      waiting.set(id, { resolve, reject });
      socket.send(JSON.stringify({ id, method }));
    });
  return {
    async collectGarbage() {
      await call('HeapProfiler.collectGarbage');
    },
    async heapUsage() {
      const r = await call('Runtime.getHeapUsage');
      return { usedBytes: Number(r.usedSize), totalBytes: Number(r.totalSize) };
    },
    close: () => socket.close(),
  };
}
