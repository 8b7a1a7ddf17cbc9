// The fake TGI's deterministic "model": the same (prompt, seed) always yields the same tokens,
// a different seed changes them. The vocabulary is mostly non-ASCII on purpose so split writes
// cut UTF-8 sequences (2-, 3- and 4-byte) in every stream.

export interface TgiFakeToken {
  id: number;
  text: string;
  logprob: number;
  special: boolean;
}

const VOCABULARY = [' the', ' queue', ' é', ' 東京', ' 🙂', ' naïve', ' ß', ' token', ' stream', '—', ' Ω', ' ok', ' ✓', ' 𝄞', ',', '.'];

/** TGI's final event for an EOS stop carries this special token; it adds no text. */
export const TGI_EOS: TgiFakeToken = { id: 2, text: '</s>', logprob: -0.125, special: true };

/** FNV-1a over the prompt mixed with the seed, stepped by mulberry32. */
export function tgiFakeTokens(prompt: string, seed: number | undefined, count: number): TgiFakeToken[] {
  let h = 0x811c9dc5 ^ ((seed ?? 0) >>> 0);
  for (let i = 0; i < prompt.length; i++) h = Math.imul(h ^ prompt.charCodeAt(i), 0x01000193);
  let state = h >>> 0;
  const out: TgiFakeToken[] = [];
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const pick = ((t ^ (t >>> 14)) >>> 0) % VOCABULARY.length;
    out.push({ id: 1000 + pick, text: VOCABULARY[pick] as string, logprob: -((pick % 7) + 1) / 8, special: false });
  }
  return out;
}

/** A stand-in tokenizer length: one token per four UTF-8 bytes, at least one. */
export function tgiInputLength(prompt: string): number {
  return Math.max(1, Math.ceil(Buffer.byteLength(prompt, 'utf8') / 4));
}
