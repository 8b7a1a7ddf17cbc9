// Keeps a resolved provider credential out of everything an adapter throws (issue 13 item 4):
// errors reach logs, task status, audit rows and API answers, so the key is cut out here, once,
// at the adapter's edge — even when an upstream (or a proxy) echoes it back in an error body.

import { EngineError } from '../contract.ts';

/** Replaces every occurrence of each key (and so its Bearer form) so it cannot reach a log line. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length > 0) out = out.split(secret).join('[redacted]');
  return out;
}

/**
 * `err` rebuilt with every secret cut out of its message and upstream detail, and without its
 * cause chain (an upstream body or a transport error there is not scrubbed, and loggers print
 * causes). Empty secrets (no credential configured) leave the error as it is.
 */
export function scrubSecret(err: EngineError, secret: string | readonly string[]): EngineError {
  const secrets = typeof secret === 'string' ? [secret] : secret;
  if (!secrets.some((s) => s.length > 0)) return err;
  return new EngineError(err.code, redact(err.message, secrets), {
    ...(err.retryAfterMs === undefined ? {} : { retryAfterMs: err.retryAfterMs }),
    ...(err.upstreamStatus === undefined ? {} : { upstreamStatus: err.upstreamStatus }),
    ...(err.upstreamDetail === undefined ? {} : { upstreamDetail: redact(err.upstreamDetail, secrets) }),
  });
}
