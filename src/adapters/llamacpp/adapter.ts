// WorkerAdapter for one llama.cpp `llama-server` replica: streams `/completion` (or
// `/v1/chat/completions` for the chat workload), probes `/health`, reads `/props` + `/slots`.
// Client headers never reach the engine (some, like X-Conversation-Id, change its cancel
// behaviour); cancel is the abort signal.

import { EngineError, type AdapterInit, type ChatCanonicalRequest, type EngineProps, type WorkerAdapter } from '../contract.ts';
import { createEngineStream, createEngineUpstream, routeByWorkload } from '../http/engine.ts';
import { backoffOf, engineHeaders, parseOptions, probeHeaders } from '../http/http-options.ts';
import { fetchMetricsText } from '../http/metrics-text.ts';
import { createProber, type Prober } from '../http/probe.ts';
import { openChatStream } from '../openai-compat/chat-call.ts';
import { encodeLlamacppChat } from './chat-encode.ts';
import { LlamacppStreamDecoder } from './decode.ts';
import { COMPLETION_PATH, encodeLlamacpp } from './encode.ts';
import { llamacppError, llamacppErrorPolicy } from './errors.ts';
import { LlamacppOptionsSchema } from './options.ts';
import { decodeLlamacppProps, decodeSlotsFree } from './props.ts';

export function createLlamacppAdapter(init: AdapterInit): WorkerAdapter {
  const options = parseOptions(LlamacppOptionsSchema, init.options, 'llamacpp');
  const upstream = createEngineUpstream(init, options);
  const policy = llamacppErrorPolicy(options.overload_retry_after_ms);
  const prober = createProber(upstream, probeHeaders(options), backoffOf(options), (err) => llamacppError(err, 0, policy));

  const completion = createEngineStream(upstream, {
    open: (req) => ({
      call: { path: COMPLETION_PATH, body: JSON.stringify(encodeLlamacpp(req)), headers: engineHeaders(options, req.traceparent) },
      decoder: new LlamacppStreamDecoder(),
    }),
    toError: (err, tokens) => llamacppError(err, tokens, policy),
  });
  // Same errors as /completion: real statuses before the first chunk, `data: {"error"}` (older
  // builds: an `error:` line) after it. Tool-call ids are the engine's (random per call).
  const chat = createEngineStream<ChatCanonicalRequest>(upstream, {
    open: (req) => openChatStream(req, { body: encodeLlamacppChat(req), headers: engineHeaders(options, req.traceparent), toolCallIds: 'engine' }),
    toError: (err, tokens) => llamacppError(err, tokens, policy),
  });

  return {
    kind: 'llamacpp',
    capabilities: {
      slotAffinity: true,
      deterministic: true,
      reportsSlots: true,
      // json_object / json_schema become a grammar on every build; logprobs are not forwarded.
      chat: { vision: options.chat_vision, tools: options.chat_tools, responseFormat: true, logprobs: false },
    },
    health: (signal) =>
      prober.health('/health', signal, (res) => {
        if (res.status === 200) return { live: true, ready: true };
        // 503 while the model loads (the listener is up first); 500 when loading failed.
        if (res.status === 503) return { live: true, ready: false, detail: 'engine is loading its model' };
        return { live: true, ready: false, detail: `engine health answered HTTP ${res.status}` };
      }),
    props: (signal) => readProps(prober, init.model, signal),
    ...routeByWorkload(completion, chat),
    // 501 unless llama-server runs with --metrics.
    metricsText: (signal) => fetchMetricsText(upstream, '/metrics', probeHeaders(options), signal),
    close: () => upstream.close(),
  };
}

async function readProps(prober: Prober, model: string, signal: AbortSignal): Promise<EngineProps> {
  const res = await prober.getOk('/props', signal);
  const facts = decodeLlamacppProps(res.json, model);
  if (facts === undefined) {
    throw new EngineError('ENGINE_ERROR', 'the llama.cpp replica returned /props without a context size', {
      upstreamStatus: res.status,
      upstreamDetail: res.text.slice(0, 512),
    });
  }
  const slotsFree = await readSlotsFree(prober, signal);
  return slotsFree === undefined ? facts : { ...facts, slotsFree };
}

/** `/slots` is optional (`--no-slots` → 501); its absence never fails props(). */
async function readSlotsFree(prober: Prober, signal: AbortSignal): Promise<number | undefined> {
  try {
    const res = await prober.get('/slots', signal);
    return res.status === 200 ? decodeSlotsFree(res.json) : undefined;
  } catch {
    return undefined;
  }
}
