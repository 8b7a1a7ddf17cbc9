// One GET of an engine's own Prometheus `/metrics` for the telemetry scraper: a single try (the
// next scrape is the retry), a bounded body, and "no metrics" (404/501) told apart from failure.

import { EngineError } from '../contract.ts';
import { readBodyText, type Upstream } from '../../transport/http-agent.ts';

/** A vLLM exposition with many models and histograms is a few hundred KiB; more is not an engine. */
export const METRICS_MAX_BYTES = 4 * 1024 * 1024;

/** Statuses meaning the engine has metrics turned off or no such endpoint (llama-server: 501). */
const METRICS_OFF = new Set([404, 501]);

export async function fetchMetricsText(upstream: Upstream, path: string, headers: Record<string, string>, signal: AbortSignal): Promise<string | undefined> {
  try {
    const res = await upstream.request({ method: 'GET', path, headers: { accept: 'text/plain', ...headers }, signal });
    if (res.status !== 200) {
      await res.body.dump();
      if (METRICS_OFF.has(res.status)) return undefined;
      throw new EngineError('ENGINE_ERROR', `engine metrics answered HTTP ${res.status}`, { upstreamStatus: res.status });
    }
    const text = await readBodyText(res.body, METRICS_MAX_BYTES + 1);
    if (Buffer.byteLength(text, 'utf8') > METRICS_MAX_BYTES) {
      throw new EngineError('ENGINE_ERROR', `engine metrics exceed ${METRICS_MAX_BYTES} bytes`, { upstreamStatus: res.status });
    }
    return text;
  } catch (err) {
    if (signal.aborted) throw signal.reason;
    if (err instanceof EngineError) throw err;
    throw new EngineError('ENGINE_ERROR', 'engine metrics could not be read', { cause: err, upstreamDetail: err instanceof Error ? err.message : String(err) });
  }
}
