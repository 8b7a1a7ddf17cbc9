// What the CLI consumer pact and the gateway provider verification share: the pact file's
// place and names, the models each provider state works on (the provider's config must serve
// them), and the SSE transcript of the mock engine with its timing fields turned into a regex.

import { join } from 'node:path';
import { mockTokens } from '../../src/adapters/mock/tokens.ts';

export const CONSUMER = 'orchqueue-cli';
export const PROVIDER = 'orchqueue-gateway';
export const PACT_DIR = join(import.meta.dirname, '../../contracts/pacts');
export const PACT_FILE = join(PACT_DIR, `${CONSUMER}-${PROVIDER}.json`);

/** Models the interactions use; the provider config gives each its own pool. */
export const MODELS = {
  /** fast deterministic mock: transcripts, enqueue */
  fast: 'demo',
  /** slow mock: a task that is still running when the interaction arrives */
  slow: 'slow',
  /** one slot, one queue place, slow: "the queue is full" */
  busy: 'busy',
  /** "the pool is unready" */
  cold: 'cold',
} as const;

export const TRANSCRIPT = { prompt: 'hello', seed: 7, maxTokens: 3, pool: 'demo', replica: 'mock-0' } as const;

/** Decode timings vary run to run; everything else in a transcript is fixed by (prompt, seed). */
const TIMING_FIELDS = ['queue_wait_ms', 'ttft_ms', 'tokens_per_s', 'decode_time_ms'];

/** The complete SSE transcript of TRANSCRIPT on the mock engine, events after `afterId`, with example timings. */
export function transcript(afterId = 0): string {
  const tokens = mockTokens(TRANSCRIPT.prompt, TRANSCRIPT.seed, TRANSCRIPT.maxTokens);
  const events: [string, Record<string, unknown>][] = [
    ['started', { pool_id: TRANSCRIPT.pool, replica_id: TRANSCRIPT.replica, engine: 'mock', queue_wait_ms: 0 }],
    ...tokens.map((t, i): [string, Record<string, unknown>] => ['token', { t, i }]),
    ['metrics', { tokens_out: tokens.length, ttft_ms: 2, tokens_per_s: 1500.5 }],
    ['end', { tokens_out: tokens.length, decode_time_ms: 2, finish_reason: 'length' }],
  ];
  return events
    .map(([event, data], i) => ({ id: i + 1, event, data }))
    .filter((e) => e.id > afterId)
    .map((e) => `id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`)
    .join('');
}

const escapeRegex = (text: string) => text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

/** An anchored regex (Rust regex syntax, as pact verifies with it) matching `text` with any timing values. */
export function transcriptRegex(text: string): string {
  const HOLE = '\u0000';
  let holed = text;
  for (const field of TIMING_FIELDS) holed = holed.replace(new RegExp(`"${field}":[0-9.]+`, 'g'), `"${field}":${HOLE}`);
  return `^${escapeRegex(holed).replaceAll(HOLE, '[0-9]+(\\.[0-9]+)?')}$`;
}
