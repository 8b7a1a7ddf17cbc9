// The one credential redaction for anything shown (API answers, log lines, error messages):
// URL userinfo (`user:password@`) and query parameters whose name says secret. Issue 10
// finding 11. Pure string work, so every layer can use it.

export const REDACTED = '[REDACTED]';

const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^/@\s?#]+@/gi;
const QUERY_PARAM = /([?&;])([^=&#;\s]+)=([^&#;\s]*)/g;

/** Parameter names that carry a secret, compared lower-case without `-` and `_`. */
const SECRET_PARAM_EXACT = new Set(['key', 'sig', 'signature', 'auth', 'code', 'pass', 'pwd', 'credential', 'credentials', 'session']);
const SECRET_PARAM_SUFFIX = ['token', 'apikey', 'secret', 'password', 'passwd', 'signature', 'sig', 'key'];

export function isSecretParam(name: string): boolean {
  let n = name.toLowerCase().replace(/[-_]/g, '');
  try {
    n = decodeURIComponent(n);
  } catch {
    // a malformed escape stays as written; still compared
  }
  return SECRET_PARAM_EXACT.has(n) || SECRET_PARAM_SUFFIX.some((s) => n.endsWith(s));
}

/** Removes credentials from any text that may hold URLs; text without them is returned as is. */
export function redactCredentials(text: string): string {
  if (!text.includes('@') && !text.includes('=')) return text;
  return text
    .replace(URL_USERINFO, `$1${REDACTED}@`)
    .replace(QUERY_PARAM, (whole, sep: string, name: string) => (isSecretParam(name) ? `${sep}${name}=${REDACTED}` : whole));
}
