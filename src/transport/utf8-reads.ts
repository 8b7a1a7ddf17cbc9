// Decodes a body's reads as one UTF-8 text, what `TextDecoder.decode(read, { stream: true })`
// gives: a sequence cut between reads waits for its rest, a leading BOM is dropped, malformed
// bytes become U+FFFD. Each read is sliced by Buffer's native decoder instead, which costs
// about half as much for the short reads of a token stream (issue 14: one per token).

/** Bytes a UTF-8 sequence starting with `lead` spans (1 for ASCII and for bytes that lead none). */
function sequenceLength(lead: number): number {
  if (lead >= 0xf0) return lead < 0xf8 ? 4 : 1;
  if (lead >= 0xe0) return 3;
  return lead >= 0xc0 ? 2 : 1;
}

/** Where the last complete sequence of `bytes` ends: before a sequence the read cut short. */
function completeEnd(bytes: Uint8Array): number {
  const n = bytes.length;
  if (n === 0 || (bytes[n - 1] as number) < 0x80) return n;
  // Back over at most three continuation bytes (10xxxxxx) to the byte that leads them.
  let lead = n - 1;
  while (lead > 0 && n - lead < 4 && ((bytes[lead] as number) & 0xc0) === 0x80) lead--;
  return n - lead < sequenceLength(bytes[lead] as number) ? lead : n;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export class Utf8Reads {
  /** The start of a sequence the last read cut (a copy: the read's memory may be reused). */
  private held: Buffer | undefined;
  private started = false;

  /** The text of `read`, with any sequence it leaves unfinished held for the next read. */
  decode(read: Uint8Array): string {
    let bytes = asBuffer(read);
    if (this.held !== undefined) {
      bytes = Buffer.concat([this.held, bytes]);
      this.held = undefined;
    }
    const end = completeEnd(bytes);
    if (end < bytes.length) this.held = Buffer.from(bytes.subarray(end));
    return this.text(end === bytes.length ? bytes.toString() : bytes.toString('utf8', 0, end));
  }

  /** The body ended: a sequence still held is malformed (U+FFFD), as TextDecoder ends it. */
  end(): string {
    const held = this.held;
    this.held = undefined;
    return held === undefined ? '' : this.text(held.toString());
  }

  /** A byte order mark opening the text is not part of it (WHATWG Encoding, UTF-8 decode). */
  private text(decoded: string): string {
    if (this.started || decoded.length === 0) return decoded;
    this.started = true;
    return decoded.charCodeAt(0) === 0xfeff ? decoded.slice(1) : decoded;
  }
}
