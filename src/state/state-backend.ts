// Which backend holds the state several gateway replicas would share (config `state`, issue 15),
// and whether this build can run it. The redis components exist (src/state/redis/) but are not
// wired into the request path yet: choosing them must stop the start, not run one replica alone.

import type { StateConfig } from '../config/schema.ts';

/** The one line that refuses a backend this build cannot run, or undefined when it can. */
export function unwiredStateBackend(state: StateConfig): string | undefined {
  if (state.backend === 'memory') return undefined;
  // The URL is left out: it may carry a password.
  return 'state.backend "redis" is not wired into the gateway yet (issue 15: the components exist, the request path does not use them); use state.backend "memory"';
}
