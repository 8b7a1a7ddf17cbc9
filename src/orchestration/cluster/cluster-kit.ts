// What the composition root needs only with state.backend redis, loaded on demand: the
// embedded default never runs these modules, and loaded up front they kept ioredis and the
// cluster's modules resident for nothing (docs/operations.md "Memory"). Every import here is
// dynamic; src/main.test.ts checks that starting on the defaults loads no ioredis.

import type { Config } from '../../config/schema.ts';
import type { ClusterState } from './cluster-state.ts';

/** The redis backend's modules, each loaded once (the module cache) by the first call. */
async function loadClusterKit() {
  const [sessions, service, membership, state, figures, sync, standing] = await Promise.all([
    import('../../state/redis/session-store.ts'),
    import('./cluster-task-service.ts'),
    import('./cluster-membership.ts'),
    import('./cluster-state.ts'),
    import('../../state/redis/cluster-figures.ts'),
    import('../../state/redis/directory-sync.ts'),
    import('../../state/redis/quota-standing.ts'),
  ]);
  return {
    RedisSessionStore: sessions.RedisSessionStore,
    ClusterTaskService: service.ClusterTaskService,
    joinCluster: membership.joinCluster,
    openClusterState: state.openClusterState,
    ClusterFiguresReader: figures.ClusterFiguresReader,
    directoryAnnouncer: sync.directoryAnnouncer,
    followDirectoryChanges: sync.followDirectoryChanges,
    RedisQuotaStanding: standing.RedisQuotaStanding,
  };
}

export type ClusterKit = Awaited<ReturnType<typeof loadClusterKit>>;

/** The redis backend's shared state, with the modules that work on it. */
export type OpenCluster = ClusterState & { readonly kit: ClusterKit };

/** Opens the shared state (a Redis that cannot be reached rejects) after loading the kit. */
export async function openCluster(config: Config, replicaId: string): Promise<OpenCluster> {
  const kit = await loadClusterKit();
  return Object.assign(await kit.openClusterState(config, replicaId), { kit });
}
