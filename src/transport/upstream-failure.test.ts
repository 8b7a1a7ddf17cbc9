import { describe, expect, it } from 'vitest';
import { ERROR_BODY_LIMIT, UpstreamFailure, errorCodeOf, isTransientFailure, parseRetryAfterMs, statusFailure, toUpstreamFailure } from './upstream-failure.ts';

const coded = (code: string) => Object.assign(new Error(code), { code });

describe('toUpstreamFailure', () => {
  it('classifies connect, timeout and reset codes', () => {
    expect(toUpstreamFailure(coded('ECONNREFUSED')).kind).toBe('refused');
    expect(toUpstreamFailure(coded('UND_ERR_CONNECT_TIMEOUT')).kind).toBe('connect-timeout');
    expect(toUpstreamFailure(coded('UND_ERR_HEADERS_TIMEOUT')).kind).toBe('first-byte-timeout');
    expect(toUpstreamFailure(coded('UND_ERR_BODY_TIMEOUT')).kind).toBe('idle-timeout');
    expect(toUpstreamFailure(coded('UND_ERR_SOCKET')).kind).toBe('reset');
    expect(toUpstreamFailure(new Error('no code')).kind).toBe('protocol');
  });

  it('finds a code inside an AggregateError (happy-eyeballs connect) or a cause chain', () => {
    expect(errorCodeOf(new AggregateError([coded('ECONNREFUSED')]))).toBe('ECONNREFUSED');
    expect(toUpstreamFailure(new Error('wrapped', { cause: coded('ECONNRESET') })).kind).toBe('reset');
  });

  it('passes an UpstreamFailure through', () => {
    const f = new UpstreamFailure('truncated', 'x');
    expect(toUpstreamFailure(f)).toBe(f);
  });

  it('treats only resets and timeouts as transient', () => {
    expect(isTransientFailure(new UpstreamFailure('reset', 'x'))).toBe(true);
    expect(isTransientFailure(new UpstreamFailure('refused', 'x'))).toBe(false);
    expect(isTransientFailure(new UpstreamFailure('status', 'x', { status: 503 }))).toBe(false);
    expect(isTransientFailure(new Error('x'))).toBe(false);
  });
});

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2025-01-01T00:00:00Z');
  it('reads delay-seconds and HTTP-dates', () => {
    expect(parseRetryAfterMs('3', now)).toBe(3000);
    expect(parseRetryAfterMs('Wed, 01 Jan 2025 00:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfterMs(['2'], now)).toBe(2000);
  });
  it('is undefined when absent or unreadable, and never negative', () => {
    expect(parseRetryAfterMs(undefined, now)).toBeUndefined();
    expect(parseRetryAfterMs('soon', now)).toBeUndefined();
    expect(parseRetryAfterMs('Tue, 31 Dec 2024 23:59:00 GMT', now)).toBe(0);
  });
});

describe('statusFailure', () => {
  it('keeps the status, the Retry-After hint and only the start of a long body', () => {
    const failure = statusFailure(503, { 'retry-after': '2' }, 'x'.repeat(ERROR_BODY_LIMIT + 100));
    expect(failure).toMatchObject({ kind: 'status', status: 503, retryAfterMs: 2000, message: 'engine answered HTTP 503' });
    expect(failure.bodyText).toHaveLength(ERROR_BODY_LIMIT);
  });

  it('leaves the hint out when Retry-After is absent or unreadable', () => {
    expect(statusFailure(429, {}, '').retryAfterMs).toBeUndefined();
    expect(statusFailure(429, { 'retry-after': 'later' }, '').retryAfterMs).toBeUndefined();
  });
});
