// Follows many tasks' event streams on one dedicated blocking connection: one XREAD BLOCK over
// every followed stream, each reader with its own cursor, so replay and live tail are the same
// read and no event is lost or repeated at the switch. A new stream interrupts the blocked read
// with CLIENT UNBLOCK from the command connection (event-driven, no polling for data).

import type { Redis } from 'ioredis';
import type { LogListener } from '../../core/state-ports.ts';
import type { TaskEvent } from '../../core/task/events.ts';
import { unavailable } from '../state-errors.ts';

interface Reader {
  cursor: number;
  readonly listener: LogListener;
  readonly onFailure: ((error: Error) => void) | undefined;
}

export interface StreamFollowerOptions {
  /** A connection used for nothing else: XREAD BLOCK holds it. */
  blocking: Redis;
  /** The command connection, for CLIENT UNBLOCK. */
  commands: Redis;
  /** Longest single block; a quiet stream costs one empty read per period (default 30 s). */
  blockMs?: number;
  /** Entries per stream per read (bounds one delivery burst). */
  batch?: number;
}

/** A stream entry as XREAD/XRANGE return it: [id, [field, value, ...]]. */
export type StreamEntry = [id: string, fields: string[]];

/** Parses one entry (fields `e` then `d`, as the append script writes them) into its event and frame. */
export function parseEntry(entry: StreamEntry): { event: TaskEvent; frame: string } {
  const [id, fields] = entry;
  const seq = Number.parseInt(id, 10);
  const name = fields[1] as TaskEvent['event'];
  const json = fields[3] as string;
  // The append script stores the JSON.stringify of the event's data: the frame reuses it as is.
  const event = { seq, event: name, data: JSON.parse(json) as unknown } as TaskEvent;
  return { event, frame: `id: ${seq}\nevent: ${name}\ndata: ${json}\n\n` };
}

export class StreamFollower {
  readonly #blocking: Redis;
  readonly #commands: Redis;
  readonly #blockMs: number;
  readonly #batch: number;
  readonly #streams = new Map<string, Set<Reader>>();
  #clientId: number | undefined;
  /** Bumped by every new reader; a read issued at an older generation misses someone. */
  #generation = 0;
  #inFlight: number | undefined;
  #running = false;
  #waking = false;
  #closed = false;

  constructor(opts: StreamFollowerOptions) {
    this.#blocking = opts.blocking;
    this.#commands = opts.commands;
    this.#blockMs = opts.blockMs ?? 30_000;
    this.#batch = opts.batch ?? 512;
    // A reconnected connection is a new client: learn its id again before the next read. (Not on
    // 'ready': a first 'ready' can come after the id of the first read was learned.)
    this.#blocking.on('close', () => void (this.#clientId = undefined));
  }

  /** Streams followed now. */
  get size(): number {
    return this.#streams.size;
  }

  follow(key: string, afterSeq: number, listener: LogListener, onFailure?: (error: Error) => void): () => void {
    if (this.#closed) throw new Error('StreamFollower: closed');
    const reader: Reader = { cursor: Math.max(0, afterSeq), listener, onFailure };
    let readers = this.#streams.get(key);
    if (readers === undefined) this.#streams.set(key, (readers = new Set()));
    readers.add(reader);
    this.#generation++;
    if (!this.#running) void this.#run();
    else void this.#wake();
    return () => this.#drop(key, reader);
  }

  close(): void {
    this.#closed = true;
    this.#streams.clear();
    this.#blocking.disconnect();
  }

  #drop(key: string, reader: Reader): void {
    const readers = this.#streams.get(key);
    if (readers === undefined) return;
    readers.delete(reader);
    if (readers.size === 0) this.#streams.delete(key);
  }

  async #run(): Promise<void> {
    this.#running = true;
    try {
      while (this.#streams.size > 0 && !this.#closed) {
        this.#clientId ??= Number(await this.#blocking.client('ID'));
        const keys = [...this.#streams.keys()];
        const ids = keys.map((key) => `${minCursor(this.#streams.get(key))}-0`);
        this.#inFlight = this.#generation;
        const reply = (await this.#blocking.call('XREAD', 'COUNT', this.#batch, 'BLOCK', this.#blockMs, 'STREAMS', ...keys, ...ids)) as Array<[string, StreamEntry[]]> | null;
        this.#inFlight = undefined;
        for (const [key, entries] of reply ?? []) this.#deliver(key, entries);
      }
    } catch (error) {
      this.#inFlight = undefined;
      if (!this.#closed) this.#failAll(unavailable('stream follow', error));
    } finally {
      this.#running = false;
    }
  }

  #deliver(key: string, entries: StreamEntry[]): void {
    const readers = this.#streams.get(key);
    if (readers === undefined) return;
    for (const entry of entries) {
      // Each entry is parsed and framed once, however many readers follow the stream.
      const { event, frame } = parseEntry(entry);
      for (const reader of readers) {
        // Seqs have no gaps. A reader that joined behind the read in flight skips what is past
        // its cursor: the next read starts from its cursor and brings the part it missed.
        if (event.seq !== reader.cursor + 1) continue;
        reader.cursor = event.seq;
        reader.listener(frame, event);
        if (event.event === 'end' || event.event === 'error') this.#drop(key, reader);
      }
    }
  }

  #failAll(error: Error): void {
    const all = [...this.#streams.values()].flatMap((readers) => [...readers]);
    this.#streams.clear();
    for (const reader of all) reader.onFailure?.(error);
  }

  /**
   * Interrupts a read that was issued before the newest reader came. CLIENT UNBLOCK answers 0
   * when the read has not reached the server yet (it travels on another connection), so it is
   * retried until the read in flight was issued after the newest reader came.
   */
  async #wake(): Promise<void> {
    if (this.#waking) return;
    this.#waking = true;
    try {
      while (this.#inFlight !== undefined && this.#inFlight < this.#generation && !this.#closed) {
        // Unblocked or not, look again: the reissued read may already be stale too. (No id yet:
        // the read is being set up on a new connection; look again shortly.)
        if (this.#clientId !== undefined) await this.#commands.client('UNBLOCK', this.#clientId);
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    } catch {
      // The command connection failed: the blocked read fails or times out by itself and is reissued.
    } finally {
      this.#waking = false;
    }
  }
}

function minCursor(readers: Set<Reader> | undefined): number {
  let min = Number.POSITIVE_INFINITY;
  for (const reader of readers ?? []) min = Math.min(min, reader.cursor);
  return Number.isFinite(min) ? min : 0;
}
