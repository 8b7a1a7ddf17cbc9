// A shared-state failure as a client sees it: STATE_UNAVAILABLE (503, retriable) with the
// backend's retry hint; replica-level codes never leak to a client.

import { describe, expect, it } from 'vitest';
import { ERROR_TABLE } from '../core/errors.ts';
import { StateError, toOrchError, unavailable } from './state-errors.ts';

describe('toOrchError', () => {
  it('renders an unreachable backend as STATE_UNAVAILABLE, 503 and retriable, with the retry hint', () => {
    const error = toOrchError(unavailable('admit', new Error('Connection is closed.')));
    expect(error).toEqual({ code: 'STATE_UNAVAILABLE', message: 'shared state is unavailable; retry later', retriable: true, retry_after_ms: 1_000 });
    expect(ERROR_TABLE[error.code]).toEqual({ status: 503, retriable: true });
  });

  it('never names the cause (it may carry a host) and renders replica-level codes as INTERNAL', () => {
    expect(toOrchError(unavailable('admit', new Error('connect ECONNREFUSED 10.0.0.7:6379'))).message).not.toMatch(/10\.0\.0\.7/);
    expect(toOrchError(new StateError('LEASE_LOST', 'lease gone')).code).toBe('INTERNAL');
  });
});
