// Hands back the memory start-up grew and no longer uses. Loading modules, compiling schemas and
// opening the audit store grow V8's young generation to its largest (64 MiB on the main thread)
// and leave garbage behind; V8 keeps both committed until a memory-reducing collection, which an
// idle process never triggers. One such collection after start-up, before any request, returns
// ≈ 65 MiB of resident memory (docs/operations.md "Memory"); under load the young generation
// grows back as V8 sees fit, so it costs no CPU per request.

import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

interface GcOptions {
  type: 'major';
  execution: 'sync';
  /** `last-resort` is V8's memory-reducing full collection (CollectAllAvailableGarbage). */
  flavor: 'last-resort';
}

/** Runs one memory-reducing full collection on the calling thread's heap (tens of ms). */
export function compactHeap(): void {
  // `--expose-gc` only adds the `gc` function to contexts created after it is set, and this
  // thread's own global stays as it was; the new context's `gc` collects this thread's heap.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as (options: GcOptions) => void;
  gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
}
