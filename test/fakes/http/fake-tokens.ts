// Deterministic "model" for engine fakes: the token stream is a pure function of (prompt, seed),
// so two fake replicas give byte-identical output for one seed and another seed changes it.
// The vocabulary mixes ASCII with 2-, 3- and 4-byte UTF-8 so chunk splits land inside sequences.

/** Token pieces; ids are index + 1 (0 is reserved as end-of-sequence). */
export const FAKE_VOCAB: readonly string[] = [
  ' the', ' quick', ' brown', ' fox', ' jumps', ' over', ' lazy', ' dog', ' and', ' then',
  ' café', ' naïve', ' über', ' façade', ' ñandú', ' Ωmega', ' λ', ' жук',
  ' 日本', ' 語', ' 東京', ' 🙂', ' 🚀', ' 𝄞', ',', '.', ' it', ' was',
];

const CODEPOINT_ID_BASE = 100_000;

/** FNV-1a over UTF-16 code units: cheap, stable, good enough to spread prompts. */
function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** mulberry32: a tiny PRNG whose whole state is one 32-bit word. */
function mulberry32(state: number): () => number {
  let s = state >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FakeToken {
  id: number;
  piece: string;
}

/** Infinite deterministic token stream for (prompt, seed). */
export function* fakeTokenStream(prompt: string, seed: number): Generator<FakeToken, never, undefined> {
  const high = Math.floor(seed / 4294967296) >>> 0;
  const next = mulberry32(hashString(prompt) ^ Math.imul(seed >>> 0, 0x9e3779b1) ^ high);
  for (;;) {
    const index = Math.floor(next() * FAKE_VOCAB.length);
    yield { id: index + 1, piece: FAKE_VOCAB[index] as string };
  }
}

/** The first `count` token pieces the fakes generate for (prompt, seed) — what the determinism suite compares. */
export function fakeCompletion(prompt: string, seed: number, count: number): string[] {
  const pieces: string[] = [];
  const stream = fakeTokenStream(prompt, seed);
  for (let i = 0; i < count; i++) pieces.push(stream.next().value.piece);
  return pieces;
}

const BY_LENGTH = FAKE_VOCAB.map((piece, i) => ({ piece, id: i + 1 })).sort((a, b) => b.piece.length - a.piece.length);

/**
 * Toy tokenizer consistent with generation: greedy longest vocabulary match, else one token per
 * code point. Generated text re-tokenizes to the same ids, so a follow-up prompt that repeats a
 * previous prompt and answer shares a real token prefix with the slot's cache.
 */
export function fakeTokenize(text: string): number[] {
  const ids: number[] = [];
  let pos = 0;
  outer: while (pos < text.length) {
    for (const entry of BY_LENGTH) {
      if (text.startsWith(entry.piece, pos)) {
        ids.push(entry.id);
        pos += entry.piece.length;
        continue outer;
      }
    }
    const cp = text.codePointAt(pos) as number;
    ids.push(CODEPOINT_ID_BASE + cp);
    pos += cp > 0xffff ? 2 : 1;
  }
  return ids;
}

export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}
