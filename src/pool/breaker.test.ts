import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from './breaker.ts';

describe('CircuitBreaker', () => {
  // ORCH-0502
  it('opens after consecutive failures, half-opens after the wait, closes on success', () => {
    const b = new CircuitBreaker({ failures: 2, openMs: 100 });
    b.failure(0);
    expect(b.state(0)).toBe('closed');
    b.failure(1);
    expect(b.state(50)).toBe('open');
    expect(b.state(101)).toBe('half_open');
    b.success();
    expect(b.state(102)).toBe('closed');
  });

  it('re-opens at once when the half-open trial fails', () => {
    const b = new CircuitBreaker({ failures: 3, openMs: 10 });
    for (let i = 0; i < 3; i++) b.failure(0);
    expect(b.state(10)).toBe('half_open');
    b.failure(10);
    expect(b.state(11)).toBe('open');
  });

  it('a success resets the failure count', () => {
    const b = new CircuitBreaker({ failures: 2, openMs: 10 });
    b.failure(0);
    b.success();
    b.failure(0);
    expect(b.state(0)).toBe('closed');
  });

  // ORCH-0502
  it('lets exactly one half-open trial through; a lost trial frees another after the wait', () => {
    const b = new CircuitBreaker({ failures: 1, openMs: 100 });
    expect(b.failure(0)).toBe(true);
    expect(b.state(100)).toBe('half_open');
    b.leased(100);
    expect(b.state(150)).toBe('open');
    expect(b.state(200)).toBe('half_open');
    b.leased(200);
    b.success();
    expect(b.state(201)).toBe('closed');
    b.leased(201);
    expect(b.state(202)).toBe('closed');
  });

  it('says when a failure opened it, so callers can wake up after the wait', () => {
    const b = new CircuitBreaker({ failures: 2, openMs: 50 });
    expect(b.failure(0)).toBe(false);
    expect(b.failure(1)).toBe(true);
    expect(b.waitMs).toBe(50);
  });

  it('closes on a successful probe only once half-open, and stays on probation: one more failure re-opens it', () => {
    const b = new CircuitBreaker({ failures: 3, openMs: 100 });
    for (let i = 0; i < 3; i++) b.failure(0);
    b.probeSucceeded(50);
    expect(b.state(50)).toBe('open');
    b.probeSucceeded(100);
    expect(b.state(100)).toBe('closed');
    expect(b.failure(101)).toBe(true);
    expect(b.state(102)).toBe('open');
  });

  it('leaves a closed breaker and its failure count alone on a successful probe', () => {
    const b = new CircuitBreaker({ failures: 3, openMs: 100 });
    b.failure(0);
    b.probeSucceeded(1);
    expect(b.failure(2)).toBe(false);
    expect(b.failure(3)).toBe(true);
  });

  it('reports the time left before the half-open trial, and 0 when not open', () => {
    const b = new CircuitBreaker({ failures: 1, openMs: 100 });
    expect(b.remainingOpenMs(0)).toBe(0);
    b.failure(10);
    expect(b.remainingOpenMs(40)).toBe(70);
    expect(b.remainingOpenMs(110)).toBe(0);
  });
});
