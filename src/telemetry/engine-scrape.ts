// Reads the few numbers placement and dashboards want from an engine's own Prometheus text:
// KV cache usage, waiting and running requests. Pure: the caller fetches `/metrics`. Every
// metric is optional; engines rename and drop them between releases (see ENGINES.md).

import { parsePromText, type ParsedExposition, type Sample } from './prom-text.ts';
import type { EngineMetrics } from './snapshot.ts';

type Reduce = 'sum' | 'max';

interface Source {
  name: string;
  /** Only samples whose labels include these values. */
  where?: Record<string, string>;
}

/** Per field, sources in preference order: the first one present in the scrape wins. */
const SOURCES: Readonly<Record<keyof EngineMetrics, readonly Source[]>> = {
  kv_cache_usage_ratio: [
    { name: 'llamacpp:kv_cache_usage_ratio' },
    { name: 'vllm:kv_cache_usage_perc' }, // 0-1 despite the name
    { name: 'vllm:gpu_cache_usage_perc' }, // deprecated spelling of the same gauge
    { name: 'nv_trt_llm_kv_cache_block_metrics', where: { kv_cache_block_type: 'fraction' } },
  ],
  requests_waiting: [
    { name: 'llamacpp:requests_deferred' },
    { name: 'vllm:num_requests_waiting' },
    { name: 'tgi_queue_size' },
    { name: 'nv_trt_llm_request_metrics', where: { request_type: 'waiting' } },
    { name: 'nv_inference_pending_request_count' },
  ],
  requests_running: [
    { name: 'llamacpp:requests_processing' },
    { name: 'vllm:num_requests_running' },
    { name: 'tgi_batch_current_size' },
    { name: 'nv_trt_llm_request_metrics', where: { request_type: 'active' } },
  ],
};

/** Ratios take the busiest engine instance (data-parallel vLLM, several Triton models); counts add up. */
const REDUCE: Readonly<Record<keyof EngineMetrics, Reduce>> = { kv_cache_usage_ratio: 'max', requests_waiting: 'sum', requests_running: 'sum' };

export function parseEngineMetrics(text: string): EngineMetrics {
  const parsed = parsePromText(text);
  const samples = indexByName(parsed);
  const out: EngineMetrics = {};
  for (const field of Object.keys(SOURCES) as (keyof EngineMetrics)[]) {
    const value = firstPresent(samples, SOURCES[field], REDUCE[field]);
    if (value !== undefined) out[field] = value;
  }
  if (out.kv_cache_usage_ratio === undefined) {
    const ratio = tritonBlockRatio(samples);
    if (ratio !== undefined) out.kv_cache_usage_ratio = ratio;
  }
  return out;
}

function indexByName(parsed: ParsedExposition): Map<string, Sample[]> {
  const byName = new Map<string, Sample[]>();
  for (const family of parsed.families.values()) {
    for (const sample of family.samples) {
      const list = byName.get(sample.name);
      if (list) list.push(sample);
      else byName.set(sample.name, [sample]);
    }
  }
  return byName;
}

function firstPresent(samples: Map<string, Sample[]>, sources: readonly Source[], reduce: Reduce): number | undefined {
  for (const source of sources) {
    const values = select(samples, source);
    if (values.length === 0) continue;
    return reduce === 'sum' ? values.reduce((a, b) => a + b, 0) : Math.max(...values);
  }
  return undefined;
}

function select(samples: Map<string, Sample[]>, source: Source): number[] {
  const where = Object.entries(source.where ?? {});
  return (samples.get(source.name) ?? [])
    .filter((s) => Number.isFinite(s.value) && where.every(([k, v]) => s.labels[k] === v))
    .map((s) => s.value);
}

/** Older TensorRT-LLM backends report used/max blocks but no `fraction`. */
function tritonBlockRatio(samples: Map<string, Sample[]>): number | undefined {
  const used = select(samples, { name: 'nv_trt_llm_kv_cache_block_metrics', where: { kv_cache_block_type: 'used' } });
  const max = select(samples, { name: 'nv_trt_llm_kv_cache_block_metrics', where: { kv_cache_block_type: 'max' } });
  const usedSum = used.reduce((a, b) => a + b, 0);
  const maxSum = max.reduce((a, b) => a + b, 0);
  return used.length > 0 && maxSum > 0 ? usedSum / maxSum : undefined;
}
