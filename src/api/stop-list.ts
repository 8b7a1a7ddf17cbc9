// Stop sequences as both dialects send them (OpenAI `stop`: a string or a list; Anthropic
// `stop_sequences`: a list) → one list; an empty sequence is refused, naming its index.

import { fail, ok, orchError, type Result } from '../core/errors.ts';

export function stopOf(stop: string | string[] | null | undefined, field = 'stop'): Result<string[]> {
  if (stop === undefined || stop === null) return ok([]);
  const list = typeof stop === 'string' ? [stop] : stop;
  const empty = list.findIndex((s) => s.length === 0);
  if (empty < 0) return ok(list);
  const at = typeof stop === 'string' ? field : `${field}[${empty}]`;
  return fail(orchError('INVALID_PARAMS', `${at} must not be empty`, { field: at }));
}
