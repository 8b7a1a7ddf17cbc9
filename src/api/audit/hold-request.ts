// Turns a validated hold request body into exactly one hold scope, or an INVALID_PARAMS error
// naming the field at fault. The schema checks types; the one-scope rule is checked here so the
// error can name a field instead of quoting a oneOf failure.

import { fail, ok, orchError, type Result } from '../../core/errors.ts';
import type { HoldScope } from '../../audit/store.ts';
import type { components } from '../../generated/api-types.ts';
import { instantOf } from './instant.ts';

/** The body as the contract's schema (AuditHoldRequest) has already validated it. */
export type HoldRequestBody = components['schemas']['AuditHoldRequest'];

const ONE_SCOPE = 'a hold needs exactly one scope: task_id, session_id, or from with to';

export function holdScopeOf(body: HoldRequestBody): Result<HoldScope> {
  const given = [
    body.task_id === undefined ? null : 'task_id',
    body.session_id === undefined ? null : 'session_id',
    body.from === undefined && body.to === undefined ? null : 'from',
  ].filter((name): name is string => name !== null);
  if (given.length !== 1) return fail(orchError('INVALID_PARAMS', ONE_SCOPE, { field: given[1] ?? 'task_id' }));
  if (body.task_id !== undefined) return ok({ task_id: body.task_id });
  if (body.session_id !== undefined) return ok({ session_id: body.session_id });
  if (body.from === undefined) return fail(orchError('INVALID_PARAMS', 'a time range needs both from and to', { field: 'from' }));
  if (body.to === undefined) return fail(orchError('INVALID_PARAMS', 'a time range needs both from and to', { field: 'to' }));
  const fromAt = instantOf(body.from, 'from');
  if (!fromAt.ok) return fromAt;
  const toAt = instantOf(body.to, 'to');
  if (!toAt.ok) return toAt;
  const from = fromAt.value;
  const to = toAt.value;
  if (!(from.getTime() < to.getTime())) return fail(orchError('INVALID_PARAMS', 'to must be later than from', { field: 'to' }));
  return ok({ from_at: from, to_at: to });
}
