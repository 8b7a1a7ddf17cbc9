// API key material (ORCH-1202): 32 random bytes, shown once, stored only as sha256. A slow KDF
// (bcrypt, scrypt, argon2) protects low-entropy passwords from guessing; a 256-bit random key
// cannot be guessed, so a fast hash loses nothing, and it keeps the per-request lookup a single
// hash and a map read. The display prefix identifies a key in listings without revealing it.

import { createHash, randomBytes } from 'node:crypto';

export const KEY_PREFIX = 'oq_';

export interface KeyMaterial {
  /** The key itself: returned once at creation, never stored or logged. */
  secret: string;
  hash: string;
  /** The first characters, for operators to tell keys apart. */
  prefix: string;
}

export const hashKey = (secret: string): string => createHash('sha256').update(secret).digest('hex');

export function newKeyMaterial(): KeyMaterial {
  const secret = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { secret, hash: hashKey(secret), prefix: secret.slice(0, KEY_PREFIX.length + 6) };
}
