// The `openai` provider as a WorkerAdapter: any OpenAI-compatible base URL (OpenAI, OpenRouter,
// Together, Groq, a remote vLLM) over Chat Completions streaming. The key is resolved at each
// use from its reference; health is the model listing (or the key alone); props are configured
// facts; every answer's `x-ratelimit-*` headers update rateLimit(). Cancel is the abort signal.

import type { AdapterInit, EngineProps, ProviderRateLimit, WorkerAdapter } from '../contract.ts';
import { EngineError } from '../contract.ts';
import { resolveCredential } from '../http/credentials.ts';
import { createEngineStream, createEngineUpstream } from '../http/engine.ts';
import { backoffOf, parseOptions } from '../http/http-options.ts';
import { RecentSecrets } from '../http/provider-errors.ts';
import { providerHealth } from '../http/provider-health.ts';
import { extraHeaders } from '../http/provider-options.ts';
import { openAiDecoder } from './decode.ts';
import { CHAT_PATH, encodeOpenAi, MODELS_PATH } from './encode.ts';
import { openAiError, openAiErrorPolicy } from './errors.ts';
import { OpenAiOptionsSchema } from './options.ts';
import { parseOpenAiRateLimit } from './rate-limit.ts';

export interface OpenAiInit extends AdapterInit {
  /** Configured concurrency (the replica's `slots`, else the registry default). */
  slots: number;
}

export function createOpenAiAdapter(init: OpenAiInit): WorkerAdapter {
  const options = parseOptions(OpenAiOptionsSchema, init.options, 'openai');
  const extra = extraHeaders(options.headers, 'openai');
  const upstream = createEngineUpstream(init, options);
  const sent = new RecentSecrets();
  let limit: ProviderRateLimit | undefined;
  const policy = openAiErrorPolicy(options.overload_retry_after_ms, () => sent.list());
  const observe = (headers: Parameters<typeof parseOpenAiRateLimit>[0]) => {
    limit = parseOpenAiRateLimit(headers, Date.now()) ?? limit;
  };
  const auth = (key: string) => ({ ...extra, authorization: `Bearer ${key}` });

  async function key(): Promise<string> {
    const credential = await resolveCredential(options.api_key);
    if (!credential.ok) throw new EngineError('POOL_UNREADY', `the OpenAI-compatible provider cannot be called: ${credential.reason}`);
    return sent.use(credential.value);
  }

  const stream = createEngineStream(upstream, {
    open: async (req) => {
      const headers: Record<string, string> = { ...auth(await key()), 'content-type': 'application/json', accept: 'text/event-stream' };
      if (req.traceparent !== undefined) headers['traceparent'] = req.traceparent;
      const body = JSON.stringify(encodeOpenAi(req, options).body);
      return { call: { path: CHAT_PATH, body, headers, onResponse: (_status, h) => observe(h) }, decoder: openAiDecoder(req) };
    },
    toError: (err, tokens) => openAiError(err, tokens, policy),
  });

  return {
    kind: 'openai',
    capabilities: {
      slotAffinity: false,
      deterministic: false,
      reportsSlots: false,
      chat: { vision: true, tools: true, responseFormat: true, logprobs: false },
    },
    health: (signal) =>
      providerHealth(
        {
          upstream,
          apiKey: options.api_key,
          check: options.health_check,
          modelsPath: MODELS_PATH,
          headersFor: (k) => {
            return auth(sent.use(k));
          },
          backoff: backoffOf(options),
          onResponse: (res) => observe(res.headers),
        },
        signal,
      ),
    props: async (): Promise<EngineProps> => ({
      engineVersion: 'openai-compatible',
      model: init.model,
      ctxMax: options.ctx_max,
      slotsTotal: init.slots,
      deterministic: false,
    }),
    ...stream,
    rateLimit: () => limit,
    close: () => upstream.close(),
  };
}
