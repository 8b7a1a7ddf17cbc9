import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveCredential } from './credentials.ts';

const SECRET = 'sk-planted-secret-123';

describe('resolveCredential', () => {
  it('reads a key from the environment and trims it', async () => {
    expect(await resolveCredential({ env: 'KEY' }, { KEY: ` ${SECRET}\n` })).toEqual({ ok: true, value: SECRET });
  });

  it('reads a key from a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cred-'));
    writeFileSync(join(dir, 'key'), `${SECRET}\n`);
    expect(await resolveCredential({ file: join(dir, 'key') })).toEqual({ ok: true, value: SECRET });
  });

  it.each([
    ['an unset variable', { env: 'MISSING_KEY' }, {}, 'environment variable MISSING_KEY is not set'],
    ['an empty variable', { env: 'EMPTY' }, { EMPTY: '  ' }, 'environment variable EMPTY is not set'],
    ['a missing file', { file: '/nonexistent/orchqueue-key' }, {}, 'file /nonexistent/orchqueue-key cannot be read'],
  ])('names %s in its reason, never a value', async (_t, ref, env, reason) => {
    const out = await resolveCredential(ref, env);
    expect(out).toEqual({ ok: false, reason: `the API key ${reason}` });
  });
});
