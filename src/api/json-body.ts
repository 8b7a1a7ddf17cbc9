// Request body parsing: JSON only, strict UTF-8. A body with invalid UTF-8 is refused naming
// the field that holds the bad bytes (issue 10 finding 10) instead of being decoded with
// U+FFFD substitutes and passed on; bodiless POSTs with or without a Content-Type are accepted.

import type { FastifyInstance } from 'fastify';
import { orchError, type OrchError } from '../core/errors.ts';
import { RequestRefusal } from './errors.ts';

const REPLACEMENT = '\uFFFD';

/** The path (`messages[2].content`) of the first string holding a replacement character, if any. */
function fieldWithReplacement(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return value.includes(REPLACEMENT) ? path || undefined : undefined;
  if (value === null || typeof value !== 'object') return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = fieldWithReplacement(value[i], `${path}[${i}]`);
      if (found !== undefined) return found;
    }
    return undefined;
  }
  for (const [key, item] of Object.entries(value)) {
    const found = fieldWithReplacement(item, path ? `${path}.${key}` : key);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** Where the bad bytes are: decoded leniently, they became U+FFFD in some string field. */
export function invalidUtf8Error(body: Buffer): OrchError {
  let field: string | undefined;
  try {
    field = fieldWithReplacement(JSON.parse(body.toString('utf8')));
  } catch {
    field = undefined;
  }
  return orchError('INVALID_PARAMS', `${field ?? 'the request body'} is not valid UTF-8`, field ? { field } : {});
}

export function installJsonParsers(app: FastifyInstance): void {
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  const parseJson = app.getDefaultJsonParser('error', 'error');
  // Bodiless POSTs (cancel, reload) often still say Content-Type: application/json.
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, body, done) => {
    const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      return done(new RequestRefusal(invalidUtf8Error(bytes)), undefined);
    }
    if (text === '') return done(null, undefined);
    parseJson(req, text, done);
  });
  // A bodiless POST may arrive chunked with no Content-Type at all (curl -H 'transfer-encoding:
  // chunked', some HTTP clients' cancel): accept it when empty, refuse any real non-JSON body.
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    if (body.length === 0) return done(null, undefined);
    done(Object.assign(new Error('Content-Type must be application/json'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 }), undefined);
  });
}
