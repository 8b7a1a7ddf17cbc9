// Hugging Face TGI as a WorkerAdapter: `/health`, `/info`, `/generate_stream` and the Messages
// API `/v1/chat/completions` (chat workload) over one keep-alive upstream pool per replica. Wire
// translation lives in the codec files; this one only sequences calls. Client headers never
// reach the engine; cancel is the abort signal.

import { EngineError, type AdapterInit, type ChatCanonicalRequest, type EngineProps, type WorkerAdapter } from '../contract.ts';
import { createEngineStream, createEngineUpstream, routeByWorkload } from '../http/engine.ts';
import { backoffOf, engineHeaders, parseOptions, probeHeaders } from '../http/http-options.ts';
import { fetchMetricsText } from '../http/metrics-text.ts';
import { createProber } from '../http/probe.ts';
import { openChatStream } from '../openai-compat/chat-call.ts';
import { encodeTgiChat } from './chat-encode.ts';
import { tgiChatError } from './chat-errors.ts';
import { decodeTgiInfo, TgiStreamDecoder } from './decode.ts';
import { encodeTgiRequest, TGI_STREAM_PATH } from './encode.ts';
import { tgiError, tgiErrorPolicy } from './errors.ts';
import { TgiOptionsSchema } from './options.ts';

export function createTgiAdapter(init: AdapterInit): WorkerAdapter {
  const options = parseOptions(TgiOptionsSchema, init.options, 'tgi');
  const upstream = createEngineUpstream(init, options);
  const policy = tgiErrorPolicy(options.overload_retry_after_ms);
  const prober = createProber(upstream, probeHeaders(options), backoffOf(options), (err) => tgiError(err, 0, policy));

  async function props(signal: AbortSignal): Promise<EngineProps> {
    const res = await prober.getOk('/info', signal);
    const info = decodeTgiInfo(res.json, options.deterministic);
    if (!info.ok) {
      throw new EngineError('ENGINE_ERROR', `the TGI replica returned /info without ${info.field}`, {
        upstreamStatus: res.status,
        upstreamDetail: res.text.slice(0, 512),
      });
    }
    return info.props;
  }

  const completion = createEngineStream(upstream, {
    open: (req) => {
      const headers = { ...engineHeaders(options, req.traceparent), accept: 'text/event-stream' };
      const call = { path: TGI_STREAM_PATH, body: JSON.stringify(encodeTgiRequest(req)), headers };
      return { call, decoder: new TgiStreamDecoder() };
    },
    toError: (err, tokens) => tgiError(err, tokens, policy),
  });
  // TGI numbers tool calls "0", "1", ... in every answer: the gateway mints ids instead.
  const chat = createEngineStream<ChatCanonicalRequest>(upstream, {
    open: (req) => openChatStream(req, { body: encodeTgiChat(req), headers: engineHeaders(options, req.traceparent), toolCallIds: 'mint' }),
    toError: (err, tokens) => tgiChatError(err, tokens, policy),
  });

  return {
    kind: 'tgi',
    capabilities: {
      slotAffinity: false,
      deterministic: options.deterministic,
      reportsSlots: true,
      // Tools are TGI's own grammar (no server flag); logprobs are not forwarded.
      chat: { vision: options.chat_vision, tools: true, responseFormat: true, logprobs: false },
    },
    health: (signal) =>
      prober.health('/health', signal, (res) => {
        if (res.status === 200) return { live: true, ready: true };
        // 503 {"error":"unhealthy","error_type":"healthcheck"}: the router answers, a shard does not.
        return { live: true, ready: false, detail: `engine health answered HTTP ${res.status}` };
      }),
    props,
    ...routeByWorkload(completion, chat),
    // The router serves Prometheus text on its API port.
    metricsText: (signal) => fetchMetricsText(upstream, '/metrics', probeHeaders(options), signal),
    close: () => upstream.close(),
  };
}
