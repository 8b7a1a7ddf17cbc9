// An engine call started before its task may emit anything (issue 14): the request goes out at
// once and what the engine sends is held, undelivered, until the task is let run (`run`). The
// hold is short (one admission commit) and small (the first events of one call), so the events
// are kept rather than left in the socket.

import type { CanonicalEvent, EventSink } from '../adapters/contract.ts';

export interface EarlyCall {
  /** Delivers the held events to `sink`, then the live ones; settles when the call ends. */
  run(sink: EventSink): Promise<void>;
  /** Closes a call that will never be read (its abort signal already fired): settles quietly. */
  discard(): void;
}

/** `start` begins the push-form engine call with the sink it is given. */
export function startEarly(start: (sink: EventSink) => Promise<void>): EarlyCall {
  const held: CanonicalEvent[] = [];
  let target: EventSink | undefined;
  let stopped = false;
  const done = start((events) => {
    if (target !== undefined) return target(events);
    if (stopped) return false;
    // The sink's array is reused after this call returns: keep the events, not the array.
    for (const event of events) held.push(event);
    return true;
  });
  // A failure is read by whoever runs the call; one that nobody reads must not be unhandled.
  done.catch(() => undefined);
  return {
    run(sink) {
      if (held.length > 0 && !sink(held.splice(0))) {
        target = () => false;
        return done;
      }
      target = sink;
      return done;
    },
    discard() {
      stopped = true;
      held.length = 0;
    },
  };
}
