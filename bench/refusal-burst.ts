// The backpressure scenario's load generator, run in a worker thread: a burst of POST /v1/tasks
// against a full queue, on its own event loop so the main thread's token-gap timestamps for the
// background streams are not held up by the generator's own work. Kept cheap per request (one
// prebuilt body, undici dispatch callbacks instead of body streams, keep-alive connections with
// pipelining) so that at 10k answers/s on 2 cores the gateway, not the client, is what is measured.

import { parentPort, workerData } from 'node:worker_threads';
import { Pool, type Dispatcher } from 'undici';
import { SampleSet, type Summary } from './stats.ts';

export interface BurstOptions {
  url: string;
  /** Requests in flight at any time. */
  submitters: number;
  connections: number;
  /** Requests in flight per connection; > 1 pipelines the POSTs (undici needs them marked idempotent). */
  pipelining: number;
  durationMs: number;
}

export interface BurstTally {
  statuses: Record<string, number>;
  /** 429s whose body carries the ADMISSION_REJECT code. */
  rejected: number;
  /** 429s with both Retry-After and X-Backoff-Ms. */
  withHints: number;
  errors: number;
  latencyMs: Summary;
  /** Wall time of the burst as the worker saw it. */
  elapsedMs: number;
  /** CPU time of the worker thread during the burst. */
  clientCpuMs: number;
}

export type BurstMessage = { kind: 'ready' } | { kind: 'done'; tally: BurstTally };

const BODY = JSON.stringify({ model: 'bench', prompt: 'burst', max_tokens: 8 });

export function runBurst(opts: BurstOptions): Promise<BurstTally> {
  const pool = new Pool(opts.url, { connections: opts.connections, pipelining: opts.pipelining, keepAliveTimeout: 10_000, headersTimeout: 5_000, bodyTimeout: 5_000 });
  const statuses = new Map<number, number>();
  const latencyMs = new SampleSet();
  let rejected = 0;
  let withHints = 0;
  let errors = 0;
  const request: Dispatcher.DispatchOptions = {
    method: 'POST',
    path: '/v1/tasks',
    headers: { 'content-type': 'application/json' },
    body: BODY,
    // A refused submission changes nothing, so pipelining it is safe; undici only pipelines requests marked so.
    idempotent: opts.pipelining > 1,
    blocking: false,
  };
  const cpuStart = process.threadCpuUsage();
  const started = performance.now();
  const until = started + opts.durationMs;
  let inFlight = 0;
  return new Promise((resolve) => {
    const finish = () => {
      const cpu = process.threadCpuUsage(cpuStart);
      const elapsedMs = performance.now() - started;
      void pool.close().then(() =>
        resolve({
          statuses: Object.fromEntries([...statuses].map(([k, v]) => [String(k), v])),
          rejected,
          withHints,
          errors,
          latencyMs: latencyMs.summary(),
          elapsedMs,
          clientCpuMs: (cpu.user + cpu.system) / 1000,
        }),
      );
    };
    const submit = () => {
      inFlight++;
      const sentAt = performance.now();
      let status = 0;
      let hints = false;
      let text = '';
      const done = () => {
        inFlight--;
        if (performance.now() < until) submit();
        else if (inFlight === 0) finish();
      };
      pool.dispatch(request, {
        onRequestStart() {},
        onResponseStart(_controller, statusCode, headers) {
          status = statusCode;
          hints = headers['retry-after'] !== undefined && headers['x-backoff-ms'] !== undefined;
        },
        onResponseData(_controller, chunk) {
          text += chunk.toString('latin1');
        },
        onResponseEnd() {
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
          if (status === 429) {
            latencyMs.add(performance.now() - sentAt);
            if (text.includes('"ADMISSION_REJECT"')) rejected++;
            if (hints) withHints++;
          }
          done();
        },
        onResponseError() {
          errors++;
          done();
        },
      });
    };
    for (let i = 0; i < opts.submitters; i++) submit();
  });
}

if (parentPort !== null && workerData !== undefined) {
  const port = parentPort;
  const opts = workerData as BurstOptions;
  port.once('message', () => {
    void runBurst(opts).then((tally) => port.postMessage({ kind: 'done', tally } satisfies BurstMessage));
  });
  port.postMessage({ kind: 'ready' } satisfies BurstMessage);
}
