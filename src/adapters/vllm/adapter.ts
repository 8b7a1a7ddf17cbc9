// WorkerAdapter for one vLLM OpenAI-compatible server: streams `/v1/completions` (or
// `/v1/chat/completions` for the chat workload), probes `/health`, reads `/version` +
// `/v1/models`. Only engine headers are sent; cancel is the abort signal (vLLM aborts the
// request in the engine on disconnect).

import { Type } from '@sinclair/typebox';
import { EngineError, type AdapterInit, type ChatCanonicalRequest, type EngineProps, type WorkerAdapter } from '../contract.ts';
import { createEngineStream, createEngineUpstream, routeByWorkload } from '../http/engine.ts';
import { HttpOptionFields, backoffOf, engineHeaders, parseOptions, probeHeaders } from '../http/http-options.ts';
import { fetchMetricsText } from '../http/metrics-text.ts';
import { createProber } from '../http/probe.ts';
import { openChatStream } from '../openai-compat/chat-call.ts';
import { encodeVllmChat } from './chat-encode.ts';
import { VllmStreamDecoder } from './decode.ts';
import { COMPLETIONS_PATH, encodeVllm } from './encode.ts';
import { vllmError, vllmErrorPolicy } from './errors.ts';
import { decodeVllmModel, decodeVllmVersion } from './props.ts';

const VllmOptionsSchema = Type.Object(
  {
    ...HttpOptionFields,
    max_num_seqs: Type.Integer({ minimum: 1, default: 256, description: 'the server --max-num-seqs; vLLM does not report it' }),
    chat_tools: Type.Boolean({
      default: false,
      description: 'vLLM runs with --enable-auto-tool-choice and a --tool-call-parser; without them tool_choice "auto" is refused',
    }),
    chat_vision: Type.Boolean({ default: false, description: 'the served model is multimodal, so chat takes images' }),
  },
  { additionalProperties: false },
);

export function createVllmAdapter(init: AdapterInit): WorkerAdapter {
  const options = parseOptions(VllmOptionsSchema, init.options, 'vllm');
  const upstream = createEngineUpstream(init, options);
  const policy = vllmErrorPolicy(options.overload_retry_after_ms);
  const prober = createProber(upstream, probeHeaders(options), backoffOf(options), (err) => vllmError(err, 0, policy));

  async function props(signal: AbortSignal): Promise<EngineProps> {
    const [version, models] = await Promise.all([prober.getOk('/version', signal), prober.getOk('/v1/models', signal)]);
    const card = decodeVllmModel(models.json, init.model);
    if (card === undefined) {
      throw new EngineError('ENGINE_ERROR', 'the vLLM replica listed no model with max_model_len', { upstreamDetail: models.text.slice(0, 512) });
    }
    return {
      engineVersion: decodeVllmVersion(version.json) ?? 'unknown',
      model: card.model,
      ctxMax: card.ctxMax,
      slotsTotal: options.max_num_seqs,
      // Holds for requests that carry a seed (vLLM seeds sampling per request); unseeded
      // requests sample differently every time.
      deterministic: true,
    };
  }

  const completion = createEngineStream(upstream, {
    open: (req) => ({
      call: { path: COMPLETIONS_PATH, body: JSON.stringify(encodeVllm(req)), headers: engineHeaders(options, req.traceparent) },
      decoder: new VllmStreamDecoder(),
    }),
    toError: (err, tokens) => vllmError(err, tokens, policy),
  });
  // Tool-call ids are vLLM's own (`chatcmpl-tool-<random>`), unique across turns.
  const chat = createEngineStream<ChatCanonicalRequest>(upstream, {
    open: (req) => openChatStream(req, { body: encodeVllmChat(req), headers: engineHeaders(options, req.traceparent), toolCallIds: 'engine', readsStopReason: true }),
    toError: (err, tokens) => vllmError(err, tokens, policy),
  });

  return {
    kind: 'vllm',
    capabilities: {
      slotAffinity: false,
      deterministic: true,
      reportsSlots: false,
      // response_format is structured output (guided decoding) on every build; logprobs are not forwarded.
      chat: { vision: options.chat_vision, tools: options.chat_tools, responseFormat: true, logprobs: false },
    },
    health: (signal) =>
      prober.health('/health', signal, (res) => {
        if (res.status === 200) return { live: true, ready: true };
        // 503 = EngineDeadError: the API process answers but its engine is gone.
        return { live: true, ready: false, detail: res.status === 503 ? 'engine process is dead' : `engine health answered HTTP ${res.status}` };
      }),
    props,
    ...routeByWorkload(completion, chat),
    metricsText: (signal) => fetchMetricsText(upstream, '/metrics', probeHeaders(options), signal),
    close: () => upstream.close(),
  };
}
