// Cluster-wide gauges of the redis backend (issue 15, docs/metrics.md "Cluster"), read from Redis
// at scrape time through a cached ClusterFiguresSource: every gauge of one scrape shares one read.
// While Redis cannot be read orchqueue_cluster_state_up is 0, the labelled cluster gauges have no
// sample and the unlabelled live count reads 0; the local series of the scrape are unaffected.

import { Gauge, type Registry } from 'prom-client';
import type { ClusterFigures, ClusterFiguresSource } from '../state/redis/cluster-figures.ts';

interface ClusterGaugeSpec {
  name: string;
  help: string;
  labelNames: string[];
  fill: (gauge: Gauge, figures: ClusterFigures) => void;
}

const perEngineReplica = (pick: (pool: { capacity: Record<string, number>; busy: Record<string, number> }) => Record<string, number>) =>
  (gauge: Gauge, figures: ClusterFigures): void => {
    for (const [poolId, pool] of figures.pools) {
      for (const [replica, slots] of Object.entries(pick(pool))) gauge.set({ pool: poolId, replica }, slots);
    }
  };

const CLUSTER_GAUGES: readonly ClusterGaugeSpec[] = [
  {
    name: 'orchqueue_cluster_queue_depth',
    help: 'Tasks waiting in the shared queue of the cluster, by pool and priority class.',
    labelNames: ['pool', 'priority'],
    fill: (gauge, figures) => {
      for (const [poolId, pool] of figures.pools) {
        gauge.set({ pool: poolId, priority: 'interactive' }, pool.queue.interactive);
        gauge.set({ pool: poolId, priority: 'batch' }, pool.queue.batch);
      }
    },
  },
  {
    name: 'orchqueue_cluster_slots_capacity',
    help: 'Slots an engine replica offers, as the shared admission counts them.',
    labelNames: ['pool', 'replica'],
    fill: perEngineReplica((pool) => pool.capacity),
  },
  {
    name: 'orchqueue_cluster_slots_busy',
    help: 'Slots of an engine replica in use by any gateway replica of the cluster.',
    labelNames: ['pool', 'replica'],
    fill: perEngineReplica((pool) => pool.busy),
  },
  {
    name: 'orchqueue_cluster_gateway_replicas_live',
    help: 'Gateway replicas whose lease is live.',
    labelNames: [],
    fill: (gauge, figures) => gauge.set(figures.gatewayReplicasLive.length),
  },
];

/** Registers orchqueue_cluster_state_up and the cluster gauges; each scrape reads the source once (cached). */
export function registerClusterGauges(registry: Registry, source: ClusterFiguresSource): void {
  const registers = [registry];
  new Gauge({
    name: 'orchqueue_cluster_state_up',
    help: '1 when the cluster figures could be read from Redis at this scrape, else 0.',
    registers,
    async collect() {
      this.set((await source.read()).available ? 1 : 0);
    },
  });
  for (const spec of CLUSTER_GAUGES) {
    new Gauge({
      name: spec.name,
      help: spec.help,
      labelNames: spec.labelNames,
      registers,
      async collect() {
        const read = await source.read();
        // Pools and engine replicas come and go; without a read there is nothing cluster-wide to show.
        this.reset();
        if (read.available) spec.fill(this, read.figures);
      },
    });
  }
}
