// Replica liveness on Redis (issue 15): each gateway replica holds a lease key (SET NX PX,
// renewed on its own timer from the injected clock) and an entry in a registry scored by lease
// expiry in Redis server time, so no replica's clock matters. Survivors sweep the registry on
// the same timer; taking over an expired replica is one script, so exactly one survivor wins.

import type { Redis } from 'ioredis';
import type { Timer, TimerClock } from '../../core/ports.ts';
import { StateError, unavailable } from '../state-errors.ts';
import type { StateKeys } from './keys.ts';
import { defineScript, type Script } from './script.ts';

const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

// KEYS lease, registry; ARGV token, lease ms, replica id.
const ACQUIRE = `${NOW}
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
return 1`;

// Renews only this incarnation's lease: once it expired (and maybe was taken over) it stays lost.
const RENEW = `${NOW}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
return 1`;

// KEYS registry; ARGV 'live' or 'expired'.
const LIST = `${NOW}
if ARGV[1] == 'live' then return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf') end
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)`;

// KEYS lease(dead), registry, takeover(dead); ARGV dead id, survivor id, record ttl ms.
// The ZREM is the claim: the first survivor removes the entry, every later one finds it gone.
const TAKE_OVER = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
return 1`;

// KEYS lease, registry; ARGV token, replica id.
const RELEASE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[2])
return 1`;

export interface ReplicaLeaseOptions {
  redis: Redis;
  keys: StateKeys;
  replicaId: string;
  /** This incarnation's lease token (a fresh UUID per process start). */
  token: string;
  clock: TimerClock;
  /** Lease length; renewed every third of it (default 10 s). */
  leaseMs?: number;
  /** The lease was gone at a renewal: stop admitting and rejoin as a new incarnation. */
  onLost(error: StateError): void;
  /** This replica won the takeover of a replica whose lease expired: end or requeue its tasks. */
  onTakeover(deadReplicaId: string): void;
  /** A renewal or sweep failed (Redis unreachable); the timer keeps trying. */
  onError?(error: StateError): void;
}

export class ReplicaLease {
  readonly #opts: ReplicaLeaseOptions;
  readonly #leaseMs: number;
  readonly #acquire: Script;
  readonly #renew: Script;
  readonly #list: Script;
  readonly #takeOver: Script;
  readonly #release: Script;
  #timer: Timer | undefined;
  #active = false;

  constructor(opts: ReplicaLeaseOptions) {
    this.#opts = opts;
    this.#leaseMs = opts.leaseMs ?? 10_000;
    this.#acquire = defineScript(opts.redis, 'orchqueueLeaseAcquire', 2, ACQUIRE);
    this.#renew = defineScript(opts.redis, 'orchqueueLeaseRenew', 2, RENEW);
    this.#list = defineScript(opts.redis, 'orchqueueLeaseList', 1, LIST);
    this.#takeOver = defineScript(opts.redis, 'orchqueueLeaseTakeOver', 3, TAKE_OVER);
    this.#release = defineScript(opts.redis, 'orchqueueLeaseRelease', 2, RELEASE);
  }

  /** Renewing now (acquired, neither stopped nor lost). */
  get held(): boolean {
    return this.#active;
  }

  /** Takes the lease and starts renewing; LEASE_HELD when a live process has this replica id. */
  async acquire(): Promise<void> {
    const { keys, replicaId, token } = this.#opts;
    const taken = await this.#call('lease acquire', this.#acquire, [keys.lease(replicaId), keys.replicas], [token, this.#leaseMs, replicaId]);
    if (Number(taken) !== 1) throw new StateError('LEASE_HELD', `replica id ${replicaId} is held by another live gateway process`);
    this.#active = true;
    this.#arm();
  }

  /** One renewal and one sweep (what each timer tick does); true while the lease is held. */
  async tick(): Promise<boolean> {
    const { keys, replicaId, token } = this.#opts;
    const renewed = await this.#call('lease renew', this.#renew, [keys.lease(replicaId), keys.replicas], [token, this.#leaseMs, replicaId]);
    if (Number(renewed) !== 1) {
      this.stop();
      this.#opts.onLost(new StateError('LEASE_LOST', `replica ${replicaId} lost its lease (expired; a survivor may have taken over its tasks)`));
      return false;
    }
    await this.sweep();
    return true;
  }

  /** Tries to take over every replica whose lease expired; returns the ones this replica won. */
  async sweep(): Promise<string[]> {
    const { keys, replicaId } = this.#opts;
    const expired = (await this.#call('lease sweep', this.#list, [keys.replicas], ['expired'])) as string[];
    const won: string[] = [];
    for (const dead of expired) {
      if (dead === replicaId) continue;
      const taken = await this.#call('lease takeover', this.#takeOver, [keys.lease(dead), keys.replicas, keys.takeover(dead)], [dead, replicaId, 24 * 3_600_000]);
      if (Number(taken) !== 1) continue;
      won.push(dead);
      this.#opts.onTakeover(dead);
    }
    return won;
  }

  /** Replicas whose lease has not expired (Redis server time). */
  async live(): Promise<string[]> {
    return (await this.#call('lease list', this.#list, [this.#opts.keys.replicas], ['live'])) as string[];
  }

  /** Stops renewing (the lease then expires and survivors take over). */
  stop(): void {
    this.#active = false;
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** A graceful leave: stops renewing and removes the lease, so nobody takes over. */
  async release(): Promise<void> {
    this.stop();
    const { keys, replicaId, token } = this.#opts;
    await this.#call('lease release', this.#release, [keys.lease(replicaId), keys.replicas], [token, replicaId]);
  }

  #arm(): void {
    if (!this.#active) return;
    this.#timer = this.#opts.clock.setTimer(Math.max(1, Math.floor(this.#leaseMs / 3)), () => {
      this.#timer = undefined;
      void this.tick().then(
        () => this.#arm(),
        (error: unknown) => {
          // Unreachable Redis: keep trying on the timer; the lease may expire meanwhile (then onLost).
          this.#opts.onError?.(unavailable('lease renew', error));
          this.#arm();
        },
      );
    });
  }

  async #call(operation: string, script: Script, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await script(keys, args);
    } catch (error) {
      throw unavailable(operation, error);
    }
  }
}
