// Client task_id → (request fingerprint, first answer), so a retried POST gets the same 202
// and a reused id with another body gets 409 (ARCHITECTURE §3 step 3). Bounded in size and
// time; the caller remembers an answer only once the task is committed.

import type { Clock } from '../ports.ts';

/** Canonical JSON: object keys sorted, undefined members dropped, so key order never matters. */
export function fingerprint(body: object): string {
  return canonicalJson(body);
}

function canonicalJson(value: unknown): string {
  if (value !== null && typeof value === 'object' && 'toJSON' in value && typeof value.toJSON === 'function') {
    return canonicalJson(value.toJSON());
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const members: string[] = [];
    for (const key of Object.keys(value).sort()) {
      const member: unknown = (value as Record<string, unknown>)[key];
      if (member !== undefined) members.push(`${JSON.stringify(key)}:${canonicalJson(member)}`);
    }
    return `{${members.join(',')}}`;
  }
  // JSON.stringify yields undefined for functions and symbols; JSON would say null.
  return JSON.stringify(value) ?? 'null';
}

export type IdempotencyCheck = { kind: 'new' } | { kind: 'replay'; answer: unknown } | { kind: 'conflict' };

interface Remembered {
  fingerprint: string;
  answer: unknown;
  expiresAt: number;
}

export interface IdempotencyOptions {
  maxEntries: number;
  /** How long an answer is replayable (monotonic); 0 remembers nothing. */
  ttlMs: number;
}

export class IdempotencyIndex {
  readonly #opts: IdempotencyOptions;
  readonly #clock: Clock;
  /** Insertion ordered; one TTL for all, so the front is always the next to expire. */
  readonly #entries = new Map<string, Remembered>();

  constructor(opts: IdempotencyOptions, clock: Clock) {
    this.#opts = { ...opts };
    this.#clock = clock;
  }

  get size(): number {
    return this.#entries.size;
  }

  fingerprint(body: object): string {
    return fingerprint(body);
  }

  check(taskId: string, print: string): IdempotencyCheck {
    this.#purge(this.#clock.monotonic());
    const seen = this.#entries.get(taskId);
    if (seen === undefined) return { kind: 'new' };
    return seen.fingerprint === print ? { kind: 'replay', answer: seen.answer } : { kind: 'conflict' };
  }

  remember(taskId: string, print: string, answer: unknown): void {
    const now = this.#clock.monotonic();
    this.#purge(now);
    if (this.#opts.ttlMs <= 0 || this.#opts.maxEntries <= 0) return;
    this.#entries.delete(taskId);
    this.#entries.set(taskId, { fingerprint: print, answer, expiresAt: now + this.#opts.ttlMs });
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.#opts.maxEntries) break;
      this.#entries.delete(oldest);
    }
  }

  forget(taskId: string): boolean {
    return this.#entries.delete(taskId);
  }

  #purge(now: number): void {
    for (const [id, entry] of this.#entries) {
      if (now < entry.expiresAt) return;
      this.#entries.delete(id);
    }
  }
}
