// Keeps a resolved provider credential out of everything an adapter throws (issue 13 item 4):
// errors reach logs, task status, audit rows and API answers, so the key is cut out here, once,
// at the adapter's edge — even when an upstream (or a proxy) echoes it back in an error body.

import { EngineError } from '../contract.ts';

/**
 * `err` rebuilt with `secret` cut out of its message and upstream detail, and without its cause
 * chain (an upstream body or a transport error there is not scrubbed, and loggers print causes).
 * An empty secret (no credential configured) leaves the error as it is.
 */
export function scrubSecret(err: EngineError, secret: string): EngineError {
  if (secret === '') return err;
  const scrub = (text: string) => text.split(secret).join('[redacted]');
  return new EngineError(err.code, scrub(err.message), {
    ...(err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs }),
    ...(err.upstreamStatus === undefined ? {} : { upstreamStatus: err.upstreamStatus }),
    ...(err.upstreamDetail === undefined ? {} : { upstreamDetail: scrub(err.upstreamDetail) }),
  });
}
