// Hugging Face TGI as a WorkerAdapter: `/health`, `/info` and `/generate_stream` over one
// keep-alive undici pool per replica. Wire translation lives in encode/decode/errors; this file
// only sequences requests and must not interpret payloads itself.

import {
  EngineError,
  type AdapterInit,
  type CanonicalEvent,
  type CanonicalRequest,
  type EngineHealth,
  type EngineProps,
  type WorkerAdapter,
} from '../contract.ts';
import { decodeTgiInfo, decodeTgiStream } from './decode.ts';
import { encodeTgiRequest, TGI_STREAM_PATH } from './encode.ts';
import { tgiHttpError } from './errors.ts';
import { parseTgiOptions } from './options.ts';
import { createUpstreamPool, getText, postStream, readCapped, relaySse, retryAfterMs, transportError, upstreamDetail } from './upstream.ts';

export function createTgiAdapter(init: AdapterInit): WorkerAdapter {
  const options = parseTgiOptions(init.options);
  const pool = createUpstreamPool(init.baseUrl, init.timeouts);

  async function health(signal: AbortSignal): Promise<EngineHealth> {
    try {
      const res = await getText(pool, '/health', signal);
      if (res.status === 200) return { live: true, ready: true };
      // 503 {"error":"unhealthy","error_type":"healthcheck"}: the router answers, a shard does not.
      return { live: true, ready: false, detail: `health check answered HTTP ${res.status}` };
    } catch (err) {
      // The router only listens once every shard is loaded: refused means loading or down.
      return { live: false, ready: false, detail: transportError(err).message };
    }
  }

  async function props(signal: AbortSignal): Promise<EngineProps> {
    const res = await getText(pool, '/info', signal);
    if (res.status !== 200) throw tgiHttpError(res.status, res.text, undefined);
    const info = decodeTgiInfo(res.text, options.deterministic);
    if (!info.ok) {
      throw new EngineError('ENGINE_ERROR', `engine /info lacks ${info.field}`, { upstreamDetail: upstreamDetail(res.text) });
    }
    return info.props;
  }

  async function* stream(req: CanonicalRequest, signal: AbortSignal): AsyncGenerator<CanonicalEvent> {
    const res = await postStream(pool, TGI_STREAM_PATH, encodeTgiRequest(req), req.traceparent, signal);
    if (res.statusCode !== 200) {
      // Only request-level rejections (e.g. an unparsable body → 422) get here; generation
      // errors on this route arrive in-band under 200.
      const text = await readCapped(res.body).catch(() => '');
      signal.throwIfAborted();
      throw tgiHttpError(res.statusCode, text, retryAfterMs(res.headers));
    }
    yield* relaySse(res.body, signal, decodeTgiStream);
  }

  return {
    kind: 'tgi',
    capabilities: { slotAffinity: false, deterministic: options.deterministic, reportsSlots: true },
    health,
    props,
    stream,
    async close(): Promise<void> {
      // destroy, not close: a stream nobody cancelled must not keep shutdown waiting.
      await pool.destroy();
    },
  };
}
