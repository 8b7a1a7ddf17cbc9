// Writes one task's event log to one HTTP response as Server-Sent Events: replay after
// Last-Event-ID, then live frames, heartbeat comments while idle, and the end of the response
// right after the terminal event. Under socket backpressure it stops listening and resumes
// from the log once drained, so a slow reader costs the socket buffer, not unbounded memory.
// Closing the connection does not cancel the task at once (the client may resume); the task
// starts its orphan grace when its last reader leaves (ORCH-0206, Task.streamDetached).

import type { ServerResponse } from 'node:http';
import type { LifecycleObserver } from '../core/observer.ts';
import type { TaskEvent } from '../core/task/events.ts';
import type { StreamedTask } from '../orchestration/streamed-task.ts';

export interface SseOptions {
  heartbeatMs: number;
  correlationId: string;
  observer: LifecycleObserver;
}

/** How one client format renders a task's log (OrchQueue's own frames, or a dialect's). */
export interface LogRendering {
  /** Written once right after the headers (a dialect's opening frame); '' for none. */
  preamble: string;
  /** Written while nothing else flows. */
  heartbeat: () => string;
  /** The bytes for one event, or '' to skip it (an event the format does not show). */
  render: (frame: string, event: TaskEvent) => string;
  /** The client went away before the terminal event (dialect clients cannot resume). */
  onClientGone?: () => void;
}

/** Pending frames are written at once beyond this (Node's default socket high-water mark). */
const FLUSH_CHARS = 16 * 1024;

const OWN_FRAMES: LogRendering = { preamble: '', heartbeat: () => ': hb\n\n', render: (frame) => frame };

/** /v1/tasks streams: the log's own frames after Last-Event-ID. */
export function writeTaskStream(res: ServerResponse, task: StreamedTask, afterSeq: number, opts: SseOptions): void {
  streamTaskLog(res, task, afterSeq, opts, OWN_FRAMES);
}

/**
 * The one loop that serves a task's log to a response in any format: replay, live events,
 * heartbeats, backpressure (stop listening, resume from the log on drain), one end.
 */
export function streamTaskLog(res: ServerResponse, task: StreamedTask, afterSeq: number, opts: SseOptions, how: LogRendering): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
    'x-correlation-id': opts.correlationId,
    'x-task-id': task.id,
  });
  // Node builds the header block by appending line by line and keeps it as `_header` for the
  // response's life: ~25 string pieces (~600 bytes more per open stream than the flat text,
  // issue 14). Written on its own, that string is flattened in place and the pieces are freed;
  // with the first frames it would be copied into the write and kept as the pieces. Corked, it
  // is still written on its own (flattened at the write) but leaves in one syscall with the
  // first frames: the writer uncorks after its first write (issue 14, one write less a stream).
  // The socket, not the response: a corked response would hold the frames back and uncork the
  // socket (headers alone) before writing them.
  res.socket?.cork();
  res.flushHeaders();
  task.streamAttached();
  opts.observer.streamOpened?.({ task_id: task.id, resumed: afterSeq > 0 });
  new LogStream(res, task, afterSeq, opts, how).start();
}

/**
 * One response's reading of one log. An object with methods rather than a closure per step:
 * it lives as long as the stream, and at 10,000 open streams closures cost ~400 bytes more each
 * (issue 14). Only the two callbacks others keep (the log's listener, the close handler) are
 * functions of their own.
 */
class LogStream {
  readonly #res: ServerResponse;
  readonly #task: StreamedTask;
  readonly #observer: LifecycleObserver;
  readonly #how: LogRendering;
  readonly #heartbeat: NodeJS.Timeout;
  readonly #listener: (frame: string, event: TaskEvent) => void;
  readonly #onClose: () => void;
  #lastSeq: number;
  #waiting = false;
  #done = false;
  #off: (() => void) | undefined;
  // Frames of one engine read arrive in one synchronous burst: they are joined and written once,
  // in a microtask, so a burst costs one write (and one heartbeat restart), not one per event.
  #pending: string;
  #flushQueued = false;
  /** The headers wait on a corked socket for the first frames (streamTaskLog). */
  #corked = true;

  constructor(res: ServerResponse, task: StreamedTask, afterSeq: number, opts: SseOptions, how: LogRendering) {
    this.#res = res;
    this.#task = task;
    this.#observer = opts.observer;
    this.#how = how;
    this.#lastSeq = afterSeq;
    this.#pending = how.preamble;
    this.#heartbeat = setTimeout(beat, opts.heartbeatMs, this);
    this.#listener = (frame, event) => this.#deliver(frame, event);
    this.#onClose = () => this.#finish(true);
  }

  start(): void {
    this.#res.on('close', this.#onClose);
    this.#off = this.#follow(this.#lastSeq);
    this.#endIfComplete();
    this.#schedule();
    // Nothing to send yet (a queued task): the headers go out alone, now.
    if (!this.#flushQueued) this.#uncork();
  }

  /** Releases the cork streamTaskLog put on the headers; once (res.end uncorks fully by itself). */
  #uncork(): void {
    if (!this.#corked) return;
    this.#corked = false;
    this.#res.socket?.uncork();
  }

  beat(): void {
    if (this.#done) return;
    // A reader that resumed beyond the head of a task that then ended below its id gets no
    // terminal frame (only ids > Last-Event-ID are sent): close it here.
    if (this.#task.log.terminal && this.#lastSeq >= this.#task.log.lastSeq) return this.#finish(false);
    this.#res.write(this.#how.heartbeat());
    this.#heartbeat.refresh();
  }

  /** A task another replica runs whose events stopped arriving: end here, the client resumes. */
  #follow(afterSeq: number): () => void {
    return this.#task.log.follow(afterSeq, this.#listener, () => this.#finish(false));
  }

  #schedule(): void {
    if (this.#pending === '' || this.#flushQueued) return;
    this.#flushQueued = true;
    queueMicrotask(() => this.#flush());
  }

  #flush(): void {
    this.#flushQueued = false;
    if (this.#done || this.#waiting || this.#pending === '') return this.#uncork();
    const bytes = this.#pending;
    this.#pending = '';
    this.#heartbeat.refresh();
    const ok = this.#res.write(bytes);
    this.#uncork();
    if (ok) return;
    this.#waiting = true;
    this.#res.once('drain', () => this.#resume());
  }

  #finish(clientGone: boolean): void {
    if (this.#done) return;
    this.#done = true;
    // res.end uncorks fully; a later uncork could reach the next response on a kept-alive socket.
    this.#corked = false;
    clearTimeout(this.#heartbeat);
    this.#off?.();
    this.#res.off('close', this.#onClose);
    this.#task.streamDetached();
    this.#observer.streamClosed?.({ task_id: this.#task.id });
    if (clientGone && !this.#task.finished) this.#how.onClientGone?.();
    const last = clientGone ? '' : this.#pending;
    this.#pending = '';
    if (!this.#res.writableEnded) this.#res.end(last);
  }

  #deliver(frame: string, event: TaskEvent): void {
    if (this.#waiting || this.#done) return;
    this.#lastSeq = event.seq;
    this.#pending += this.#how.render(frame, event);
    // The terminal frame goes out with what precedes it, then the response ends.
    if (event.event === 'end' || event.event === 'error') this.#finish(false);
    // A replay can be long: past a socket buffer's worth it is written now, so backpressure
    // still pauses it at the socket instead of joining the whole log into one write.
    else if (this.#pending.length >= FLUSH_CHARS) this.#flush();
    else this.#schedule();
  }

  #resume(): void {
    if (this.#done) return;
    this.#waiting = false;
    this.#off?.();
    this.#off = this.#follow(this.#lastSeq);
    this.#endIfComplete();
  }

  #endIfComplete(): void {
    if (!this.#done && this.#task.log.terminal && this.#lastSeq >= this.#task.log.lastSeq) this.#finish(false);
  }
}

/** The heartbeat timer's one callback for every stream (its argument says which). */
function beat(stream: LogStream): void {
  stream.beat();
}
