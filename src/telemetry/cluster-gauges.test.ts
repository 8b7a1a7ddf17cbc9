import { describe, expect, it } from 'vitest';
import { lintExposition, readMetricsContract } from '../../tools/metrics-lint/metrics-lint.ts';
import type { ClusterFiguresRead, ClusterFiguresSource } from '../state/redis/cluster-figures.ts';
import { createMetrics } from './metrics.ts';
import { parsePromText, sampleValue } from './prom-text.ts';
import type { TelemetrySnapshot } from './snapshot.ts';

const contract = readMetricsContract();

const snapshot = (): TelemetrySnapshot => ({
  pools: [{ pool_id: 'p1', engine: 'vllm', queue: { interactive: 1, batch: 0 }, replicas: [{ replica_id: 'v0', state: 'ready', slots_total: 2, slots_busy: 1, breaker: 'closed' }] }],
  open_streams: 0,
  retained_task_bytes: 0,
});

const available: ClusterFiguresRead = {
  available: true,
  readAtMs: 0,
  figures: {
    gatewayReplicasLive: ['gw-a', 'gw-b'],
    pools: new Map([['p1', { queue: { interactive: 3, batch: 2 }, capacity: { v0: 2, v1: 4 }, busy: { v0: 2 } }]]),
  },
};

/** A source that answers `read` and counts how often it was asked. */
function source(read: ClusterFiguresRead): ClusterFiguresSource & { reads: number } {
  return {
    gatewayReplica: 'gw-a',
    reads: 0,
    read() {
      this.reads++;
      return Promise.resolve(read);
    },
  };
}

/** Every sample line (not comments) of an exposition. */
const sampleLines = (text: string): string[] => text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));

describe('metrics with the redis backend', () => {
  it('labels every series, fast counters and histograms included, with gateway_replica', async () => {
    const m = createMetrics({ snapshot, cluster: source(available) });
    m.admitted({ task_id: 't', pool_id: 'p1', priority: 'interactive', correlation_id: 'c', max_tokens: 8, queue_position: 0, predicted_start_ms: 0, policy_label: 'reject' });
    m.httpObserve('/v1/tasks', 'POST', 202, 0.01);
    const text = await m.registry.metrics();
    const lines = sampleLines(text);
    expect(lines.length).toBeGreaterThan(50);
    expect(lines.filter((l) => !l.includes('gateway_replica="gw-a"'))).toEqual([]);
    // The engine replica keeps the `replica` label.
    expect(sampleValue(parsePromText(text), 'orchqueue_replica_slots_busy', { pool: 'p1', replica: 'v0', gateway_replica: 'gw-a' })).toBe(1);
    expect(lintExposition(text, contract)).toEqual([]);
  });

  it('serves the cluster gauges from one read of the source per scrape', async () => {
    const from = source(available);
    const m = createMetrics({ snapshot, cluster: from, collectDefaults: false });
    const parsed = parsePromText(await m.registry.metrics());
    expect(sampleValue(parsed, 'orchqueue_cluster_state_up')).toBe(1);
    expect(sampleValue(parsed, 'orchqueue_cluster_queue_depth', { pool: 'p1', priority: 'interactive' })).toBe(3);
    expect(sampleValue(parsed, 'orchqueue_cluster_queue_depth', { pool: 'p1', priority: 'batch' })).toBe(2);
    expect(sampleValue(parsed, 'orchqueue_cluster_slots_capacity', { pool: 'p1', replica: 'v1' })).toBe(4);
    expect(sampleValue(parsed, 'orchqueue_cluster_slots_busy', { pool: 'p1', replica: 'v0' })).toBe(2);
    expect(sampleValue(parsed, 'orchqueue_cluster_slots_busy', { pool: 'p1', replica: 'v1' })).toBeUndefined();
    expect(sampleValue(parsed, 'orchqueue_cluster_gateway_replicas_live')).toBe(2);
    // Five gauges each ask; the source's own cache makes that one Redis round trip.
    expect(from.reads).toBe(5);
  });

  it('answers with the local series and orchqueue_cluster_state_up 0 while the cluster figures are unavailable', async () => {
    const m = createMetrics({ snapshot, cluster: source({ available: false, readAtMs: 0 }), collectDefaults: false });
    const text = await m.registry.metrics();
    const parsed = parsePromText(text);
    expect(sampleValue(parsed, 'orchqueue_cluster_state_up', { gateway_replica: 'gw-a' })).toBe(0);
    expect(parsed.families.get('orchqueue_cluster_queue_depth')?.samples).toEqual([]);
    expect(parsed.families.get('orchqueue_cluster_slots_busy')?.samples).toEqual([]);
    // An unlabelled gauge always has a sample (prom-client): it reads 0 with state_up 0.
    expect(sampleValue(parsed, 'orchqueue_cluster_gateway_replicas_live')).toBe(0);
    expect(sampleValue(parsed, 'orchqueue_queue_depth', { pool: 'p1', priority: 'interactive' })).toBe(1);
    // Process defaults are off here, so only their absence may be reported.
    expect(lintExposition(text, contract).filter((p) => p.kind !== 'missing')).toEqual([]);
  });

  it('adds no gateway_replica label and no cluster series without the redis backend', async () => {
    const text = await createMetrics({ snapshot }).registry.metrics();
    expect(text).not.toContain('gateway_replica');
    expect(text).not.toContain('orchqueue_cluster_');
  });

  it('is caught by the lint when a series carries a label the contract does not allow', () => {
    const text = '# HELP orchqueue_sse_streams_open SSE streams currently open to clients.\n# TYPE orchqueue_sse_streams_open gauge\norchqueue_sse_streams_open{gateway_replica="a",node="x"} 1\n';
    const labelProblems = (c: typeof contract) => lintExposition(text, c).filter((p) => p.kind === 'label').map((p) => p.detail);
    expect(labelProblems(contract)).toEqual(['label "node" is not in the contract']);
    expect(labelProblems({ ...contract, every_series_labels: {} })).toEqual(['label "gateway_replica" is not in the contract', 'label "node" is not in the contract']);
  });
});
