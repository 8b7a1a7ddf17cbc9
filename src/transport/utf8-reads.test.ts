import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../test/support/seeded-random.ts';
import { Utf8Reads } from './utf8-reads.ts';

/** What TextDecoder makes of the same reads: the reference Utf8Reads must match. */
function viaTextDecoder(reads: Uint8Array[]): string {
  const decoder = new TextDecoder('utf-8');
  return reads.map((r) => decoder.decode(r, { stream: true })).join('') + decoder.decode();
}

function viaUtf8Reads(reads: Uint8Array[]): string {
  const decoder = new Utf8Reads();
  return reads.map((r) => decoder.decode(r)).join('') + decoder.end();
}

const text = '\ufeffdata: {"t":"h\u00e9llo \u{1F600} \u65e5\u672c \u{1D11E}"}\n\n';
const bytes = new TextEncoder().encode(text);

describe('Utf8Reads', () => {
  it('decodes a text cut at every byte boundary as TextDecoder does, dropping the leading BOM', () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      const reads = [bytes.subarray(0, cut), bytes.subarray(cut)];
      expect(viaUtf8Reads(reads)).toBe(text.slice(1));
      expect(viaUtf8Reads(reads)).toBe(viaTextDecoder(reads));
    }
  });

  it('decodes one byte at a time, and keeps a BOM that does not open the text', () => {
    const later = new TextEncoder().encode('a\ufeffb');
    expect(viaUtf8Reads(Array.from(later, (_, i) => later.subarray(i, i + 1)))).toBe('a\ufeffb');
    expect(viaUtf8Reads(Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)))).toBe(text.slice(1));
  });

  it('turns malformed and unfinished sequences into U+FFFD as TextDecoder does, wherever the reads are cut', () => {
    const random = seededRandom(14);
    const alphabet = [0x41, 0x0a, 0x80, 0xbf, 0xc2, 0xc0, 0xe0, 0xe2, 0xed, 0xa0, 0xf0, 0xf4, 0xf5, 0x9f, 0x98, 0xff, 0xef, 0xbb];
    for (let round = 0; round < 3000; round++) {
      const all = Uint8Array.from({ length: 1 + Math.floor(random() * 12) }, () => alphabet[Math.floor(random() * alphabet.length)] as number);
      const reads: Uint8Array[] = [];
      for (let at = 0; at < all.length; ) {
        const next = Math.min(all.length, at + 1 + Math.floor(random() * 4));
        reads.push(all.subarray(at, next));
        at = next;
      }
      expect(viaUtf8Reads(reads), `seed 14 round ${round}: ${Array.from(all).join(',')}`).toBe(viaTextDecoder(reads));
    }
  });
});
