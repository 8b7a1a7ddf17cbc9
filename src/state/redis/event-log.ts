// Each task's events in a Redis Stream (issue 15): entry id `<seq>-0`, fields `e` (event name)
// and `d` (its data as JSON, reused verbatim in the SSE frame). One script appends a batch (the
// runner's events of one engine read; one event for the other writers): it assigns the next seqs,
// writes only at the seq the writer expects, and refuses anything after a terminal event, so any
// replica may write (a survivor ending a lost replica's task) and exactly one terminal event
// exists. The terminal event sets the retention TTL; the first sets a backstop TTL.

import type { Redis } from 'ioredis';
import type { LogListener } from '../../core/state-ports.ts';
import type { EventDataOf, TaskEvent, TaskEventName } from '../../core/task/events.ts';
import type { BatchAppend, LogHead, SerializedEvent, SharedEventLog, SharedEventLogs } from '../shared-state-ports.ts';
import { unavailable } from '../state-errors.ts';
import type { StateKeys } from './keys.ts';
import { defineScript, type Script, type ScriptArg } from './script.ts';
import { parseEntry, StreamFollower, type StreamEntry } from './stream-follower.ts';

// KEYS[1] stream; ARGV: the seq the first event must get (0: whichever is next), retention ms,
// backstop ms, then (event name, data JSON) pairs. Returns the last seq written, 0 when a
// terminal event closed the stream, -(next seq) when that is not the expected one (nothing written).
// A script runs alone, so a follower's XREAD sees the whole batch or none of it.
const APPEND = `
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local seq = 1
if last[1] then
  local name = last[1][2][2]
  if name == 'end' or name == 'error' then return 0 end
  seq = tonumber(string.match(last[1][1], '^(%d+)')) + 1
end
local expected = tonumber(ARGV[1])
if expected ~= 0 and expected ~= seq then return -seq end
local first = seq
for i = 4, #ARGV, 2 do
  local name = ARGV[i]
  redis.call('XADD', KEYS[1], seq .. '-0', 'e', name, 'd', ARGV[i + 1])
  if name == 'end' or name == 'error' then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return seq
  end
  seq = seq + 1
end
if first == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return seq - 1
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
      append: <E extends TaskEventName>(event: E, data: EventDataOf<E>) => this.#appendTo(key, [{ event, json: JSON.stringify(data) }], 0),
      appendBatch: async (events: readonly SerializedEvent[], firstSeq: number) => outcomeOf(await this.#appendTo(key, events, firstSeq)),
      head: () => this.#head(key),
      since: (afterSeq: number) => this.#since(key, afterSeq),
      follow: (afterSeq: number, listener: LogListener, onFailure?: (error: Error) => void) => this.#follower.follow(key, afterSeq, listener, onFailure),
    };
  }

  async close(): Promise<void> {
    this.#follower.close();
  }

  /** The script's answer: the last seq written, 0 (closed) or -(next seq) (out of step). */
  async #appendTo(key: string, events: readonly SerializedEvent[], firstSeq: number): Promise<number> {
    const args: ScriptArg[] = [firstSeq, this.#retentionMs, this.#backstopMs];
    events.forEach(({ event, json }, i) => {
      // The script stops at a terminal event; one mid-batch is a caller's bug, not a refusal.
      if (i < events.length - 1 && (event === 'end' || event === 'error')) throw new RangeError(`event append: ${event} before the batch's last event`);
      args.push(event, json);
    });
    if (events.length === 0) throw new RangeError('event append: an empty batch');
    try {
      return Number(await this.#append([key], args));
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

function outcomeOf(answer: number): BatchAppend {
  if (answer > 0) return { kind: 'written', lastSeq: answer };
  return answer === 0 ? { kind: 'closed' } : { kind: 'out_of_step', nextSeq: -answer };
}
