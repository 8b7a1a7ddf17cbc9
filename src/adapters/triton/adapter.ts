// NVIDIA Triton (TensorRT-LLM models) as a WorkerAdapter: KServe v2 health and metadata plus the
// generate extension's `generate_stream`, over one keep-alive upstream pool per replica. Tensor
// names come from the configured profile; context size and slots from options (Triton reports
// neither). Client headers never reach the engine; cancel is the abort signal.

import { EngineError, type AdapterInit, type EngineProps, type WorkerAdapter } from '../contract.ts';
import { createEngineStream, createEngineUpstream } from '../http/engine.ts';
import { backoffOf, engineHeaders, parseOptions, probeHeaders } from '../http/http-options.ts';
import { fetchMetricsText } from '../http/metrics-text.ts';
import { createProber } from '../http/probe.ts';
import { decodeTritonFacts, TritonStreamDecoder } from './decode.ts';
import { encodeTritonRequest, tritonStreamPath } from './encode.ts';
import { tritonError, tritonErrorPolicy } from './errors.ts';
import { TritonOptionsSchema, tritonMetricsUrl, tritonSlots, tritonWire } from './options.ts';

export function createTritonAdapter(init: AdapterInit): WorkerAdapter {
  const options = parseOptions(TritonOptionsSchema, init.options, 'triton');
  const wire = tritonWire(options);
  // Triton sends headers with the first response, so the first-byte budget covers queueing + prefill.
  const upstream = createEngineUpstream(init, options);
  const policy = tritonErrorPolicy(options.overload_retry_after_ms);
  const prober = createProber(upstream, probeHeaders(options), backoffOf(options), (err) => tritonError(err, 0, policy));
  // Triton serves Prometheus text on its own port (--metrics-port, default 8002).
  const metricsUrl = tritonMetricsUrl(init.baseUrl, options.metrics_url);
  const metricsUpstream = createEngineUpstream({ baseUrl: metricsUrl.origin, timeouts: init.timeouts }, { max_connections: 1 });
  const known = { ctxMax: options.ctx_max, slotsTotal: tritonSlots(options), deterministic: options.deterministic };

  async function props(signal: AbortSignal): Promise<EngineProps> {
    const server = await prober.getOk('/v2', signal);
    const model = await prober.getOk(`/v2/models/${encodeURIComponent(init.model)}`, signal);
    const facts = decodeTritonFacts(server.json, model.json, wire, known);
    if (!facts.ok) {
      throw new EngineError('ENGINE_ERROR', `the Triton replica metadata lacks ${facts.field}`, {
        upstreamDetail: `${server.text} ${model.text}`.slice(0, 512),
      });
    }
    return facts.props;
  }

  const stream = createEngineStream(upstream, {
    open: (req) => {
      const headers = { ...engineHeaders(options, req.traceparent), accept: 'text/event-stream' };
      const call = { path: tritonStreamPath(init.model), body: JSON.stringify(encodeTritonRequest(req, wire)), headers };
      return { call, decoder: new TritonStreamDecoder(wire, req.maxTokens) };
    },
    toError: (err, tokens) => tritonError(err, tokens, policy),
  });

  return {
    kind: 'triton',
    capabilities: { slotAffinity: false, deterministic: options.deterministic, reportsSlots: false },
    health: (signal) =>
      prober.health('/v2/health/ready', signal, (res) => {
        if (res.status === 200) return { live: true, ready: true };
        // 400 (not 503) while not ready: the server answers, models are not all loaded.
        return { live: true, ready: false, detail: `engine readiness answered HTTP ${res.status}` };
      }),
    props,
    ...stream,
    metricsText: (signal) => fetchMetricsText(metricsUpstream, metricsUrl.pathname + metricsUrl.search, probeHeaders(options), signal),
    close: async () => {
      await Promise.all([upstream.close(), metricsUpstream.close()]);
    },
  };
}
