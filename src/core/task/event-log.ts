// The per-task event log: the single ordered source of truth that SSE readers, the status
// endpoint, audit and metrics read (ARCHITECTURE §2). Each event is serialized to its SSE frame
// once, at append time, however many readers follow the task. After the terminal event the
// log refuses further appends: that is what makes "no token after the cancel ack" hold.

import type { EventLog, LogListener } from '../state-ports.ts';
import type { EventDataOf, TaskEvent, TaskEventName, TokenData } from './events.ts';

export type { LogListener } from '../state-ports.ts';

/**
 * Heap an event costs beyond its frame: the event and data objects, the data's own strings and
 * the array slots; estimated as 2 bytes per frame character (the frame and the data hold the
 * text twice) plus this. Measured on Node 24 (V8 13), heap after full collections
 * (event-log.test.ts measures it).
 */
const EVENT_OVERHEAD_BYTES = 80;
/**
 * A token event keeps only its frame (see `events`): one byte per character of a Latin-1 frame,
 * two otherwise, plus the string's header and two array slots: about 77 bytes a token in a
 * 512-token log (274 with the event object and a concatenated frame, before issue 14).
 */
const TOKEN_OVERHEAD_BYTES = 24;
const LATIN1 = /^[\0-\xff]*$/;

/** Text JSON.stringify writes as it is: no quote, backslash, control character or surrogate. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON must escape
const VERBATIM_JSON_TEXT = /^[^"\\\u0000-\u001f\ud800-\udfff]*$/;

/**
 * A token event's frame, byte for byte what the generic template makes of `{ t, i }` (the
 * order Task.token builds it in), without JSON.stringify of the object (issue 14: one per
 * token). Text that needs no escaping is quoted as it is; other text goes to JSON.stringify.
 */
function tokenFrame(seq: number, data: TokenData): string {
  const text = VERBATIM_JSON_TEXT.test(data.t) ? `"${data.t}"` : JSON.stringify(data.t);
  return ['id: ', seq, '\nevent: token\ndata: {"t":', text, ',"i":', data.i, '}\n\n'].join('');
}

/**
 * Frames are joined, not concatenated: V8 keeps a concatenation as a tree of its pieces (about
 * 32 bytes a node) for as long as the string lives, and a frame lives as long as its task; a
 * join is one flat string (issue 14: ~150 bytes less per token at 10,000 open streams).
 */
function eventFrame(seq: number, event: string, json: string): string {
  return ['id: ', seq, '\nevent: ', event, '\ndata: ', json, '\n\n'].join('');
}

/** A frame's data as JSON: JSON has no raw newline, so the first "\ndata: " is the frame's own; it ends "\n\n". */
function dataJsonIn(frame: string): string {
  return frame.slice(frame.indexOf('\ndata: ') + 7, -2);
}

/** The token event a token frame was written from: its data is the frame's `data:` line. */
function tokenEvent(seq: number, frame: string): TaskEvent {
  return { seq, event: 'token', data: JSON.parse(dataJsonIn(frame)) as TokenData };
}

/**
 * A token event a replay reads back from its frame: its data is parsed only when a reader asks
 * for it. The SSE writer reads `seq` and `event` only, and replays are common (a stream opened
 * after the first tokens, a resume after backpressure): issue 14, one JSON.parse per replayed token.
 */
class ReplayedToken {
  readonly seq: number;
  readonly event = 'token' as const;
  readonly #frame: string;

  constructor(seq: number, frame: string) {
    this.seq = seq;
    this.#frame = frame;
  }

  get data(): TokenData {
    return JSON.parse(dataJsonIn(this.#frame)) as TokenData;
  }

  /** Serializes as the plain event would. */
  toJSON(): TaskEvent {
    return tokenEvent(this.seq, this.#frame);
  }
}

/** The in-memory EventLog: the embedded default of the event-log port. */
export class TaskEventLog implements EventLog {
  private readonly frames: string[] = [];
  /**
   * Each event, or null for a token event: its frame says all of it, and the event is rebuilt
   * from the frame when a replay reads it (issue 14: ~100 bytes less per token held).
   */
  private readonly events: Array<TaskEvent | null> = [];
  private readonly listeners = new Set<LogListener>();
  private terminalEvent: TaskEvent | undefined;
  private byteCount = 0;

  /** Sequence number of the last event (0 before the first). */
  get lastSeq(): number {
    return this.events.length;
  }

  get terminal(): TaskEvent | undefined {
    return this.terminalEvent;
  }

  /**
   * Estimated heap held by the events: two bytes per frame character (a frame and its data
   * hold the text twice) plus a fixed overhead per event. What retention bounds (finding 1).
   */
  get bytes(): number {
    return this.byteCount;
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  /**
   * Appends an event built from `event` and `data`; returns its seq, or 0 when the log is
   * already closed by a terminal event (the append is dropped, by design).
   */
  append<E extends TaskEventName>(event: E, data: EventDataOf<E>): number {
    if (this.terminalEvent) return 0;
    const seq = this.events.length + 1;
    const entry = { seq, event, data } as TaskEvent; // the generic pair is exactly one union member
    const compact = entry.event === 'token' && Number.isSafeInteger(entry.data.i);
    const frame = compact ? tokenFrame(seq, entry.data) : eventFrame(seq, event, JSON.stringify(data));
    this.events.push(compact ? null : entry);
    this.frames.push(frame);
    this.byteCount += compact ? (LATIN1.test(entry.data.t) ? 1 : 2) * frame.length + TOKEN_OVERHEAD_BYTES : 2 * frame.length + EVENT_OVERHEAD_BYTES;
    if (event === 'end' || event === 'error') this.terminalEvent = entry;
    for (const listener of this.listeners) listener(frame, entry);
    return seq;
  }

  /**
   * Replays every event after `afterSeq` synchronously, then delivers live ones. Returns the
   * unsubscribe function. A listener attached to a finished log gets the replay only.
   */
  follow(afterSeq: number, listener: LogListener): () => void {
    const start = Math.max(0, Math.min(afterSeq, this.events.length));
    for (let i = start; i < this.events.length; i++) {
      const frame = this.frames[i] as string;
      listener(frame, this.events[i] ?? new ReplayedToken(i + 1, frame));
    }
    if (this.terminalEvent) return () => {};
    // A reader resuming beyond the head gets only ids > afterSeq, also from later appends.
    const reader: LogListener = afterSeq <= this.events.length ? listener : (frame, event) => {
      if (event.seq > afterSeq) listener(frame, event);
    };
    this.listeners.add(reader);
    return () => {
      this.listeners.delete(reader);
    };
  }

  /**
   * The data of event `seq` as JSON, cut from its frame (no second serialization): what a
   * write-behind to another store sends. Undefined outside 1..lastSeq.
   */
  dataJsonOf(seq: number): string | undefined {
    const frame = this.frames[seq - 1];
    return frame === undefined ? undefined : dataJsonIn(frame);
  }

  /** Events after `afterSeq` (for tests and the status endpoint). */
  since(afterSeq: number): readonly TaskEvent[] {
    const out: TaskEvent[] = [];
    for (let i = Math.max(0, afterSeq); i < this.events.length; i++) out.push(this.eventAt(i));
    return out;
  }

  private eventAt(i: number): TaskEvent {
    return this.events[i] ?? tokenEvent(i + 1, this.frames[i] as string);
  }

  /** Drops listeners once the task is gone (retention sweep). */
  close(): void {
    this.listeners.clear();
  }
}
