// Tenants and API keys live in the shared database, but each replica authenticates from its own
// in-memory directory (src/tenancy/directory.ts). With state.backend redis, a replica that changes
// a tenant or key publishes on one channel and every other replica reloads its directory from
// the database: a key revoked through any replica is refused by all of them within a message's
// delivery. Pub/sub is at most once, so a replica also reloads whenever its subscriber
// reconnects (it may have missed messages while Redis was away).

import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** A function that tells the other replicas to reload (fire and forget: a failure is logged). */
export function directoryAnnouncer(deps: { publisher: Redis; channel: string; replicaId: string; logger: Pick<Logger, 'warn'> }): () => void {
  return () => {
    deps.publisher.publish(deps.channel, deps.replicaId).catch((error: unknown) => {
      deps.logger.warn({ err: String(error) }, 'tenant change not announced to the other replicas; they see it at their next reload');
    });
  };
}

export interface DirectoryFollowDeps {
  /** A connection in subscriber mode; other channels on it are left to their own listeners. */
  subscriber: Redis;
  channel: string;
  /** This replica's id: its own announcements are not reloaded for. */
  replicaId: string;
  reload: () => Promise<void>;
  logger: Pick<Logger, 'warn'>;
}

/** Reloads the directory on every other replica's announcement and after each reconnect; returns the unsubscribe. */
export async function followDirectoryChanges(deps: DirectoryFollowDeps): Promise<() => Promise<void>> {
  const reload = () => {
    deps.reload().catch((error: unknown) => deps.logger.warn({ err: String(error) }, 'tenant directory not reloaded after a change on another replica; keys may be stale until the next change'));
  };
  const onMessage = (channel: string, sender: string) => {
    if (channel === deps.channel && sender !== deps.replicaId) reload();
  };
  let connected = true;
  const onReady = () => {
    if (!connected) reload();
    connected = true;
  };
  const onClose = () => {
    connected = false;
  };
  deps.subscriber.on('message', onMessage);
  deps.subscriber.on('ready', onReady);
  deps.subscriber.on('close', onClose);
  await deps.subscriber.subscribe(deps.channel);
  return async () => {
    deps.subscriber.off('message', onMessage);
    deps.subscriber.off('ready', onReady);
    deps.subscriber.off('close', onClose);
    await deps.subscriber.unsubscribe(deps.channel).catch(() => undefined);
  };
}
