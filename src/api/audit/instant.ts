// An audit time bound from the wire: `format: date-time` lets through instants Postgres and
// Date cannot hold (year 0, a leap second, year 10000 after an offset), which the store would
// answer with a failure. Here they are a 400 naming the field (issue 10 finding 10).

import { fail, ok, orchError, type Result } from '../../core/errors.ts';

export function instantOf(value: string, field: string): Result<Date> {
  const at = new Date(value);
  const year = at.getUTCFullYear();
  if (Number.isNaN(at.getTime()) || year < 1 || year > 9999) {
    return fail(orchError('INVALID_PARAMS', `${field} must be an RFC 3339 date-time between years 0001 and 9999`, { field }));
  }
  return ok(at);
}
