// Client task_id → (request fingerprint, first answer), so a retried POST gets the same 202
// and a reused id with another body gets 409 (ARCHITECTURE §3 step 3). Bounded in size and
// time; the caller remembers an answer only once the task is committed.

// lru-cache is a pure in-memory data structure (no I/O; with ttlResolution 0 and no autopurge
// it sets no timers), so core may use it; time comes from the injected Clock.
import { LRUCache } from 'lru-cache';
import { canonicalDigest } from '../canonical-json.ts';
import type { Clock } from '../ports.ts';

/**
 * sha256 (hex) of the body's canonical JSON (RFC 8785): key order never matters, and an index
 * entry holds 64 characters, not the whole prompt. Total over parsed JSON: RFC 8785 has no text
 * for a lone surrogate (JSON.parse makes one from "\\ud800"), so such a body is hashed with it
 * replaced by U+FFFD, the way UTF-8 encodes it; it then matches only a body with U+FFFD there.
 */
export function fingerprint(body: object): string {
  try {
    return canonicalDigest(body);
  } catch {
    return canonicalDigest(wellFormed(body));
  }
}

/** A copy with every string, keys included, made well-formed (lone surrogates → U+FFFD). */
function wellFormed(value: unknown): unknown {
  if (typeof value === 'string') return value.toWellFormed();
  if (Array.isArray(value)) return value.map(wellFormed);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(Object.entries(value).map(([key, member]) => [key.toWellFormed(), wellFormed(member)]));
}

export type IdempotencyCheck = { kind: 'new' } | { kind: 'replay'; answer: unknown } | { kind: 'conflict' };

interface Remembered {
  fingerprint: string;
  answer: unknown;
}

export interface IdempotencyOptions {
  maxEntries: number;
  /** How long an answer stays replayable (monotonic, whole ms); 0 remembers nothing. */
  ttlMs: number;
}

export class IdempotencyIndex {
  /**
   * Least recently used (remembered or checked) dropped first beyond maxEntries; an answer goes
   * stale once older than ttlMs (a check of a stale id removes it). null when nothing is kept.
   */
  readonly #answers: LRUCache<string, Remembered> | null;

  constructor(opts: IdempotencyOptions, clock: Clock) {
    this.#answers = opts.ttlMs <= 0 || opts.maxEntries <= 0 ? null : new LRUCache<string, Remembered>({
      max: opts.maxEntries,
      ttl: opts.ttlMs,
      // Read the clock on every check: no cached time, no timer resetting it.
      ttlResolution: 0,
      // lru-cache reads a start time of 0 as "no TTL"; the offset keeps a clock that starts at 0
      // (tests) honest and changes no age.
      perf: { now: () => clock.monotonic() + 1 },
    });
  }

  get size(): number {
    return this.#answers?.size ?? 0;
  }

  fingerprint(body: object): string {
    return fingerprint(body);
  }

  check(taskId: string, print: string): IdempotencyCheck {
    const seen = this.#answers?.get(taskId);
    if (seen === undefined) return { kind: 'new' };
    return seen.fingerprint === print ? { kind: 'replay', answer: seen.answer } : { kind: 'conflict' };
  }

  /** Remembers (or replaces) the answer for `taskId`; its TTL starts now. */
  remember(taskId: string, print: string, answer: unknown): void {
    this.#answers?.set(taskId, { fingerprint: print, answer });
  }

  forget(taskId: string): boolean {
    return this.#answers?.delete(taskId) ?? false;
  }
}
