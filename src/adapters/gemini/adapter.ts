// Google Gemini (Generative Language API) as a WorkerAdapter: streams
// `models/{model}:streamGenerateContent?alt=sse`, probes and describes the model with `models.get`.
// The API key is resolved from its reference on every call and sent only as `x-goog-api-key`
// (never `?key=`, so no URL in any error can hold it); a missing key makes health not ready
// with a reason naming the reference, and every error leaving here is scrubbed of the key.

import { EngineError, type AdapterInit, type CanonicalEvent, type CanonicalRequest, type EngineHealth, type EngineProps, type EventSink, type WorkerAdapter } from '../contract.ts';
import { resolveCredential, type Credential } from '../http/credentials.ts';
import { createEngineUpstream } from '../http/engine.ts';
import { parseOptions } from '../http/http-options.ts';
import { createProber, type Prober } from '../http/probe.ts';
import { scrubSecret } from '../http/secret-scrub.ts';
import { pulled } from '../../transport/body-pump.ts';
import { pumpSse } from '../../transport/sse-stream.ts';
import { geminiDecoder } from './decode.ts';
import { encodeGemini, geminiModelPath, geminiStreamPath } from './encode.ts';
import { geminiError, geminiErrorPolicy } from './errors.ts';
import { GeminiOptionsSchema } from './options.ts';
import { decodeGeminiModelCard, decodeGeminiModelPage } from './props.ts';

/** A bound on models.list pages: the catalog is a few dozen models. */
const MAX_MODEL_PAGES = 20;

export interface GeminiAdapterDeps {
  /** Where `api_key: { env }` is looked up (tests pass their own). */
  env?: Readonly<Record<string, string | undefined>>;
}

export function createGeminiAdapter(init: AdapterInit, deps: GeminiAdapterDeps = {}): WorkerAdapter {
  const options = parseOptions(GeminiOptionsSchema, init.options, 'gemini');
  const upstream = createEngineUpstream(init, options);
  const policy = geminiErrorPolicy(options.overload_retry_after_ms);
  const env = deps.env ?? process.env;
  const modelPath = geminiModelPath(options.api_version, init.model);
  const key = (): Promise<Credential> => resolveCredential(options.api_key, env);
  const backoff = { attempts: options.retry_attempts, baseMs: options.retry_base_ms, capMs: options.retry_cap_ms };
  const proberWith = (secret: string): Prober =>
    createProber(upstream, { 'x-goog-api-key': secret }, backoff, (err) => scrubSecret(geminiError(err, 0, policy), secret));

  async function health(signal: AbortSignal): Promise<EngineHealth> {
    const credential = await key();
    if (!credential.ok) return { live: true, ready: false, detail: credential.reason };
    return proberWith(credential.value).health(modelPath, signal, (res): EngineHealth => {
      // A 429 is a quota on requests, not a broken replica: the next request decides.
      if (res.status === 200 || res.status === 429) return { live: true, ready: true };
      // Google answers an invalid key with 400 API_KEY_INVALID; a 400 can also be FAILED_PRECONDITION (region).
      if (res.status === 400) return { live: true, ready: false, detail: 'the provider refused the API key or the caller (HTTP 400)' };
      if (res.status === 401 || res.status === 403) return { live: true, ready: false, detail: `the provider refused the API key (HTTP ${res.status})` };
      if (res.status === 404) return { live: true, ready: false, detail: `the provider does not serve model ${init.model}` };
      return { live: true, ready: false, detail: `the provider answered HTTP ${res.status}` };
    });
  }

  async function askable(): Promise<Prober> {
    const credential = await key();
    if (!credential.ok) throw new EngineError('POOL_UNREADY', credential.reason);
    return proberWith(credential.value);
  }

  async function props(signal: AbortSignal): Promise<EngineProps> {
    const res = await (await askable()).getOk(modelPath, signal);
    const card = decodeGeminiModelCard(res.json, init.model);
    if (card === undefined) throw new EngineError('ENGINE_ERROR', 'the Gemini provider described the model without inputTokenLimit', { upstreamDetail: res.text.slice(0, 512) });
    return {
      engineVersion: card.version ?? 'unknown',
      model: card.model,
      // A request must fit the input limit and its max_tokens the output limit; their sum bounds both.
      ctxMax: card.inputTokenLimit + (card.outputTokenLimit ?? 0),
      slotsTotal: options.max_concurrency,
      // A seed is forwarded, but the provider promises best effort only.
      deterministic: false,
    };
  }

  /** `models.list`, every page (bounded), keeping models that serve generateContent. */
  async function models(signal: AbortSignal): Promise<string[]> {
    const prober = await askable();
    const ids: string[] = [];
    let token: string | undefined;
    for (let page = 0; page < MAX_MODEL_PAGES; page++) {
      const query = `?pageSize=1000${token === undefined ? '' : `&pageToken=${encodeURIComponent(token)}`}`;
      const res = await prober.getOk(`/${options.api_version}/models${query}`, signal);
      const decoded = decodeGeminiModelPage(res.json);
      if (decoded === undefined) throw new EngineError('ENGINE_ERROR', 'the Gemini provider answered models.list without a model list', { upstreamDetail: res.text.slice(0, 512) });
      ids.push(...decoded.ids);
      token = decoded.nextPageToken;
      if (token === undefined) break;
    }
    return ids;
  }

  async function streamTo(req: CanonicalRequest, signal: AbortSignal, sink: EventSink): Promise<void> {
    const credential = await key();
    if (!credential.ok) throw new EngineError('POOL_UNREADY', `the Gemini replica cannot be called: ${credential.reason}`);
    const { body } = encodeGemini(req);
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'text/event-stream', 'x-goog-api-key': credential.value };
    if (req.traceparent !== undefined) headers['traceparent'] = req.traceparent;
    const decoder = geminiDecoder(req);
    try {
      await pumpSse(upstream, { path: geminiStreamPath(options.api_version, req.model), body: JSON.stringify(body), headers }, decoder, signal, sink);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw scrubSecret(geminiError(err, decoder.tokens, policy), credential.value);
    }
  }
  const stream = (req: CanonicalRequest, signal: AbortSignal) => pulled<CanonicalEvent>(signal, (linked, sink) => streamTo(req, linked, sink));


  return {
    kind: 'gemini',
    capabilities: {
      slotAffinity: false,
      deterministic: false,
      reportsSlots: false,
      chat: { vision: true, tools: true, responseFormat: true, logprobs: false },
    },
    health,
    props,
    stream,
    streamTo,
    models,
    close: () => upstream.close(),
  };
}
