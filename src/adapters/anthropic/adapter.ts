// The `anthropic` provider as a WorkerAdapter: the Messages API with streaming (`x-api-key`,
// `anthropic-version`). The key is resolved at each use from its reference; health is the model
// listing (or the key alone); props are configured facts; every answer's
// `anthropic-ratelimit-*` headers update rateLimit(). Cancel is the abort signal.

import { EngineError, type AdapterInit, type EngineProps, type ProviderRateLimit, type WorkerAdapter } from '../contract.ts';
import { resolveCredential } from '../http/credentials.ts';
import { createEngineStream, createEngineUpstream } from '../http/engine.ts';
import { backoffOf, parseOptions } from '../http/http-options.ts';
import { RecentSecrets, type ResponseHeaders } from '../http/provider-errors.ts';
import { providerHealth } from '../http/provider-health.ts';
import { extraHeaders } from '../http/provider-options.ts';
import { CompletionEnds } from '../http/completion-as-chat.ts';
import { AnthropicStreamDecoder } from './decode.ts';
import { ANTHROPIC_CHAT_SHAPE, encodeAnthropic, MESSAGES_PATH, MODELS_PATH } from './encode.ts';
import { anthropicError, anthropicErrorPolicy } from './errors.ts';
import { AnthropicOptionsSchema } from './options.ts';
import { parseAnthropicRateLimit } from './rate-limit.ts';

export interface AnthropicInit extends AdapterInit {
  /** Configured concurrency (the replica's `slots`, else the registry default). */
  slots: number;
}

export function createAnthropicAdapter(init: AnthropicInit): WorkerAdapter {
  const options = parseOptions(AnthropicOptionsSchema, init.options, 'anthropic');
  const extra = extraHeaders(options.headers, 'anthropic');
  const upstream = createEngineUpstream(init, options);
  const sent = new RecentSecrets();
  let limit: ProviderRateLimit | undefined;
  const policy = anthropicErrorPolicy(options.overload_retry_after_ms, () => sent.list());
  const observe = (headers: ResponseHeaders) => {
    limit = parseAnthropicRateLimit(headers, Date.now()) ?? limit;
  };
  const auth = (key: string): Record<string, string> => ({
    ...extra,
    'x-api-key': key,
    'anthropic-version': options.anthropic_version,
    ...(options.anthropic_beta.length === 0 ? {} : { 'anthropic-beta': options.anthropic_beta.join(',') }),
  });

  async function key(): Promise<string> {
    const credential = await resolveCredential(options.api_key);
    if (!credential.ok) throw new EngineError('POOL_UNREADY', `the Anthropic API cannot be called: ${credential.reason}`);
    return sent.use(credential.value);
  }

  const stream = createEngineStream(upstream, {
    open: async (req) => {
      const headers: Record<string, string> = { ...auth(await key()), 'content-type': 'application/json', accept: 'text/event-stream' };
      if (req.traceparent !== undefined) headers['traceparent'] = req.traceparent;
      const body = JSON.stringify(encodeAnthropic(req).body);
      const decoder = new AnthropicStreamDecoder();
      return {
        call: { path: MESSAGES_PATH, body, headers, onResponse: (_status, h) => observe(h) },
        decoder: req.chat === undefined ? new CompletionEnds(decoder) : decoder,
      };
    },
    toError: (err, tokens) => anthropicError(err, tokens, policy),
  });

  return {
    kind: 'anthropic',
    capabilities: {
      slotAffinity: false,
      deterministic: false,
      reportsSlots: false,
      // No json modes on the Messages API: a response_format is refused before admission.
      chat: { vision: true, tools: true, responseFormat: false, logprobs: false },
      chatShape: ANTHROPIC_CHAT_SHAPE,
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
      engineVersion: `anthropic-${options.anthropic_version}`,
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
