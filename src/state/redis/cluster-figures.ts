// Cluster-wide figures read from Redis for /metrics and /v1/pools (issue 15, "Operations"): each
// pool's queue depth by class, its engine slots (capacity and busy per engine replica, as the
// admission scripts count them) and the live gateway replicas. Read-only: one pipelined round
// trip, cached for a short while and shared by concurrent readers, so scrapes never hammer Redis;
// a failed read is cached too and answers `available: false` rather than throwing.

import type { Redis } from 'ioredis';
import type { StateKeys } from './keys.ts';

export interface PoolClusterFigures {
  /** Tasks waiting in the shared queue, by class. */
  queue: { interactive: number; batch: number };
  /** Engine replica id → slots it offers (the pool's capacity hash). */
  capacity: Record<string, number>;
  /** Engine replica id → slots in use cluster-wide (the pool's busy hash). */
  busy: Record<string, number>;
}

export interface ClusterFigures {
  /** Gateway replicas whose lease has not expired (Redis server time), sorted. */
  gatewayReplicasLive: string[];
  /** Per configured pool id. */
  pools: Map<string, PoolClusterFigures>;
}

export type ClusterFiguresRead =
  | { available: true; readAtMs: number; figures: ClusterFigures }
  | { available: false; readAtMs: number };

/** What /metrics and /v1/pools read; the memory backend has none. */
export interface ClusterFiguresSource {
  /** This gateway replica's id (state.replica_id). */
  readonly gatewayReplica: string;
  read(): Promise<ClusterFiguresRead>;
}

export interface ClusterFiguresOptions {
  redis: Redis;
  keys: StateKeys;
  gatewayReplica: string;
  /** The pool ids configured now (a reload may change them). */
  poolIds: () => readonly string[];
  /** How long one read answers every caller (default 1 s). */
  maxAgeMs?: number;
  /** A read that takes longer counts as unavailable (default 1 s): a hung Redis must not hang a scrape. */
  timeoutMs?: number;
  now?: () => number;
}

const DEFAULT_MAX_AGE_MS = 1_000;
const DEFAULT_TIMEOUT_MS = 1_000;
/** Commands per pool in the pipeline: ZCARD interactive, ZCARD batch, HGETALL capacity, HGETALL busy. */
const PER_POOL = 4;

export class ClusterFiguresReader implements ClusterFiguresSource {
  readonly gatewayReplica: string;
  readonly #opts: ClusterFiguresOptions;
  readonly #maxAgeMs: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  #last: ClusterFiguresRead | undefined;
  #inFlight: Promise<ClusterFiguresRead> | undefined;

  constructor(opts: ClusterFiguresOptions) {
    this.gatewayReplica = opts.gatewayReplica;
    this.#opts = opts;
    this.#maxAgeMs = opts.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#now = opts.now ?? Date.now;
  }

  read(): Promise<ClusterFiguresRead> {
    if (this.#last !== undefined && this.#now() - this.#last.readAtMs < this.#maxAgeMs) return Promise.resolve(this.#last);
    if (this.#inFlight === undefined) {
      this.#inFlight = this.#readNow().then((result) => {
        this.#last = result;
        this.#inFlight = undefined;
        return result;
      });
    }
    return this.#inFlight;
  }

  async #readNow(): Promise<ClusterFiguresRead> {
    const poolIds = [...this.#opts.poolIds()];
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), this.#timeoutMs);
      timer.unref();
    });
    try {
      const figures = await Promise.race([this.#fetch(poolIds), timedOut]);
      return figures === undefined ? { available: false, readAtMs: this.#now() } : { available: true, readAtMs: this.#now(), figures };
    } catch {
      // Redis down or a command refused: the callers fall back to their local figures.
      return { available: false, readAtMs: this.#now() };
    } finally {
      clearTimeout(timer);
    }
  }

  async #fetch(poolIds: readonly string[]): Promise<ClusterFigures> {
    const { redis, keys } = this.#opts;
    const pipeline = redis.pipeline();
    // Lease expiries are Redis server time (replica-lease.ts): compare them with its clock.
    pipeline.time();
    pipeline.zrange(keys.replicas, 0, -1, 'WITHSCORES');
    for (const poolId of poolIds) {
      const pool = keys.pool(poolId);
      pipeline.zcard(pool.interactive).zcard(pool.batch).hgetall(pool.capacity).hgetall(pool.busy);
    }
    const replies = await pipeline.exec();
    if (replies === null) throw new Error('pipeline discarded');
    const results = replies.map(([error, value]) => {
      if (error) throw error;
      return value;
    });
    const [seconds, micros] = results[0] as [string, string];
    const nowMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const pools = new Map<string, PoolClusterFigures>();
    poolIds.forEach((poolId, i) => {
      const at = 2 + i * PER_POOL;
      pools.set(poolId, {
        queue: { interactive: Number(results[at]), batch: Number(results[at + 1]) },
        capacity: numbers(results[at + 2]),
        busy: numbers(results[at + 3]),
      });
    });
    return { gatewayReplicasLive: liveMembers(results[1] as string[], nowMs), pools };
  }
}

/** ZRANGE … WITHSCORES (member, score, …) → the members whose expiry is still ahead, sorted. */
function liveMembers(flat: readonly string[], nowMs: number): string[] {
  const live: string[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    if (Number(flat[i + 1]) >= nowMs) live.push(flat[i] as string);
  }
  return live.sort();
}

/** A HGETALL reply (field → numeric string) as numbers; a field that is not a number is skipped. */
function numbers(hash: unknown): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [field, raw] of Object.entries(hash as Record<string, string>)) {
    const value = Number(raw);
    if (Number.isFinite(value)) out[field] = value;
  }
  return out;
}
