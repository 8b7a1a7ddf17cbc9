// Opens the Redis connections of one gateway replica, set up to fail closed: no offline queue
// (a command while disconnected rejects at once instead of waiting), one retry per command, and
// a reconnect that keeps trying with a capped backoff, so recovery needs no restart.

import { Redis, type RedisOptions } from 'ioredis';
import { STATE_RETRY_AFTER_MS, unavailable } from '../state-errors.ts';

/** The connection options the redis backend relies on (exported for tests and the wiring). */
export function failClosedOptions(extra: RedisOptions = {}): RedisOptions {
  return {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    // Reconnect forever, at most one retry hint apart: the 503's Retry-After matches it.
    retryStrategy: (attempt: number) => Math.min(50 * attempt, STATE_RETRY_AFTER_MS),
    ...extra,
  };
}

/** A connected client, or STATE_UNAVAILABLE naming the role (never the URL: it may carry a password). */
export async function openRedis(url: string, role: string, extra: RedisOptions = {}): Promise<Redis> {
  const redis = new Redis(url, failClosedOptions({ connectionName: `orchqueue:${role}`, ...extra }));
  // Errors also surface on the commands that hit them; an unheard 'error' event would crash the process.
  redis.on('error', () => {});
  try {
    await redis.connect();
  } catch (error) {
    redis.disconnect();
    throw unavailable(`connect (${role})`, error);
  }
  return redis;
}
