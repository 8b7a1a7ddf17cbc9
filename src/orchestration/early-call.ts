// An engine call started before its task may emit anything (issue 14): the request goes out at
// once and the engine's first event is held, unread, until the caller iterates; the rest of the
// stream stays in the engine's socket meanwhile (the adapter's generator is suspended).

export interface EarlyCall<T> extends AsyncIterable<T> {
  /** Closes a call that will never be read (its abort signal already fired): settles quietly. */
  discard(): void;
}

export function startEarly<T>(events: AsyncIterable<T>): EarlyCall<T> {
  const iterator = events[Symbol.asyncIterator]();
  // Asking for the first event is what sends the request.
  let first: Promise<IteratorResult<T>> | undefined = iterator.next();
  // A failure here is read by whoever iterates; one that nobody reads must not be unhandled.
  first.catch(() => undefined);
  const next = (): Promise<IteratorResult<T>> => {
    const held = first;
    first = undefined;
    return held ?? iterator.next();
  };
  return {
    [Symbol.asyncIterator]: () => ({
      next,
      return: async (value?: unknown) => {
        // A `for await` left early lets the adapter's generator run its cleanup.
        await first?.catch(() => undefined);
        first = undefined;
        return (await iterator.return?.(value)) ?? { done: true, value: undefined };
      },
    }),
    discard() {
      const held = first;
      first = undefined;
      void (held ?? Promise.resolve())
        .catch(() => undefined)
        .then(() => iterator.return?.())
        .catch(() => undefined);
    },
  };
}
