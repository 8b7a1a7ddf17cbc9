// The per-request logger (`req.log`) made on first use (issue 14): Fastify asks for a child
// logger bound to the correlation id on every request, and pino builds one eagerly (bindings
// serialized, redaction set up) although most requests, every 429 among them, never log.

import type { FastifyBaseLogger } from 'fastify';
import type { Bindings, ChildLoggerOptions, LevelWithSilentOrString } from 'pino';

type Method = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

function forward(logger: FastifyBaseLogger, method: Method, args: unknown[]): void {
  // Any argument list a caller may pass to LogFn reaches pino unchanged.
  (logger[method] as (...a: unknown[]) => void).apply(logger, args);
}

/**
 * A FastifyBaseLogger that creates `parent.child(bindings, options)` the first time anything is
 * logged through it, then forwards every call to that child. A line written through it is the
 * line the eager child would have written.
 */
class LazyChildLogger {
  readonly #parent: FastifyBaseLogger;
  readonly #bindings: Bindings;
  readonly #options: ChildLoggerOptions;
  #child: FastifyBaseLogger | undefined;

  constructor(parent: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions) {
    this.#parent = parent;
    this.#bindings = bindings;
    this.#options = options;
  }

  get #real(): FastifyBaseLogger {
    return (this.#child ??= this.#parent.child(this.#bindings, this.#options));
  }

  get level(): LevelWithSilentOrString {
    return this.#child?.level ?? this.#parent.level;
  }

  set level(level: LevelWithSilentOrString) {
    this.#real.level = level;
  }

  // Prototype methods, not per-instance closures: the point is allocating little per request.
  // pino's LogFn is overloaded; the arguments are forwarded as received, with pino's `this`.
  fatal(...args: unknown[]): void { forward(this.#real, 'fatal', args); }
  error(...args: unknown[]): void { forward(this.#real, 'error', args); }
  warn(...args: unknown[]): void { forward(this.#real, 'warn', args); }
  info(...args: unknown[]): void { forward(this.#real, 'info', args); }
  debug(...args: unknown[]): void { forward(this.#real, 'debug', args); }
  trace(...args: unknown[]): void { forward(this.#real, 'trace', args); }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.#real.child(bindings, options);
  }
}

/** Fastify's `childLoggerFactory`: the request's logger, created lazily (see LazyChildLogger). */
export function lazyChildLoggerFactory(logger: FastifyBaseLogger, bindings: Bindings, options: ChildLoggerOptions): FastifyBaseLogger {
  // A LazyChildLogger has every member of a FastifyBaseLogger (checked by Fastify's validateLogger too).
  return new LazyChildLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
}
