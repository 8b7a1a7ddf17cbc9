// Ollama's native API as a WorkerAdapter: streams `/api/chat` (NDJSON), probes `GET /` ("Ollama is
// running"), reads `/api/version` and `/api/tags` (props checks the model is pulled; models()
// lists them for the catalog). Models load lazily inside the first request, so a ready replica
// may still be slow to its first token. Cancel is the abort signal (Ollama stops the runner).

import { EngineError, type AdapterInit, type CanonicalEvent, type CanonicalRequest, type EngineHealth, type EngineProps, type EventSink, type WorkerAdapter } from '../contract.ts';
import { resolveCredential, type Credential } from '../http/credentials.ts';
import { createEngineUpstream } from '../http/engine.ts';
import { parseOptions } from '../http/http-options.ts';
import { createProber, type Prober } from '../http/probe.ts';
import { scrubSecret } from '../http/secret-scrub.ts';
import { pulled } from '../../transport/body-pump.ts';
import { pumpNdjson } from '../../transport/ndjson-stream.ts';
import { ollamaDecoder } from './decode.ts';
import { encodeOllama, OLLAMA_CHAT_PATH } from './encode.ts';
import { ollamaError, ollamaErrorPolicy } from './errors.ts';
import { OLLAMA_DEFAULT_CTX, OllamaOptionsSchema } from './options.ts';
import { decodeOllamaTags, decodeOllamaVersion, hasModel } from './props.ts';

export interface OllamaAdapterDeps {
  /** Where `api_key: { env }` is looked up (tests pass their own). */
  env?: Readonly<Record<string, string | undefined>>;
}

/** No credential configured: nothing to send, nothing to scrub. */
const NO_KEY: Credential = { ok: true, value: '' };

export function createOllamaAdapter(init: AdapterInit, deps: OllamaAdapterDeps = {}): WorkerAdapter {
  const options = parseOptions(OllamaOptionsSchema, init.options, 'ollama');
  const upstream = createEngineUpstream(init, options);
  const policy = ollamaErrorPolicy(options.overload_retry_after_ms);
  const env = deps.env ?? process.env;
  const backoff = { attempts: options.retry_attempts, baseMs: options.retry_base_ms, capMs: options.retry_cap_ms };
  const key = (): Promise<Credential> => (options.api_key === undefined ? Promise.resolve(NO_KEY) : resolveCredential(options.api_key, env));
  const auth = (secret: string): Record<string, string> => (secret === '' ? {} : { authorization: `Bearer ${secret}` });
  const proberWith = (secret: string): Prober => createProber(upstream, auth(secret), backoff, (err) => scrubSecret(ollamaError(err, 0, policy), secret));

  async function askable(): Promise<Prober> {
    const credential = await key();
    if (!credential.ok) throw new EngineError('POOL_UNREADY', credential.reason);
    return proberWith(credential.value);
  }

  async function health(signal: AbortSignal): Promise<EngineHealth> {
    const credential = await key();
    if (!credential.ok) return { live: true, ready: false, detail: credential.reason };
    // Ollama has no readiness: `/` answers 200 while models load per request.
    return proberWith(credential.value).health('/', signal, (res) =>
      res.status === 200 ? { live: true, ready: true } : { live: true, ready: false, detail: `engine answered HTTP ${res.status} on /` });
  }

  async function models(signal: AbortSignal): Promise<string[]> {
    const res = await (await askable()).getOk('/api/tags', signal);
    const names = decodeOllamaTags(res.json);
    if (names === undefined) throw new EngineError('ENGINE_ERROR', 'the Ollama replica answered /api/tags without a model list', { upstreamDetail: res.text.slice(0, 512) });
    return names;
  }

  async function props(signal: AbortSignal): Promise<EngineProps> {
    const prober = await askable();
    const [version, listed] = await Promise.all([prober.getOk('/api/version', signal), models(signal)]);
    if (!hasModel(listed, init.model)) throw new EngineError('ENGINE_ERROR', `the Ollama replica has no model ${init.model} (pull it first)`);
    return {
      engineVersion: decodeOllamaVersion(version.json) ?? 'unknown',
      model: init.model,
      ctxMax: options.num_ctx ?? OLLAMA_DEFAULT_CTX,
      slotsTotal: options.num_parallel,
      // A seeded request samples reproducibly on one server; parallel batching may still differ.
      deterministic: options.deterministic,
    };
  }

  async function streamTo(req: CanonicalRequest, signal: AbortSignal, sink: EventSink): Promise<void> {
    const credential = await key();
    if (!credential.ok) throw new EngineError('POOL_UNREADY', `the Ollama replica cannot be called: ${credential.reason}`);
    const { body } = encodeOllama(req, {
      ...(options.num_ctx === undefined ? {} : { numCtx: options.num_ctx }),
      ...(options.keep_alive === undefined ? {} : { keepAlive: options.keep_alive }),
    });
    const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/x-ndjson', ...auth(credential.value) };
    if (req.traceparent !== undefined) headers['traceparent'] = req.traceparent;
    const decoder = ollamaDecoder(req);
    try {
      await pumpNdjson(upstream, { path: OLLAMA_CHAT_PATH, body: JSON.stringify(body), headers }, decoder, signal, sink);
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      throw scrubSecret(ollamaError(err, decoder.tokens, policy), credential.value);
    }
  }
  const stream = (req: CanonicalRequest, signal: AbortSignal) => pulled<CanonicalEvent>(signal, (linked, sink) => streamTo(req, linked, sink));


  return {
    kind: 'ollama',
    capabilities: {
      slotAffinity: false,
      deterministic: options.deterministic,
      reportsSlots: false,
      // Vision and tools depend on the pulled model; the server refuses what the model cannot do.
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
