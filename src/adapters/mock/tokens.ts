// Deterministic token source of the built-in mock engine: the same (prompt, seed) always gives
// the same token sequence, on every replica and every run; a different seed changes it.

const VOCABULARY = [
  ' the', ' a', ' queue', ' token', ' stream', ' gateway', ' engine', ' replica', ' fair', ' slot',
  ' and', ' of', ' to', ' is', ' runs', ' waits', ' ends', ' léger', ' naïve', ' 東京',
  ' ✓', ' data', ' model', ' cache', ' warm', ' cold', ' fast', ' slow', ',', '.',
];

/** FNV-1a over the UTF-16 code units of the prompt, mixed with the seed. */
export function seedFor(prompt: string, seed: number | undefined): number {
  let h = 0x811c9dc5 ^ ((seed ?? 0) >>> 0);
  for (let i = 0; i < prompt.length; i++) {
    h ^= prompt.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a tiny, well-distributed 32-bit PRNG; returns the next state and value. */
export function nextToken(state: number): { state: number; text: string } {
  const next = (state + 0x6d2b79f5) >>> 0;
  let t = next;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  const value = ((t ^ (t >>> 14)) >>> 0) % VOCABULARY.length;
  return { state: next, text: VOCABULARY[value] as string };
}

/** The whole token sequence, for tests and the determinism suite. */
export function mockTokens(prompt: string, seed: number | undefined, count: number): string[] {
  const out: string[] = [];
  let state = seedFor(prompt, seed);
  for (let i = 0; i < count; i++) {
    const step = nextToken(state);
    state = step.state;
    out.push(step.text);
  }
  return out;
}
