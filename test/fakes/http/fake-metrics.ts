// The engine-side gauges a fake reports on its own Prometheus endpoint (KV cache usage, waiting
// and running requests) and the writer the fakes share. Series names and the rest of each
// exposition live in the engine's own fake.ts; this file knows no engine.

import type { FakeExchange, SeenRequest } from './fake-server.ts';

export interface FakeEngineGauges {
  /** 0-1. */
  kvCacheUsageRatio: number;
  waiting: number;
  running: number;
}

/**
 * `false`: the engine serves no metrics (llama-server without `--metrics` → 501). An object
 * overrides gauges; a gauge left out is live (running = generations in flight) or a default.
 */
export type FakeMetricsSetting = false | Partial<FakeEngineGauges>;

export const FAKE_KV_CACHE_USAGE = 0.25;

/** The gauges to report now: overrides first, else the live count of open generations. */
export function fakeGauges(setting: Partial<FakeEngineGauges>, seen: readonly SeenRequest[], generatePath: string): FakeEngineGauges {
  return {
    kvCacheUsageRatio: setting.kvCacheUsageRatio ?? FAKE_KV_CACHE_USAGE,
    waiting: setting.waiting ?? 0,
    running: setting.running ?? inFlight(seen, generatePath),
  };
}

/** POSTs to `path` whose response is still open. */
export function inFlight(seen: readonly SeenRequest[], path: string): number {
  let n = 0;
  for (const r of seen) {
    if (r.method === 'POST' && r.path.split('?')[0] === path && !r.finished && !r.aborted && !r.reset) n++;
  }
  return n;
}

/** Answers with a Prometheus text exposition (format 0.0.4, what every engine here serves). */
export function writePromText(ex: FakeExchange, text: string): void {
  ex.res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
  ex.res.end(text);
}
