// The JSON logger (pino): secrets redacted at any depth, request/response serializers that
// never include headers, and the correlation-id rule (Fastify binds the id to request lines).
// It must not log per token; the lifecycle lines come from log-observer.ts.

import { hostname } from 'node:os';
import { pino, stdSerializers, type DestinationStream, type Logger } from 'pino';
import { REDACTED, redactCredentials } from '../core/redact.ts';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LoggerOptions {
  level: LogLevel;
  /** Defaults to stdout; tests pass an in-memory stream. */
  destination?: DestinationStream;
}

export { REDACTED };

/**
 * Key names whose values are never written, compared lower-case without `-` and `_`, so
 * `api_key`, `apiKey`, `x-api-key` and `API-KEY` are all caught. Covers HTTP credentials,
 * our config's token lists and engine credentials in `replicas[].options`.
 */
const SECRET_KEYS = new Set([
  'authorization', 'proxyauthorization', 'cookie', 'setcookie', 'xapikey', 'apikey', 'password', 'passwd',
  'secret', 'clientsecret', 'token', 'accesstoken', 'refreshtoken', 'bearertoken', 'idtoken', 'hftoken',
  'datatokens', 'controltokens', 'privatekey', 'credentials',
]);

/** The explicit pino paths (documented contract); scrubSecrets below catches deeper copies. */
const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie', 'headers.authorization', 'headers["x-api-key"]',
  '*.api_key', '*.apiKey', '*.password', '*.authorization', 'api_key', 'apiKey', 'password',
];

const MAX_DEPTH = 8;

export const isSecretKey = (key: string): boolean => SECRET_KEYS.has(key.toLowerCase().replace(/[-_]/g, ''));

/** Removes credentials from a URL-bearing string: the one redaction in core/redact.ts. */
export const scrubUrl = redactCredentials;

const isPlain = (v: object): boolean => {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/**
 * Copy-on-write scrub of plain objects and arrays: returns the input itself when nothing is
 * secret, so clean log lines allocate nothing extra. Class instances (requests, errors) are
 * left to their serializers.
 */
export function scrubSecrets<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return scrubUrl(value) as T; // a string in, a string out
  if (typeof value !== 'object' || value === null || depth >= MAX_DEPTH) return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item: unknown, i) => {
      const clean = scrubSecrets(item, depth + 1);
      if (clean !== item) (copy ??= [...value])[i] = clean;
    });
    return (copy ?? value) as T; // same shape as the input array
  }
  if (!isPlain(value)) return value;
  const record = value as Record<string, unknown>; // a plain object: string keys only
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(record)) {
    const clean = isSecretKey(key) && item !== undefined && item !== null ? REDACTED : scrubSecrets(item, depth + 1);
    if (clean !== item) (copy ??= { ...record })[key] = clean;
  }
  return (copy ?? value) as T; // same keys as the input object
}

interface RequestLike {
  method?: string;
  url?: string;
  routeOptions?: { url?: string };
  ip?: string;
  socket?: { remoteAddress?: string };
}

const serializers = {
  req: (req: RequestLike) => ({
    method: req.method,
    url: req.url === undefined ? undefined : scrubUrl(req.url),
    route: req.routeOptions?.url,
    remote_address: req.ip ?? req.socket?.remoteAddress,
  }),
  res: (res: { statusCode?: number }) => ({ status_code: res.statusCode }),
  err: stdSerializers.err,
};

export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level,
      base: { service: 'orchqueue', pid: process.pid, hostname: hostname() },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT_PATHS, censor: REDACTED },
      serializers,
      formatters: {
        level: (label) => ({ level: label }),
        bindings: (bindings) => scrubSecrets(bindings),
        log: (obj) => scrubSecrets(obj),
      },
    },
    opts.destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The client's `X-Correlation-Id` when it is safe to echo in a header and a log line, else a
 * fresh one. Fastify lower-cases header names; a repeated header takes the first value.
 */
export function correlationIdFrom(header: string | string[] | undefined, generate: () => string): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && CORRELATION_ID.test(value) ? value : generate();
}
