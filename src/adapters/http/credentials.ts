// Provider credentials by reference, never inline (issue 13): `api_key: { env: NAME }` or
// `{ file: path }` in a replica's options. Resolved when used (probe, stream), so a rotated file
// or a late-set variable is picked up; a missing one makes the replica unready with a reason
// that names the reference, never the value.

import { readFile } from 'node:fs/promises';
import { Type, type Static } from '@sinclair/typebox';

export const CredentialRefSchema = Type.Union([
  Type.Object({ env: Type.String({ minLength: 1, pattern: '^[A-Za-z_][A-Za-z0-9_]*$', description: 'environment variable holding the key' }) }, { additionalProperties: false }),
  Type.Object({ file: Type.String({ minLength: 1, description: 'file holding the key (trailing newline ignored)' }) }, { additionalProperties: false }),
]);
export type CredentialRef = Static<typeof CredentialRefSchema>;

export type Credential = { ok: true; value: string } | { ok: false; reason: string };

/** Where a credential comes from, for messages: never the secret itself. */
export const describeRef = (ref: CredentialRef): string => ('env' in ref ? `environment variable ${ref.env}` : `file ${ref.file}`);

export async function resolveCredential(ref: CredentialRef, env: Readonly<Record<string, string | undefined>> = process.env): Promise<Credential> {
  if ('env' in ref) {
    const value = env[ref.env];
    return value !== undefined && value.trim() !== '' ? { ok: true, value: value.trim() } : { ok: false, reason: `the API key ${describeRef(ref)} is not set` };
  }
  try {
    const value = (await readFile(ref.file, 'utf8')).trim();
    return value !== '' ? { ok: true, value } : { ok: false, reason: `the API key ${describeRef(ref)} is empty` };
  } catch {
    return { ok: false, reason: `the API key ${describeRef(ref)} cannot be read` };
  }
}
