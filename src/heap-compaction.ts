// Hands back the memory a thread's start-up grew and no longer uses: V8 keeps a grown young
// generation and start-up garbage committed until a memory-reducing collection, which an idle
// thread never triggers. The audit worker runs one before it reports ready (PGlite unpacks a 6 MB
// file bundle at start). The gateway's main thread does not: there the same collection took idle
// RSS from ≈ 250 to ≈ 180 MiB but left the gateway 13-15% dearer in CPU per stream under load
// afterwards, its garbage collector's share of the main thread doubled (docs/operations.md "Memory").

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

interface GcOptions {
  type: 'major';
  execution: 'sync';
  /** `last-resort` is V8's memory-reducing full collection (CollectAllAvailableGarbage). */
  flavor: 'last-resort';
}

/** Runs one memory-reducing full collection on the calling thread's heap (a few ms on the audit worker). */
export function compactHeap(): void {
  // `--expose-gc` only adds the `gc` function to contexts created after it is set, and this
  // thread's own global stays as it was; the new context's `gc` collects this thread's heap.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options: GcOptions) => void;
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
