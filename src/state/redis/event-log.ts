// Each task's events in a Redis Stream (issue 15): entry id `<seq>-0`, fields `e` (event name)
// and `d` (its data as JSON, reused verbatim in the SSE frame). One script appends: it assigns
// the next seq and refuses anything after a terminal event, so any replica may write (a survivor
// ending a lost replica's task) and exactly one terminal event exists. The terminal event sets
// the retention TTL; the first event sets a backstop TTL for a task whose writers all vanished.

import type { Redis } from 'ioredis';
import type { LogListener } from '../../core/state-ports.ts';
import type { EventDataOf, TaskEvent, TaskEventName } from '../../core/task/events.ts';
import type { LogHead, SharedEventLog, SharedEventLogs } from '../shared-state-ports.ts';
import { unavailable } from '../state-errors.ts';
import type { StateKeys } from './keys.ts';
import { defineScript, type Script } from './script.ts';
import { parseEntry, StreamFollower, type StreamEntry } from './stream-follower.ts';

// KEYS[1] stream; ARGV event, data JSON, terminal (1/0), retention ms, backstop ms.
const APPEND = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local seq = 1
if last[1] then
  local name = last[1][2][2]
  if name == 'end' or name == 'error' then return 0 end
  seq = tonumber(string.match(last[1][1], '^(%d+)')) + 1
end
redis.call('XADD', KEYS[1], seq .. '-0', 'e', ARGV[1], 'd', ARGV[2])
if ARGV[3] == '1' then
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
elseif seq == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
end
return seq
`;

export interface RedisEventLogsOptions {
  /** The command connection (appends, reads, CLIENT UNBLOCK). */
  redis: Redis;
  /** A connection used only for the followers' blocking reads. */
  blocking: Redis;
  keys: StateKeys;
  /** How long a finished task's events stay readable (server.retention_ms). */
  retentionMs: number;
  /** TTL set at the first event: a log no writer ends still disappears (default 24 h). */
  backstopMs?: number;
  /** Longest single blocking read (default 30 s). */
  blockMs?: number;
}

export class RedisEventLogs implements SharedEventLogs {
  readonly #redis: Redis;
  readonly #keys: StateKeys;
  readonly #append: Script;
  readonly #follower: StreamFollower;
  readonly #retentionMs: number;
  readonly #backstopMs: number;

  constructor(opts: RedisEventLogsOptions) {
    this.#redis = opts.redis;
    this.#keys = opts.keys;
    this.#retentionMs = Math.max(1, opts.retentionMs);
    this.#backstopMs = opts.backstopMs ?? 24 * 3_600_000;
    this.#append = defineScript(opts.redis, 'orchqueueAppendEvent', 1, APPEND);
    this.#follower = new StreamFollower({ blocking: opts.blocking, commands: opts.redis, ...(opts.blockMs !== undefined ? { blockMs: opts.blockMs } : {}) });
  }

  /** Streams this replica follows now (one blocking read covers them all). */
  get followed(): number {
    return this.#follower.size;
  }

  of(taskId: string): SharedEventLog {
    const key = this.#keys.events(taskId);
    return {
      taskId,
      append: <E extends TaskEventName>(event: E, data: EventDataOf<E>) => this.#appendTo(key, event, data),
      head: () => this.#head(key),
      since: (afterSeq: number) => this.#since(key, afterSeq),
      follow: (afterSeq: number, listener: LogListener, onFailure?: (error: Error) => void) => this.#follower.follow(key, afterSeq, listener, onFailure),
    };
  }

  async close(): Promise<void> {
    this.#follower.close();
  }

  async #appendTo(key: string, event: TaskEventName, data: unknown): Promise<number> {
    const terminal = event === 'end' || event === 'error' ? 1 : 0;
    try {
      return Number(await this.#append([key], [event, JSON.stringify(data), terminal, this.#retentionMs, this.#backstopMs]));
    } catch (error) {
      throw unavailable('event append', error);
    }
  }

  async #head(key: string): Promise<LogHead> {
    let last: StreamEntry[];
    try {
      last = (await this.#redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)) as StreamEntry[];
    } catch (error) {
      throw unavailable('event log head', error);
    }
    const entry = last[0];
    if (entry === undefined) return { lastSeq: 0, terminal: undefined };
    const { event } = parseEntry(entry);
    return { lastSeq: event.seq, terminal: event.event === 'end' || event.event === 'error' ? event : undefined };
  }

  async #since(key: string, afterSeq: number): Promise<readonly TaskEvent[]> {
    let entries: StreamEntry[];
    try {
      entries = (await this.#redis.call('XRANGE', key, `${Math.max(0, afterSeq) + 1}-0`, '+')) as StreamEntry[];
    } catch (error) {
      throw unavailable('event log read', error);
    }
    return entries.map((entry) => parseEntry(entry).event);
  }
}
