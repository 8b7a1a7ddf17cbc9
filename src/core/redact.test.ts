import { describe, expect, it } from 'vitest';
import { REDACTED, redactCredentials } from './redact.ts';

describe('redactCredentials', () => {
  it('removes the userinfo of a URL and keeps host, port and path', () => {
    expect(redactCredentials('http://admin:s3cret@10.0.0.5:8000/v1')).toBe(`http://${REDACTED}@10.0.0.5:8000/v1`);
    expect(redactCredentials('postgres://orch:pw@db:5432/audit?sslmode=require')).toBe(`postgres://${REDACTED}@db:5432/audit?sslmode=require`);
  });

  it.each(['token', 'key', 'api_key', 'apikey', 'API-Key', 'secret', 'client_secret', 'password', 'sig', 'signature', 'access_token', 'X-Amz-Signature'])(
    'redacts the %s query parameter',
    (name) => {
      expect(redactCredentials(`https://h/p?model=m&${name}=abc123&x=1`)).toBe(`https://h/p?model=m&${name}=${REDACTED}&x=1`);
    },
  );

  it('leaves URLs and text without credentials untouched', () => {
    for (const text of ['http://10.0.0.5:8000', 'https://h/p?model=m&limit=10', 'connect ECONNREFUSED 127.0.0.1:5432', 'a = b']) {
      expect(redactCredentials(text)).toBe(text);
    }
  });

  it('redacts URLs inside a longer message, as an error message holds them', () => {
    expect(redactCredentials('fetch http://u:p@e:1/x?token=t failed: refused')).toBe(`fetch http://${REDACTED}@e:1/x?token=${REDACTED} failed: refused`);
  });
});
