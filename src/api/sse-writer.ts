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
  // with the first frames it would be copied into the write and kept as the pieces.
  res.flushHeaders();
  task.streamAttached();
  opts.observer.streamOpened?.({ task_id: task.id, resumed: afterSeq > 0 });

  let lastSeq = afterSeq;
  let waiting = false;
  let done = false;
  let off: (() => void) | undefined;
  // Frames of one engine read arrive in one synchronous burst: they are joined and written once,
  // in a microtask, so a burst costs one write (and one heartbeat restart), not one per event.
  let pending = how.preamble;
  let flushQueued = false;
  const heartbeat = setTimeout(function beat() {
    if (done) return;
    // A reader that resumed beyond the head of a task that then ended below its id gets no
    // terminal frame (only ids > Last-Event-ID are sent): close it here.
    if (task.log.terminal && lastSeq >= task.log.lastSeq) return finish(false);
    res.write(how.heartbeat());
    heartbeat.refresh();
  }, opts.heartbeatMs);

  const schedule = () => {
    if (pending === '' || flushQueued) return;
    flushQueued = true;
    queueMicrotask(flush);
  };
  function flush(): void {
    flushQueued = false;
    if (done || waiting || pending === '') return;
    const bytes = pending;
    pending = '';
    heartbeat.refresh();
    if (res.write(bytes)) return;
    waiting = true;
    res.once('drain', resume);
  }

  const finish = (clientGone: boolean) => {
    if (done) return;
    done = true;
    clearTimeout(heartbeat);
    off?.();
    res.off('close', onClose);
    task.streamDetached();
    opts.observer.streamClosed?.({ task_id: task.id });
    if (clientGone && !task.finished) how.onClientGone?.();
    const last = clientGone ? '' : pending;
    pending = '';
    if (!res.writableEnded) res.end(last);
  };
  const onClose = () => finish(true);
  // A task another replica runs whose events stopped arriving: end here, the client resumes.
  const gone = () => finish(false);

  const listener = (frame: string, event: TaskEvent) => {
    if (waiting || done) return;
    lastSeq = event.seq;
    pending += how.render(frame, event);
    // The terminal frame goes out with what precedes it, then the response ends.
    if (event.event === 'end' || event.event === 'error') finish(false);
    // A replay can be long: past a socket buffer's worth it is written now, so backpressure
    // still pauses it at the socket instead of joining the whole log into one write.
    else if (pending.length >= FLUSH_CHARS) flush();
    else schedule();
  };

  function resume(): void {
    if (done) return;
    waiting = false;
    off?.();
    off = task.log.follow(lastSeq, listener, gone);
    endIfComplete();
  }

  function endIfComplete(): void {
    if (!done && task.log.terminal && lastSeq >= task.log.lastSeq) finish(false);
  }

  res.on('close', onClose);
  off = task.log.follow(afterSeq, listener, gone);
  endIfComplete();
  schedule();
}
